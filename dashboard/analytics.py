"""Insights pieces: journeys, trending and cross-selling, each chart with its one-line reading."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts
from dashboard.format import number, plain
from services.insights import MIN_CUSTOMERS, CrossSelling, Journeys, Trending, times, top_pairs
from services.trends import TIMELINE
from services.wording import percent

TRENDING_KINDS = {"products": "Produtos", "brands": "Marcas"}
CROSS_KINDS = {"brands": "Marcas", "categories": "Categorias (relógio × joia)"}


def reading(text: str | None, fallback: str) -> None:
    """The one line that says what a chart shows (product and brand names escaped)."""
    st.markdown(f":material/lightbulb: **{plain(text)}**" if text else f"_{fallback}_")


def support_control(key: str = "insights") -> int:
    """The fewest customers behind a figure before it is ranked or quoted."""
    return int(st.number_input(
        "Mínimo de clientes por número citado", min_value=1, max_value=1000, value=MIN_CUSTOMERS, step=1,
        key=f"{key}_min_customers",
        help="Parcelas e tendências com menos clientes que isto não entram nos destaques.",
    ))


def journeys(result: Journeys, min_customers: int, key: str = "insights") -> None:
    """Share by first brand, upgrades between price tiers, and the strongest brand-to-brand moves."""
    if not result.branded_customers:
        st.info("Nenhum cliente com interesse de marca conhecida.", icon=":material/info:")
        return
    st.caption(f"{number(result.branded_customers)} clientes com ao menos um produto de marca conhecida. "
               "A base não guarda a data de cada interesse: “depois” é a ordem do histórico.")
    left, right = st.columns(2)
    with left:
        st.markdown("**Por qual marca começam**")
        top = result.first_brands.iloc[0]
        reading(f"{percent(top['share'])} começam com {top['brand']}"
                if result.branded_customers >= min_customers else None,
                "Poucos clientes para citar uma parcela.")
        st.altair_chart(charts.first_brands(result.first_brands), width="stretch")
    with right:
        st.markdown("**Quem sobe de faixa de preço**")
        share = result.upgrade_share
        reading(
            None if share is None or result.upgrade_starters < min_customers else
            f"{percent(share)} dos que começaram em entrada ou luxo pediram depois uma faixa superior",
            "Ninguém começou numa faixa abaixo da alta relojoaria.",
        )
        st.altair_chart(charts.tier_upgrades(result.tier_upgrades), width="stretch")
    moves = result.brand_upgrades
    moves = moves[moves["starters"] >= min_customers].head(8)
    if len(moves):
        first = moves.iloc[0]
        st.markdown("**De qual marca para qual**")
        reading(f"{percent(first['share'])} dos que começaram com {first['from_brand']} "
                f"passaram para {first['to_brand']}", "")
        st.dataframe(pd.DataFrame({
            "De": moves["from_brand"],
            "Para": moves["to_brand"],
            "Começaram com a marca": moves["starters"],
            "Pediram depois a outra": moves["customers"],
            "Parcela": moves["share"].map(percent),
        }), hide_index=True, width="stretch", key=f"{key}_moves")


def trending(result: Trending, key: str = "insights", min_customers: int = MIN_CUSTOMERS) -> None:
    """Lift of products or brands in the recent interests, with the counts behind it."""
    kind = st.segmented_control("Ver", options=list(TRENDING_KINDS), format_func=TRENDING_KINDS.get,
                                default="products", required=True, key=f"{key}_trending_kind")
    frame = result.products if kind == "products" else result.brands
    label = "title" if kind == "products" else "brand"
    threshold = result.threshold if kind == "products" else result.brand_threshold
    hot = frame[frame["trending"]]
    timeline = result.mode == TIMELINE
    if timeline:
        st.caption(f"Pela linha do tempo ({result.reason}): em alta quando os clientes que perguntaram "
                   f"por dia nos últimos 30 dias são {number(threshold, 1)}× ou mais os dos 90 dias "
                   f"anteriores, com pelo menos {number(min_customers)} clientes; “novo” quando ninguém "
                   "perguntou antes.")
    else:
        st.caption(f"Sem linha do tempo suficiente ({result.reason}): em alta pela parcela nos "
                   "interesses recentes ÷ parcela no histórico, a partir de "
                   f"{number(threshold, 2)} (a régua da base; linha tracejada).")
    if len(hot):
        top = hot.iloc[0]
        if timeline and bool(top.get("is_new", False)):
            reading(f"{top[label]} é novidade: {number(top['customers_recent'])} clientes perguntaram nos "
                    "últimos 30 dias, ninguém nos 90 anteriores", "")
        elif timeline:
            reading(f"{top[label]} em alta: {times(top['lift'])} mais clientes por dia nos últimos 30 dias "
                    f"({number(top['customers_recent'])} clientes) que nos 90 anteriores", "")
        else:
            reading(f"{top[label]} em alta: {times(top['lift'])} mais presente nos interesses recentes "
                    f"que no histórico ({number(top['customers'])} clientes)", "")
    else:
        reading(None, f"Nada em alta: nenhum item com {number(threshold, 2)}× ou mais e clientes "
                      "suficientes.")
    st.caption(f"{number(len(hot))} em alta. Barra cinza: poucos clientes (menos de "
               f"{number(min_customers)}), ou abaixo do limite.")
    st.altair_chart(charts.trending_lift(frame, label, threshold, min_customers=min_customers,
                                         timeline=timeline), width="stretch")
    with st.expander("Números por trás do gráfico", icon=":material/table:"):
        table = pd.DataFrame({
            "Nome": frame[label],
            "Lift": frame["lift"].map(lambda v: "novo" if pd.isna(v) else number(v, 2)),
            **({"Clientes (30 dias)": frame["customers_recent"],
                "Clientes (90 dias antes)": frame["customers_before"]} if timeline else
               {"Itens recentes": frame["recent"], "Itens no histórico": frame["history"],
                "Clientes": frame["customers"]}),
            "Em alta": frame["trending"].map({True: "sim", False: ""}),
        })
        if kind == "products":
            table.insert(1, "Marca", frame["brand"].fillna("—"))
        st.dataframe(table, hide_index=True, width="stretch", height=380, key=f"{key}_trending_table")


def cross_selling(result: CrossSelling, min_customers: int, key: str = "insights") -> None:
    """Which brands (or categories) customers ask about together, as a heatmap."""
    kind = st.segmented_control("Ver", options=list(CROSS_KINDS), format_func=CROSS_KINDS.get,
                                default="brands", required=True, key=f"{key}_cross_kind")
    pairs = result.brands if kind == "brands" else result.categories
    if pairs.empty:
        st.info("Sem pares: nenhum cliente perguntou por duas marcas diferentes.", icon=":material/info:")
        return
    best = top_pairs(pairs, n=10, min_customers=min_customers)
    if len(best):
        first = best.iloc[0]
        reading(f"{percent(first['share'])} dos clientes de {first['a_label']} também perguntaram "
                f"por {first['b_label']}", "")
    else:
        reading(None, "Nenhum par com clientes suficientes para destacar.")
    sizes = pairs.groupby("a_label")["a_customers"].max().sort_values(ascending=False)
    shown = sizes.index.tolist()[:14]
    st.caption("Cada linha: dos clientes da marca à esquerda, quantos também perguntaram pela da coluna."
               + (" As 14 marcas com mais clientes." if len(sizes) > 14 else ""))
    st.altair_chart(charts.cross_selling_heatmap(pairs, shown), width="stretch")
    if len(best):
        st.dataframe(pd.DataFrame({
            "Clientes de": best["a_label"],
            "Também perguntaram por": best["b_label"],
            "Clientes de A": best["a_customers"],
            "Com os dois": best["both"],
            "Parcela": best["share"].map(percent),
        }), hide_index=True, width="stretch", key=f"{key}_pairs")
