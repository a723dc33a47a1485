"""The card's timeline: when and where each interest was asked, visits and purchases, and their forms."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import streamlit as st

from dashboard.format import date as ddmmyyyy
from dashboard.format import days_ago, money, plain
from dashboard.state import Context
from services import recording
from services.interests import InvalidBatch, InvalidTime
from services.profile import Profile
from services.recording import InvalidPurchase
from services.store.base import StoreError
from services.timeline import COMPRA, CONVERSA, INTERESSE, RETORNO, VISITA, Event

SOURCE_LABELS = {"whatsapp": "WhatsApp", "loja": "na loja", "importacao": "importação"}
KIND_LABELS = {
    INTERESSE: "Perguntou por", RETORNO: "Voltou a perguntar por", CONVERSA: "Respondeu no WhatsApp",
    VISITA: "Visitou a loja", COMPRA: "Comprou",
}
FLASH_KEY = "clientes_flash"
SHOWN = 30


def when(moment: datetime, now: datetime) -> str:
    """``"há 3 dias"`` within a month, else the date (``"12/03/2026"``)."""
    return days_ago(moment, now) if (now - moment).days < 31 else ddmmyyyy(moment)


def lines(events: list[Event], now: datetime) -> list[str]:
    """The customer's events as the card lists them, newest first (plain text, not yet escaped).

    Example: ``"há 3 dias · WhatsApp — Perguntou por Submariner, Daytona"``.
    """
    out = []
    for event in events:
        what = KIND_LABELS.get(event.kind, event.kind)
        if event.products:
            items = ", ".join(event.products)
            what += f" ({items})" if event.kind == VISITA else f" {items}"
        if event.value_brl is not None:
            what += f" ({money(event.value_brl)})"
        out.append(f"{when(event.at, now)} · {SOURCE_LABELS.get(event.source, event.source)} — {what}")
    return out


def section(profile: Profile, ctx: Context) -> None:
    """Each interest with when and where it was asked, and the visits and purchases, newest first."""
    # A phone held by two records (with and without the ninth digit) is one customer: one timeline.
    events = sorted((event for record in (profile.records or (profile.id,))
                     for event in ctx.repository.events.for_customer(record, limit=SHOWN + 1)),
                    key=lambda event: event.at, reverse=True)
    since = ctx.repository.events.since()
    st.markdown("**Linha do tempo** (o mais recente primeiro)")
    if events:
        with st.container(key="clientes_timeline", height=min(40 + 34 * min(len(events), SHOWN), 420),
                          border=False):
            st.markdown("\n".join(f"- {plain(line)}" for line in lines(events[:SHOWN], ctx.now)))
        if len(events) > SHOWN:
            st.caption(f"Os {SHOWN} eventos mais recentes.")
    else:
        st.caption("Nenhum evento datado ainda.")
    if since is not None:
        st.caption(f"Interesses registrados antes de {ddmmyyyy(since)} (a primeira sincronização) "
                   "não têm data: aparecem no histórico, não aqui.")
    if ctx.repository.keeps_visits_locally():
        st.caption("Visitas e compras ficam guardadas só neste computador: a base Airtable não tem "
                   "tabelas para elas.")


def visit_and_purchase_forms(ctx: Context, profile: Profile, key: str = "clientes") -> None:
    """"Registrar visita" and "Registrar compra" (product from the catalog, value in R$, date)."""
    if not profile.phone:
        return
    visit, purchase = st.columns(2)
    with visit, st.form(f"{key}_visit_form", border=True):
        st.markdown("**Registrar visita**")
        day = st.date_input("Data", value=ctx.now.date(), format="DD/MM/YYYY", key=f"{key}_visit_day",
                            max_value=ctx.now.date())
        if st.form_submit_button("Registrar visita", icon=":material/storefront:"):
            _save(lambda: recording.record_visit(ctx.repository, ctx.allowed, profile.store,
                                                 profile.phone, _moment(day, ctx.now)),
                  f"Visita registrada em {ddmmyyyy(_moment(day, ctx.now))}.")
    with purchase, st.form(f"{key}_purchase_form", border=True):
        st.markdown("**Registrar compra**")
        titles = sorted(ctx.data.products["title"].dropna().astype(str).unique().tolist(), key=str.casefold)
        recent = [item.title for item in profile.recent]
        product = st.selectbox("Produto", options=[*recent, *[t for t in titles if t not in recent]],
                               key=f"{key}_purchase_product", accept_new_options=True,
                               placeholder="Escolha ou digite o produto", index=None)
        value = st.number_input("Valor (R$)", min_value=0.0, step=100.0, format="%.2f",
                                key=f"{key}_purchase_value")
        day = st.date_input("Data", value=ctx.now.date(), format="DD/MM/YYYY",
                            key=f"{key}_purchase_day", max_value=ctx.now.date())
        if st.form_submit_button("Registrar compra", icon=":material/shopping_bag:"):
            _save(lambda: recording.record_purchase(ctx.repository, ctx.allowed, profile.store,
                                                    profile.phone, product or "", value,
                                                    _moment(day, ctx.now)),
                  f"Compra registrada: {product} por {money(value)}.")


def _moment(day: date, now: datetime) -> datetime:
    """Today means now; an earlier day means noon of that day (the hour is not asked)."""
    if day == now.date():
        return now
    return datetime.combine(day, time(12), tzinfo=UTC)


def _save(write, done: str) -> None:
    try:
        write()
    except (InvalidBatch, InvalidPurchase, InvalidTime, StoreError, ValueError) as error:
        st.error(plain(str(error)), icon=":material/error:")
        return
    st.session_state[FLASH_KEY] = done
    st.rerun()
