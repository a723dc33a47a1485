"""Clientes: visit prep. Find a customer by phone or name, read the card, note an in-store interest."""

import streamlit as st

from dashboard import customer, timeline
from dashboard.state import current
from services.profile import profile

ctx = current()
st.title("Clientes")
customer.flash()
cid = customer.search_box(ctx, key="clientes")
if cid is not None:
    chosen = profile(ctx.data, cid, ctx.now)
    customer.card(chosen, ctx)
    timeline.section(chosen, ctx)
    customer.record_form(ctx, chosen, key="clientes")
    timeline.visit_and_purchase_forms(ctx, chosen, key="clientes")
