"""Vitrine's entrypoint: page config, the shared frame (stores, banners) and navigation."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard import access, frame  # noqa: E402

st.set_page_config(page_title="Vitrine", page_icon="💎", layout="wide")
viewer = access.gate()

pages = [
    st.Page(str(ROOT / "pages" / "clientes.py"), title="Clientes", icon="🔎", default=True),
    st.Page(str(ROOT / "pages" / "campanhas.py"), title="Campanhas", icon="📣"),
    st.Page(str(ROOT / "pages" / "metricas.py"), title="Métricas", icon="📊"),
    st.Page(str(ROOT / "pages" / "insights.py"), title="Insights", icon="💡"),
]
if viewer.admin:
    pages.append(st.Page(str(ROOT / "pages" / "auditoria.py"), title="Auditoria", icon="🛡️"))
current_page = st.navigation(pages)
frame.sidebar()
current_page.run()
