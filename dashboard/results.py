"""Resultados (SPEC §12): which campaign (or every one of a period), the window, the outcomes per tier
and group with their intervals, the lift over the control group, the readings and the funnel."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import charts, state
from dashboard.campaign_save import campaign_store, label
from dashboard.format import date as ddmmyyyy
from dashboard.format import money, number
from dashboard.state import Context
from services.campaign_results import (
    DEFAULT_WINDOW_DAYS,
    FUNNEL,
    NO_CLEAR_DIFFERENCE,
    OUTCOMES,
    funnel,
    outcomes,
    period_results,
    reading,
)
from services.campaigns import CONTROLE, ENVIO, Campaign
from services.segments import PRIMARY, SECONDARY, TIER_LABELS
from services.store.campaigns import CampaignStore
from services.wording import percent

PAGES = Path(__file__).resolve().parents[1] / "pages"
#: The pages, as ``st.page_link`` takes them (the paths ``dashboard/app.py`` registers).
RESULTS_PAGE = str(PAGES / "resultados.py")
CAMPAIGNS_PAGE = str(PAGES / "campanhas.py")
PERIOD = "periodo"
PERIOD_DAYS = 90
MAX_WINDOW = 90
GROUP_LABELS = {ENVIO: "envio", CONTROLE: "controle"}
OUTCOME_LABELS = {"respondeu": "Respondeu", "perguntou": "Perguntou", "visitou": "Visitou",
                  "comprou": "Comprou"}
OPEN_NOTE = ("“Abertura” é medida como resposta: a base não guarda as confirmações de leitura do "
             "WhatsApp. Cada resposta, pergunta, visita ou compra conta uma vez por cliente, dentro da "
             "janela depois do envio, e vale para a última campanha que o cliente recebeu antes dela "
             "(envio ou controle).")


def visible(ctx: Context) -> list[Campaign]:
    """The saved campaigns of the chosen stores, newest first."""
    return campaign_store(ctx).list(stores=ctx.stores)


@st.cache_resource(show_spinner="Calculando os resultados…", max_entries=8)
def _outcomes(path: str, campaigns_version: str, events_version: str, allowed: tuple[str, ...],
              stores: tuple[str, ...], window: int, until: datetime) -> pd.DataFrame:
    """Every member's outcomes (never mutated: shared by every session)."""
    repository = state.source().repository
    store = CampaignStore(path, read_only=bool(getattr(repository, "read_only", False)))
    everyone = store.members()
    # Every saved campaign is a touch for its members of the stores this user may see (last touch).
    members = everyone[everyone["store"].isin(allowed)]
    events = state.events_of(path, events_version, allowed, stores)
    return outcomes(store.list(), members, events, window, until, catalog=repository.catalog())


def outcome_frame(ctx: Context, window: int) -> pd.DataFrame:
    """The outcomes of every member, computed once per campaigns, timeline, window and hour."""
    # Events up to the end of the current hour: one computation per hour, not per run.
    until = ctx.now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return _outcomes(str(ctx.repository.path), campaign_store(ctx).version(), ctx.events_version(),
                     ctx.allowed, ctx.stores, int(window), until)


def picker(ctx: Context, campaigns: list[Campaign], key: str = "resultados"
           ) -> tuple[list[Campaign], str, int]:
    """Which campaign (or every one sent in a period) and the window; returns them and a title."""
    by_id = {str(c.id): c for c in campaigns}
    choice_col, window_col = st.columns([3, 1])
    choice = choice_col.selectbox(
        "Campanha", options=[*by_id, PERIOD], key=f"{key}_campanha",
        format_func=lambda k: "Todas as enviadas no período" if k == PERIOD else label(by_id[k]),
    )
    window = window_col.number_input("Janela (dias depois do envio)", min_value=1, max_value=MAX_WINDOW,
                                     value=DEFAULT_WINDOW_DAYS, step=1, key=f"{key}_janela")
    if choice != PERIOD:
        return [by_id[choice]], by_id[choice].name, int(window)
    today = ctx.now.date()
    picked = st.date_input("Enviadas entre", value=(today - timedelta(days=PERIOD_DAYS), today),
                           max_value=today, format="DD/MM/YYYY", key=f"{key}_periodo")
    start, end = _range(picked, today)
    chosen = [c for c in campaigns if c.sent_at is not None and start <= c.sent_at.date() <= end]
    title = f"{number(len(chosen))} campanha(s) enviada(s) de {start:%d/%m/%Y} a {end:%d/%m/%Y}"
    return chosen, title, int(window)


def _range(picked: object, today: date) -> tuple[date, date]:
    """A date range as ``st.date_input`` gives it (one day while the second is being picked)."""
    days = list(picked) if isinstance(picked, list | tuple) else [picked]
    days = [d for d in days if isinstance(d, date)] or [today]
    return min(days), max(days)


