"""Resultados: what each saved campaign achieved, per tier and group, against its control group."""

import streamlit as st

from dashboard import results
from dashboard.state import current

ctx = current()
st.title("Resultados")
st.caption(results.OPEN_NOTE)
campaigns = results.visible(ctx)
if not campaigns:
    st.info("Nenhuma campanha salva nas lojas escolhidas. Monte uma lista em Campanhas e salve-a como "
            "campanha para medir os resultados.", icon=":material/campaign:")
    st.page_link(results.CAMPAIGNS_PAGE, label="Ir para Campanhas", icon=":material/campaign:")
    st.stop()
chosen, title, window = results.picker(ctx, campaigns, key="resultados")
st.subheader(title, anchor=False)
results.show(ctx, chosen, window, key="resultados")
