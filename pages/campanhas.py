"""Placeholder until the page is built."""

import streamlit as st

from dashboard.state import current

ctx = current()
st.title("campanhas")
st.metric("Clientes", len(ctx.data.customers))
