"""Insights: what customers want. Brand journeys, trending products and brands, cross-selling."""

import streamlit as st

from dashboard import analytics
from dashboard.state import current

ctx = current()
st.title("Insights")
st.caption("O que os clientes das lojas escolhidas procuram, a partir do histórico de interesses.")
if ctx.data.customers.empty:
    st.info("Nenhum cliente nas lojas escolhidas.", icon=":material/group_off:")
    st.stop()
min_customers = analytics.support_control(key="insights")
found = ctx.insights(min_customers)
st.subheader("Jornadas de marca", anchor=False)
analytics.journeys(found.journeys, min_customers, key="insights")
st.subheader("Em alta", anchor=False)
analytics.trending(found.trending, key="insights", min_customers=min_customers)
st.subheader("Venda cruzada", anchor=False)
analytics.cross_selling(found.cross_selling, min_customers, key="insights")
