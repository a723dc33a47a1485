"""The bare Streamlit page the dashboard's start is measured against: Streamlit's own cost, no data."""

import streamlit as st

st.title("Vitrine")
st.metric("clientes", "0")
