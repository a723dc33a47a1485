"""Importar: customers from a Customers export and purchases from the till, checked first, for admins only."""

import streamlit as st

from dashboard import imports
from dashboard.state import current

ctx = current()
if not ctx.viewer.admin:
    st.error("Só administradores importam clientes e compras.")
    st.stop()

st.title("Importar")
customers, till = st.tabs(["Clientes", "Compras do caixa"])
with customers:
    imports.customers(ctx, key="importar")
with till:
    imports.till(ctx, key="importar_compras")
