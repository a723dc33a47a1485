"""The data-source panel: how fresh the Airtable mirror is, a refresh button, and the last fault."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from dashboard.format import age
from services.interests import now_utc
from services.source import Source
from services.store.base import StoreError

# The Airtable modules load only with a base: pyairtable alone takes most of a second to
# import, which the demo's first page would otherwise wait for.
if TYPE_CHECKING:
    from services.store.airtable import AirtableStore
    from services.store.airtable.sync import Progress, SyncReport

_FIRST_FAILED = "_first_sync_failed"


def show(source: Source, key: str = "fonte") -> None:
    """Draw the panel of an Airtable-backed store (nothing for the demo).

    The first visit fills an empty mirror (a full sync with a progress bar);
    afterwards the button runs an incremental sync. A fault leaves the last
    good mirror on screen, under a banner that says what went wrong.
    """
    if not source.is_mirror:
        return
    store: AirtableStore = source.repository  # type: ignore[assignment]
    from services.store.airtable.sync import is_current, last_error

    if not is_current(store):
        _first_sync(store, key)  # stops the run when it fails: there is no mirror to show
    if st.button("Atualizar agora", key=f"{key}_atualizar", icon=":material/refresh:", width="stretch",
                 help="Busca no Airtable os clientes alterados desde a última atualização."):
        _run(store, full=False, key=key)
    seconds = _age_seconds(store)
    st.caption(f"Airtable · atualizado {age(seconds)}")
    fault = last_error(store)
    if fault:
        st.warning(f"{fault}\n\nMostrando a cópia local, atualizada {age(seconds)}.",
                   icon=":material/warning:")
    done = st.session_state.pop(f"{key}_resumo", None)
    if done:
        st.caption(done)


def _age_seconds(store: AirtableStore) -> float | None:
    from services.store.airtable.sync import mirror_age

    elapsed = mirror_age(store, now_utc())
    return max(elapsed.total_seconds(), 0.0) if elapsed is not None else None


def _first_sync(store: AirtableStore, key: str) -> None:
    from services.store.airtable.sync import last_error

    failed = st.session_state.get(f"{key}{_FIRST_FAILED}")
    retry_shown = failed is not None
    if not retry_shown or st.button("Tentar de novo", key=f"{key}_tentar", icon=":material/refresh:"):
        st.info("Primeira leitura da base Airtable: copiando os clientes para este computador.",
                icon=":material/hourglass_top:")
        if _run(store, full=True, key=key) is not None:
            st.session_state.pop(f"{key}{_FIRST_FAILED}", None)
            st.session_state.pop(f"{key}_resumo", None)
            return
        failed = st.session_state[f"{key}{_FIRST_FAILED}"] = last_error(store) or "falha desconhecida."
    st.error(f"Não foi possível ler a base Airtable: {failed}", icon=":material/error:")
    if not retry_shown:
        st.button("Tentar de novo", key=f"{key}_tentar", icon=":material/refresh:")
    st.stop()


def _run(store: AirtableStore, *, full: bool, key: str) -> SyncReport | None:
    from services.store.airtable.sync import sync

    bar = st.progress(0.0, text="Conectando ao Airtable…")

    def progress(step: Progress) -> None:
        fraction = step.fraction
        bar.progress(fraction if fraction is not None else 0.0, text=step.message)

    try:
        report = sync(store, full=full, progress=progress)
    except StoreError:
        bar.empty()
        return None  # the fault is in the meta: the banner shows it
    bar.empty()
    st.session_state[f"{key}_resumo"] = report.summary()
    return report
