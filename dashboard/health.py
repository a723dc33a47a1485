"""Métricas pieces: metric tiles against targets, the per-store table, distributions, data quality."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts
from dashboard.format import number
from dashboard.state import Context
from services.metrics import (
    ABOVE,
    COVERAGE,
    DEPTH,
    MET,
    METRICS,
    RECENCY,
    UNMET,
    Figures,
    MetricsReport,
)
from services.quality import duplicate_phones, outside_catalog, quality_report, reason_counts
from services.wording import percent

ALL_STORES = "Todas as lojas escolhidas"


def metric_value(key: str, figures: Figures) -> str:
    """A metric's value as the tile shows it: ``"83%"``, ``"12,4 dias"``, ``"6,2 itens"``."""
    value = figures.value(key)
    if value is None:
        return "—"
    if key == COVERAGE:
        return percent(value)
    if key == RECENCY:
        return f"{number(value, 1)} dias"
    return f"{number(value, 1)} itens"


STANDING_WORDS = {None: "sem dados", MET: "atingida", UNMET: "não atingida", ABOVE: "acima da faixa"}
# Above a range is news, not an alarm: neutral, like "no data".
STANDING_COLOURS = {None: "gray", MET: "green", UNMET: "red", ABOVE: "blue"}
STANDING_MARKS = {None: "", MET: " ✓", UNMET: " ✗", ABOVE: " (acima da faixa)"}


def verdict(key: str, figures: Figures) -> str:
    """``"meta > 80%: atingida"`` (or ``não atingida``, ``acima da faixa``, ``sem dados``)."""
    return f"meta {METRICS[key].target}: {STANDING_WORDS[figures.standing[key]]}"


def median_note(figures: Figures) -> str | None:
    """``"Mediana: 9,0 dias"``: the recency tile shows it beside the mean (SPEC §6)."""
    days = figures.recency_median_days
    return None if days is None else f"Mediana: {number(days, 1)} dias"


def tile_note(key: str, figures: Figures) -> str | None:
    """The line under a tile's value: the median beside the mean, who is covered, what "above" means."""
    if key == RECENCY:
        return median_note(figures)
    if key == COVERAGE:
        return f"{number(figures.covered)} de {number(figures.customers)} clientes"
    if figures.standing[key] == ABOVE:
        return "Acima de 5 não é falha do registro"
    return None


def weekly(ctx: Context, key: str = "metricas") -> None:
    """The three metrics at the end of each of the last 12 weeks, with their target bands."""
    history = ctx.weekly()
    if history.empty:
        st.caption("Sem semanas para mostrar ainda.")
        return
    choice = st.segmented_control(
        "Métrica", options=["coverage", "recency_days", "depth"], default="coverage", required=True,
        format_func=charts.WEEKLY_TITLES.get, key=f"{key}_weekly_metric")
    st.altair_chart(charts.weekly_history(history, choice), width="stretch")
    st.caption(weekly_reading(history, choice))
    if history["before_timeline"].any():
        st.caption("Semanas antes da primeira sincronização contam o que a base tinha então sem datas: "
                   "os interesses sem data entram como já presentes.")
    st.caption("Cada ponto é a base como estava no fim da semana, refeita pela linha do tempo; a faixa "
               "dourada é a meta.")


def weekly_reading(history: pd.DataFrame, metric: str) -> str:
    """``"12 semanas, de 07/12 a 01/03: cobertura total de 95% para 89%"`` (the total's first and last)."""
    total = history[history["store"] == "total"].sort_values("week_end")
    first, last = total.iloc[0], total.iloc[-1]

    def shown(value: float) -> str:
        if pd.isna(value):
            return "—"
        return percent(value) if metric == "coverage" else number(value, 1)

    label = charts.WEEKLY_TITLES[metric].split(" (")[0].lower()
    return (f"{len(total)} semanas, de {first['week_end']:%d/%m} a {last['week_end']:%d/%m}: {label} "
            f"total de {shown(first[metric])} para {shown(last[metric])}.")


def tiles(figures: Figures) -> None:
    """Coverage, recency and depth as metric tiles with their target and where they stand."""
    columns = st.columns(3)
    for column, key in zip(columns, (COVERAGE, RECENCY, DEPTH), strict=True):
        with column.container(border=True, key=f"metricas_tile_{key}"):
            st.metric(
                METRICS[key].label,
                metric_value(key, figures),
                delta=verdict(key, figures),
                delta_color=STANDING_COLOURS[figures.standing[key]],
                delta_arrow="off",
                help=METRICS[key].definition.capitalize() + ".",
            )
            note = tile_note(key, figures)
            if note:
                st.caption(note)


