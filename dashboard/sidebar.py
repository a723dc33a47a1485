"""The shared frame around every page: store selector and data banners."""

from __future__ import annotations

import streamlit as st

from dashboard import source, state
from dashboard.format import number
from services import config


def sidebar() -> state.Context:
    """Draw the store selector and the data-source banner; return the run's context."""
    with st.sidebar:
        st.markdown("### :material/diamond: Vitrine")
        # Before the data loads: a refresh (or the first sync) changes what the pages read.
        source.show(state.repository(str(config.db_path())))
    ctx = state.current()
    with st.sidebar:
        if len(ctx.allowed) > 1:
            st.multiselect(
                "Lojas",
                options=list(ctx.allowed),
                default=list(ctx.allowed),
                key=state.STORE_KEY,
                help="As páginas mostram apenas os clientes das lojas escolhidas.",
            )
        else:
            st.caption(f"Loja: {ctx.allowed[0] if ctx.allowed else '—'}")
        st.caption(f"{number(len(ctx.data.customers))} clientes")
        if ctx.is_demo:
            st.info("Dados de demonstração: nenhuma base Airtable configurada.", icon=":material/science:")
    return ctx
