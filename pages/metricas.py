"""Métricas: is interest tracking working? Coverage, recency and depth against their targets."""

import streamlit as st

from dashboard import health, results
from dashboard.state import current
from services.metrics import compute

ctx = current()
st.title("Métricas")
st.caption("Saúde do registro de interesses nas lojas escolhidas, na data de hoje.")
report = compute(ctx.data, ctx.now)
if not report.total.customers:
    st.info("Nenhum cliente nas lojas escolhidas.", icon=":material/group_off:")
    st.stop()
health.tiles(report.total)
st.subheader("Evolução nas últimas 12 semanas", anchor=False)
health.weekly(ctx, key="metricas")
st.subheader("Por loja", anchor=False)
st.dataframe(health.store_table(report), hide_index=True, width="stretch", key="metricas_stores")
st.subheader("Distribuições", anchor=False)
store = health.distribution_scope(ctx, key="metricas")
health.distributions(report if store is None else compute(ctx.data.for_stores([store]), ctx.now))
st.page_link(results.RESULTS_PAGE, icon=":material/query_stats:",
             label="Desempenho das campanhas (respostas, visitas e compras): em Resultados")
st.subheader("Qualidade dos dados", anchor=False)
health.quality_panel(ctx, key="metricas")