def store_table(report: MetricsReport) -> pd.DataFrame:
    """One row per store and a total row; each value marked ✓ (target met), ✗ (not met) or
    "acima da faixa" (depth above 3–5: not a failure)."""
    rows = [*report.stores.items(), ("Total", report.total)]

    def cell(figures: Figures, key: str) -> str:
        return metric_value(key, figures) + STANDING_MARKS[figures.standing[key]]

    def median(figures: Figures) -> str:
        days = figures.recency_median_days
        return "—" if days is None else f"{number(days, 1)} dias"

    return pd.DataFrame({
        "Loja": [name for name, _ in rows],
        "Clientes": [number(f.customers) for _, f in rows],
        "Com interesses": [number(f.covered) for _, f in rows],
        f"Cobertura (meta {METRICS[COVERAGE].target})": [cell(f, COVERAGE) for _, f in rows],
        f"Recência média (meta {METRICS[RECENCY].target})": [cell(f, RECENCY) for _, f in rows],
        "Recência mediana": [median(f) for _, f in rows],
        f"Profundidade (meta {METRICS[DEPTH].target})": [cell(f, DEPTH) for _, f in rows],
    })


def distribution_scope(ctx: Context, key: str = "metricas") -> str | None:
    """Whose distributions to chart: every chosen store, or one of them. None means all."""
    if len(ctx.stores) < 2:
        return None
    chosen = st.selectbox("Distribuições de", options=[ALL_STORES, *ctx.stores], key=f"{key}_store",
                          placeholder="Escolha a loja")
    return None if chosen == ALL_STORES else chosen


def distributions(report: MetricsReport) -> None:
    """Depth, recency and coverage by first-contact month, each with a one-line reading."""
    left, right = st.columns(2)
    with left:
        st.markdown("**Profundidade: itens no histórico por cliente**")
        segments = report.depth_segments
        st.caption(" · ".join(f"{row.label} ({row.range}): {percent(row.share)}"
                              for row in segments.itertuples()))
        st.altair_chart(charts.depth_histogram(report.depth_histogram), width="stretch")
    with right:
        st.markdown("**Recência: dias desde a última interação**")
        within = report.recency_buckets.loc[report.recency_buckets["within_target"], "share"].sum()
        st.caption(f"{percent(within)} dos clientes com interesses conversaram nos últimos 14 dias.")
        st.altair_chart(charts.recency_buckets(report.recency_buckets), width="stretch")
    st.markdown("**Cobertura por mês do primeiro contato**")
    months = report.coverage_by_month
    if len(months):
        worst = months.loc[months["share"].idxmin()]
        st.caption(f"Mês com menor cobertura: {pd.Timestamp(worst['month']).strftime('%m/%Y')} "
                   f"({percent(worst['share'])} de {number(worst['customers'])} clientes). "
                   "Linha tracejada: meta de 80%.")
        st.altair_chart(charts.coverage_by_month(months), width="stretch")
    if report.created_unknown:
        st.caption(f"{number(report.created_unknown)} clientes sem data de primeiro contato legível "
                   "ficaram fora deste gráfico.")
    for note in report.notes:
        st.caption(note)


def quality_panel(ctx: Context, key: str = "metricas") -> None:
    """Records that could not be read cleanly, duplicates and products outside the catalog, and why."""
    catalog = set(ctx.catalog_titles())
    report = quality_report(ctx.data, catalog)
    pairs = duplicate_phones(ctx.data)
    outside = outside_catalog(ctx.data, catalog)
    affected = report["id"].nunique()
    st.caption(f"{number(affected)} registros com algum problema; eles continuam aparecendo nas "
               "outras páginas, lidos da melhor forma possível.")
    if report.empty:
        st.success("Nenhum problema encontrado nos dados.", icon=":material/verified:")
        return
    counts = reason_counts(report).rename(columns={"reason": "Motivo", "customers": "Clientes"})
    st.dataframe(counts, hide_index=True, width="content", key=f"{key}_reasons")
    st.markdown("**Registros e motivos**")
    st.dataframe(
        report.rename(columns={"store": "Loja", "name": "Nome", "phone_raw": "Telefone (como está)",
                               "reason": "Motivo", "id": "Registro"}),
        hide_index=True, width="stretch", height=300, key=f"{key}_problems",
    )
    if len(pairs):
        st.markdown(f"**Telefones duplicados na mesma loja** ({number(len(pairs))} pares)")
        st.dataframe(
            pairs[["store", "reason", "name_a", "phone_raw_a", "name_b", "phone_raw_b"]].rename(columns={
                "store": "Loja", "reason": "Motivo", "name_a": "Cliente A", "phone_raw_a": "Telefone A",
                "name_b": "Cliente B", "phone_raw_b": "Telefone B"}),
            hide_index=True, width="stretch", key=f"{key}_pairs",
        )
    if len(outside):
        st.markdown(f"**Produtos fora do catálogo** ({number(len(outside))}): um erro de digitação, ou um "
                    "produto que falta na tabela de produtos")
        st.dataframe(
            outside.rename(columns={"title": "Produto fora do catálogo", "customers": "Clientes"}),
            hide_index=True, width="stretch", height=min(38 + 35 * len(outside), 300),
            key=f"{key}_outside",
        )
