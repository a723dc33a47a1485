"""Auditoria: every list that left Vitrine (downloads and the command line), for admins only."""

import streamlit as st

from dashboard.format import number
from dashboard.state import current
from services.audit import AuditLog

ctx = current()
if not ctx.viewer.admin:
    st.error("Só administradores veem o registro de exportações.")
    st.stop()

st.title("Auditoria de exportações")
st.caption("Quem baixou qual lista, quando, de quais lojas, e com qual segmento. O registro só aceita "
           "inclusões.")
entries = AuditLog(ctx.repository.path).entries()
if entries.empty:
    st.info("Nenhuma exportação registrada ainda.")
    st.stop()
st.caption(f"{number(len(entries))} exportações, da mais recente para a mais antiga.")
entries["stores"] = entries["stores"].map(", ".join)
st.dataframe(
    entries,
    hide_index=True,
    width="stretch",
    column_config={
        "at": st.column_config.DatetimeColumn("quando (UTC)", format="DD/MM/YYYY HH:mm:ss"),
        "who": "quem",
        "channel": "onde",
        "stores": "lojas",
        "segment": st.column_config.TextColumn("segmento (JSON)", width="large"),
        "rows": st.column_config.NumberColumn("linhas"),
        "format": "formato",
        "filename": "arquivo",
    },
    key="auditoria_table",
)
