"""Auditoria: every list that left Vitrine (downloads and the command line), for admins only."""

import streamlit as st

from dashboard.format import number
from dashboard.state import current
from services.audit import CLI, DASHBOARD, AuditLog, describe
from services.wording import LOCAL_TIME

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
st.caption(f"{number(len(entries))} exportações, da mais recente para a mais antiga. Horário de Brasília.")
entries["at"] = entries["at"].dt.tz_convert(LOCAL_TIME).dt.tz_localize(None)
entries["stores"] = entries["stores"].map(", ".join)
entries["segment"] = entries["segment"].map(describe)
entries["channel"] = entries["channel"].map({DASHBOARD: "painel", CLI: "linha de comando"}).fillna(
    entries["channel"])
st.dataframe(
    entries,
    hide_index=True,
    width="stretch",
    column_config={
        "at": st.column_config.DatetimeColumn("quando", format="DD/MM/YYYY HH:mm:ss"),
        "who": "quem",
        "channel": "onde",
        "stores": "lojas",
        "segment": st.column_config.TextColumn("lista", width="large"),
        "rows": st.column_config.NumberColumn("linhas"),
        "format": "formato",
        "filename": "arquivo",
    },
    key="auditoria_table",
)
