"""Placeholder until the page is built."""

import streamlit as st

from dashboard.state import current

ctx = current()
st.title("clientes")
st.metric("Clientes", len(ctx.data.customers))
