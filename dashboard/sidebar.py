"""The sidebar around every page: the data-source panel, the store selector, the data banners."""

from __future__ import annotations

import streamlit as st

from dashboard import source, state
from dashboard.access import Viewer
from dashboard.format import number


def show(viewer: Viewer) -> state.Context:
    """Draw the data-source panel and the store selector; resolve and return the run's context."""
    with st.sidebar:
        st.markdown("### :material/diamond: Vitrine")
        # Before the data loads: a refresh (or the first sync) changes what the pages read.
        source.show(state.source())
    ctx = state.begin(viewer)
    with st.sidebar:
        if len(ctx.allowed) > 1:
            st.multiselect(
                "Lojas",
                options=list(ctx.allowed),
                default=list(ctx.allowed),
                key=state.STORE_KEY,
                placeholder="Escolha as lojas",
                select_all=False,  # its label is English and cannot be changed
                help="As páginas mostram apenas os clientes das lojas escolhidas.",
            )
        else:
            st.caption(f"Loja: {ctx.allowed[0] if ctx.allowed else '—'}")
        st.caption(f"{number(len(ctx.data.customers))} clientes")
        if ctx.is_demo:
            st.info("Dados de demonstração: nenhuma base Airtable configurada.", icon=":material/science:")
    return ctx
