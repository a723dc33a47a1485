"""Pure Altair chart builders from service results (no ``st.*``): metrics, insights, campaign results."""

from __future__ import annotations

import altair as alt
import pandas as pd

GOLD = "#8a6d3b"
GREEN = "#2e7d32"
RED = "#c62828"
GRAY = "#9e9e9e"
SLATE = "#5c7a99"  # neutral: above a range is not an alarm
HEIGHT = 260
PT_PERCENT = ".0%"
# Every category label shows, whole (names are short; hiding every other one reads as missing data).
_LABELS = alt.Axis(labelOverlap=False, labelLimit=220)

# Portuguese number formats for the charts' axes and tooltips.
PT_BR_LOCALE = {
    "decimal": ",", "thousands": ".", "grouping": [3], "currency": ["R$ ", ""],
}


def _finish(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """Portuguese number separators and no frame around the plot."""
    return chart.configure(locale={"number": PT_BR_LOCALE}).configure_view(strokeWidth=0)


def _base(chart: alt.Chart) -> alt.TopLevelMixin:
    return _finish(chart.properties(height=HEIGHT))


DEPTH_BANDS = ("abaixo da faixa (< 3)", "na faixa (3–5)", "acima da faixa (> 5)")


def depth_histogram(histogram: pd.DataFrame, low: int = 3, high: int = 5) -> alt.Chart:
    """Customers by history length: the target band (3–5 items) in gold, above it in a neutral blue.

    Args:
        histogram: ``depth, customers`` (``MetricsReport.depth_histogram``).
    """
    below, within, above = DEPTH_BANDS
    depth = histogram["depth"]
    frame = histogram.assign(
        alvo=[below if d < low else above if d > high else within for d in depth])
    return _base(alt.Chart(frame).mark_bar().encode(
        x=alt.X("depth:O", title="Itens no histórico", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("customers:Q", title="Clientes"),
        color=alt.Color("alvo:N", title=None, legend=alt.Legend(orient="top"),
                        scale=alt.Scale(domain=list(DEPTH_BANDS), range=[GRAY, GOLD, SLATE])),
        tooltip=[alt.Tooltip("depth:O", title="Itens"), alt.Tooltip("customers:Q", title="Clientes")],
    ))


def recency_buckets(buckets: pd.DataFrame) -> alt.Chart:
    """Customers by days since the last interaction; buckets within the target (< 14 days) in green.

    Args:
        buckets: ``bucket, customers, share, within_target`` (``MetricsReport.recency_buckets``).
    """
    frame = buckets.assign(
        alvo=lambda f: f["within_target"].map({True: "dentro da meta (< 14 dias)", False: "acima da meta"}))
    order = buckets["bucket"].tolist()
    return _base(alt.Chart(frame).mark_bar().encode(
        x=alt.X("bucket:N", sort=order, title="Dias desde a última interação", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("customers:Q", title="Clientes"),
        color=alt.Color("alvo:N", title=None, legend=alt.Legend(orient="top"),
                        scale=alt.Scale(domain=["dentro da meta (< 14 dias)", "acima da meta"],
                                        range=[GREEN, GRAY])),
        tooltip=[alt.Tooltip("bucket:N", title="Faixa"), alt.Tooltip("customers:Q", title="Clientes"),
                 alt.Tooltip("share:Q", title="Parcela", format=PT_PERCENT)],
    ))


def coverage_by_month(months: pd.DataFrame, target: float = 0.80) -> alt.Chart:
    """Coverage by first-contact month, with the 80% target as a rule.

    Args:
        months: ``month, customers, covered, share`` (``MetricsReport.coverage_by_month``).
    """
    frame = months.assign(mes=lambda f: pd.to_datetime(f["month"]).dt.strftime("%m/%Y"))
    order = frame["mes"].tolist()
    bars = alt.Chart(frame).mark_bar(color=GOLD).encode(
        x=alt.X("mes:N", sort=order, title="Mês do primeiro contato", axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("share:Q", title="Cobertura", axis=alt.Axis(format=PT_PERCENT),
                scale=alt.Scale(domain=[0, 1])),
        tooltip=[alt.Tooltip("mes:N", title="Mês"), alt.Tooltip("customers:Q", title="Clientes"),
                 alt.Tooltip("covered:Q", title="Com interesses"),
                 alt.Tooltip("share:Q", title="Cobertura", format=PT_PERCENT)],
    )
    rule = alt.Chart(pd.DataFrame({"meta": [target]})).mark_rule(color=RED, strokeDash=[4, 4]).encode(
        y="meta:Q")
    return _finish((bars + rule).properties(height=HEIGHT))


def first_brands(frame: pd.DataFrame, top: int = 10) -> alt.Chart:
    """Share of customers by the first brand they asked about (the ``top`` brands).

    Args:
        frame: ``brand, customers, share`` (``Journeys.first_brands``).
    """
    shown = frame.head(top)
    return _base(alt.Chart(shown).mark_bar(color=GOLD).encode(
        y=alt.Y("brand:N", sort="-x", title=None, axis=_LABELS),
        x=alt.X("share:Q", title="Clientes que começaram pela marca", axis=alt.Axis(format=PT_PERCENT)),
        tooltip=[alt.Tooltip("brand:N", title="Marca"), alt.Tooltip("customers:Q", title="Clientes"),
                 alt.Tooltip("share:Q", title="Parcela", format=PT_PERCENT)],
    ))


def tier_upgrades(frame: pd.DataFrame) -> alt.Chart:
    """Of the customers who started in a price tier, the share who later asked about a higher one.

    Args:
        frame: ``from_label, to_label, starters, customers, share`` (``Journeys.tier_upgrades``).
    """
    shown = frame.assign(caminho=lambda f: f["from_label"] + " → " + f["to_label"])
    return _base(alt.Chart(shown).mark_bar(color=GOLD).encode(
        y=alt.Y("caminho:N", sort=shown["caminho"].tolist(), title=None, axis=_LABELS),
        x=alt.X("share:Q", title="Subiram de faixa", axis=alt.Axis(format=PT_PERCENT)),
        tooltip=[alt.Tooltip("caminho:N", title="Caminho"),
                 alt.Tooltip("starters:Q", title="Começaram na faixa"),
                 alt.Tooltip("customers:Q", title="Subiram"),
                 alt.Tooltip("share:Q", title="Parcela", format=PT_PERCENT)],
    ).properties(height=150))


def trending_situations(threshold: float, min_customers: int) -> tuple[str, str, str]:
    """The legend of the trending chart: in trend, and the two reasons a bar is grey."""
    limit = f"{threshold:.1f}".replace(".", ",")
    return ("em alta", f"poucos clientes (menos de {min_customers})", f"abaixo do limite de {limit}")


def trending_lift(frame: pd.DataFrame, label: str, threshold: float = 1.5, top: int = 15,
                  min_customers: int = 5, timeline: bool = False) -> alt.Chart:
    """Lift of the top items with the threshold in use as a rule.

    A grey bar says why it is not in trend: too few customers behind it, or a lift below
    the threshold (the legend and the tooltip say which).

    Args:
        frame: ``Trending.products`` or ``Trending.brands``.
        label: the name column (``title`` or ``brand``).
        threshold: the lift from which an item is in trend.
        min_customers: the fewest customers an item in trend needs.
        timeline: the lift is customers per day, last 30 days over the 90 before (else the
            share in ``interests`` over the share in the history).
    """
    hot, few, low = trending_situations(threshold, min_customers)
    shown = frame.head(top).assign(
        situacao=lambda f: [hot if t else few if lift >= threshold else low
                            for t, lift in zip(f["trending"], f["lift"], strict=True)])
    bars = alt.Chart(shown).mark_bar().encode(
        y=alt.Y(f"{label}:N", sort="-x", title=None, axis=_LABELS),
        x=alt.X("lift:Q", title="Clientes por dia: últimos 30 dias ÷ 90 dias anteriores" if timeline
                else "Presença nos recentes ÷ presença no histórico"),
        color=alt.Color("situacao:N", title=None, legend=alt.Legend(orient="top", labelLimit=320),
                        scale=alt.Scale(domain=[hot, few, low], range=[GOLD, "#c9bfae", GRAY])),
        tooltip=[alt.Tooltip(f"{label}:N", title="Nome"), alt.Tooltip("situacao:N", title="Situação"),
                 alt.Tooltip("lift:Q", title="Lift", format=".2f"),
                 alt.Tooltip("recent:Q", title="Itens recentes"),
                 alt.Tooltip("history:Q", title="Itens no histórico"),
                 alt.Tooltip("customers:Q", title="Clientes com ele nos recentes")],
    )
    rule = alt.Chart(pd.DataFrame({"limite": [threshold]})).mark_rule(
        color=RED, strokeDash=[4, 4]).encode(x="limite:Q")
    return _finish((bars + rule).properties(height=max(HEIGHT, 22 * len(shown))))


def cross_selling_heatmap(pairs: pd.DataFrame, brands: list[str] | None = None) -> alt.Chart:
    """Share of A's customers who also asked about B, as a heatmap (rows A, columns B).

    Args:
        pairs: ``a_label, b_label, a_customers, both, share`` (``CrossSelling.brands``).
        brands: the labels to show, in order (default: every label, most customers first).
    """
    if brands is None:
        sizes = pairs.groupby("a_label")["a_customers"].max().sort_values(ascending=False)
        brands = sizes.index.tolist()
    shown = pairs[pairs["a_label"].isin(brands) & pairs["b_label"].isin(brands)]
    base = alt.Chart(shown).encode(
        y=alt.Y("a_label:N", sort=brands, title="Clientes de…", axis=_LABELS),
        x=alt.X("b_label:N", sort=brands, title="…que também perguntaram por",
                axis=alt.Axis(labelAngle=-40, labelOverlap=False, labelLimit=160)),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("share:Q", title="Parcela", scale=alt.Scale(scheme="goldorange", domain=[0, 1]),
                        legend=alt.Legend(format=PT_PERCENT)),
        tooltip=[alt.Tooltip("a_label:N", title="Clientes de"), alt.Tooltip("b_label:N", title="Também"),
                 alt.Tooltip("a_customers:Q", title="Clientes de A"),
                 alt.Tooltip("both:Q", title="Com as duas"),
                 alt.Tooltip("share:Q", title="Parcela", format=PT_PERCENT)],
    )
    text = base.mark_text(fontSize=10).encode(
        text=alt.Text("share:Q", format=PT_PERCENT),
        color=alt.condition("datum.share > 0.5", alt.value("white"), alt.value("black")),
    )
    size = max(300, 34 * len(brands))
    return _finish((cells + text).properties(height=size))


# The target of each metric as a band on its weekly chart: (low, high) in the metric's unit.
WEEKLY_TARGETS = {"coverage": (0.8, 1.0), "recency_days": (0.0, 14.0), "depth": (3.0, 5.0)}
WEEKLY_TITLES = {"coverage": "Cobertura", "recency_days": "Recência média (dias)",
                 "depth": "Profundidade média (itens)"}


def weekly_history(weekly: pd.DataFrame, metric: str, stores: list[str] | None = None) -> alt.Chart:
    """One metric at the end of each of the last 12 weeks, a line per store and the total, the
    target as a gold band.

    Args:
        weekly: ``week_end, store, <metric>`` (``weekly.weekly_metrics``).
        metric: ``coverage``, ``recency_days`` or ``depth``.
        stores: the lines to draw (default: every store and the total).
    """
    shown = weekly if stores is None else weekly[weekly["store"].isin(stores)]
    shown = shown.assign(loja=lambda f: f["store"].replace({"total": "Total"}),
                         semana=lambda f: f["week_end"].dt.strftime("%d/%m"),
                         fim=lambda f: f["week_end"].dt.strftime("%d/%m/%Y"))
    weeks = shown.sort_values("week_end")["semana"].unique().tolist()
    low, high = WEEKLY_TARGETS[metric]
    band = alt.Chart(pd.DataFrame({"low": [low], "high": [high]})).mark_rect(
        color=GOLD, opacity=0.15).encode(y="low:Q", y2="high:Q")
    fmt = PT_PERCENT if metric == "coverage" else ",.1f"
    lines = alt.Chart(shown).mark_line(point=True).encode(
        x=alt.X("semana:O", sort=weeks, title="Fim da semana", axis=alt.Axis(labelAngle=0)),
        y=alt.Y(f"{metric}:Q", title=WEEKLY_TITLES[metric], axis=alt.Axis(format=fmt),
                scale=alt.Scale(zero=False)),
        color=alt.Color("loja:N", title=None, legend=alt.Legend(orient="top")),
        strokeDash=alt.condition(alt.datum.loja == "Total", alt.value([1, 0]), alt.value([4, 3])),
        tooltip=[alt.Tooltip("loja:N", title="Loja"),
                 alt.Tooltip("fim:N", title="Semana até"),
                 alt.Tooltip(f"{metric}:Q", title=WEEKLY_TITLES[metric], format=fmt)],
    )
    return _finish((band + lines).properties(height=220))


FUNNEL_STEPS = {"respondeu": "Respondeu", "visitou": "Visitou", "comprou": "Comprou"}
TIER_COLORS = {"Principal": GOLD, "Secundário": GRAY}


def campaign_funnel(funnel: pd.DataFrame) -> alt.Chart:
    """Respondeu → visitou → comprou of the group sent, primary against secondary, with 95% intervals.

    Args:
        funnel: ``tier_label, outcome, members, count, rate, low, high`` (``campaign_results.funnel``);
            a tier without members is left out.
    """
    shown = funnel[funnel["members"] > 0].assign(
        etapa=lambda f: f["outcome"].map(FUNNEL_STEPS),
        nivel=lambda f: f["tier_label"].str.capitalize(),
    )
    steps = list(FUNNEL_STEPS.values())
    base = alt.Chart(shown).encode(
        x=alt.X("etapa:N", sort=steps, title=None, axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("nivel:N", sort=list(TIER_COLORS)),
    )
    bars = base.mark_bar().encode(
        y=alt.Y("rate:Q", title="Clientes do grupo de envio", axis=alt.Axis(format=PT_PERCENT)),
        color=alt.Color("nivel:N", title=None, legend=alt.Legend(orient="top"),
                        scale=alt.Scale(domain=list(TIER_COLORS), range=list(TIER_COLORS.values()))),
        tooltip=[alt.Tooltip("nivel:N", title="Nível"), alt.Tooltip("etapa:N", title="Etapa"),
                 alt.Tooltip("count:Q", title="Clientes"),
                 alt.Tooltip("members:Q", title="No grupo de envio"),
                 alt.Tooltip("rate:Q", title="Taxa", format=".1%"),
                 alt.Tooltip("low:Q", title="IC 95% de", format=".1%"),
                 alt.Tooltip("high:Q", title="IC 95% até", format=".1%")],
    )
    intervals = base.mark_rule(color="black", strokeWidth=1.5).encode(y="low:Q", y2="high:Q")
    return _finish((bars + intervals).properties(height=HEIGHT))