def cell(count: int, rate: object) -> str:
    """``"15 · 13% (8,1%–18%)"``: a count, its rate and the 95% Wilson interval (``wording.percent``)."""
    if rate.rate is None:  # type: ignore[attr-defined]
        return "—"
    return (f"{number(count)} · {percent(rate.rate)} "  # type: ignore[attr-defined]
            f"({percent(rate.low)}–{percent(rate.high)})")  # type: ignore[attr-defined]


def lift_cell(lift: object) -> str:
    """``"+9,2 p.p. (2,1 a 15,8)"``: envio minus controle with Newcombe's 95% interval."""
    if lift is None:
        return "—"
    diff, low, high = lift  # type: ignore[misc]

    def points(value: float) -> str:
        return f"{value * 100:+.1f}".replace(".", ",")

    return f"{points(diff)} p.p. ({points(low)} a {points(high)})"


def table(full: dict) -> pd.DataFrame:
    """Per tier: the group sent, the control group and their difference, each outcome with its interval."""
    rows = []
    for tier in (PRIMARY, SECONDARY):
        for group in (ENVIO, CONTROLE):
            cells = full[tier][group]
            rows.append({
                "Nível": TIER_LABELS[tier], "Grupo": GROUP_LABELS[group],
                "Clientes": number(cells["members"]),
                **{OUTCOME_LABELS[o]: cell(cells[o], cells["rates"][o]) for o in OUTCOMES},
                "Receita": money(cells["revenue_brl"]) if cells["members"] else "—",
            })
        rows.append({
            "Nível": TIER_LABELS[tier], "Grupo": "envio − controle", "Clientes": "",
            **{OUTCOME_LABELS[o]: lift_cell(full[tier]["lift"][o]) for o in OUTCOMES}, "Receita": "",
        })
    return pd.DataFrame(rows)


def readings(full: dict) -> list[str]:
    """The sentences of SPEC §12: primary against secondary (the groups sent), then each tier's group
    sent against its control group; a difference is claimed only when the intervals do not overlap."""
    lines = []
    sent = {tier: full[tier][ENVIO] for tier in (PRIMARY, SECONDARY)}
    for outcome in FUNNEL:
        a, b = sent[PRIMARY]["rates"][outcome], sent[SECONDARY]["rates"][outcome]
        lines.append(f"{OUTCOME_LABELS[outcome]}: " + reading(
            TIER_LABELS[PRIMARY], a.rate, (a.low, a.high), TIER_LABELS[SECONDARY], b.rate, (b.low, b.high),
            outcome))
    for tier in (PRIMARY, SECONDARY):
        a, b = full[tier][ENVIO]["rates"]["respondeu"], full[tier][CONTROLE]["rates"]["respondeu"]
        text = reading("envio", a.rate, (a.low, a.high), "controle", b.rate, (b.low, b.high), "respondeu")
        lines.append(f"{TIER_LABELS[tier].capitalize()}: {text}")
    return lines


def show(ctx: Context, chosen: list[Campaign], window: int, key: str = "resultados") -> None:
    """The results of ``chosen`` in the window: the table, the readings and the funnel."""
    if not chosen:
        st.info("Nenhuma campanha enviada neste período.", icon=":material/event_busy:")
        return
    unsent = [c for c in chosen if c.sent_at is None]
    if len(unsent) == len(chosen):
        st.info("Esta campanha ainda não foi enviada: baixe a lista em Campanhas (ou informe a data de "
                "envio) para começar a contar.", icon=":material/schedule_send:")
        return
    if len(chosen) == 1:
        sent_at = chosen[0].sent_at
        end = sent_at + timedelta(days=window)  # type: ignore[operator]
        ongoing = " (janela ainda aberta)" if end > ctx.now else ""
        st.caption(f"Enviada em {ddmmyyyy(sent_at)}; conta o que aconteceu até {ddmmyyyy(end)}{ongoing}.")
    frame = outcome_frame(ctx, window)
    full = period_results(chosen, frame)
    # A static table: six rows read whole on a phone, and every cell is text a screen reader can read.
    st.table(table(full), hide_index=True, border="horizontal")
    st.caption("Cada taxa traz o intervalo de 95% (Wilson); a diferença envio − controle, em pontos "
               "percentuais, o intervalo de 95% de Newcombe. Receita: a soma das compras na janela.")
    with st.container(border=True):
        for line in readings(full):
            st.markdown(f"- {line}" if NO_CLEAR_DIFFERENCE in line else f"- **{line}**")
    st.subheader("Funil: principal × secundário (grupo de envio)", anchor=False)
    st.altair_chart(charts.campaign_funnel(funnel(chosen, frame)), key=f"{key}_funil")
