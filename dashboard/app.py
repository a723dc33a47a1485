"""Vitrine's entrypoint: page config, the shared frame (stores, banners) and navigation."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard import frame  # noqa: E402

st.set_page_config(page_title="Vitrine", page_icon="💎", layout="wide")

pages = [
    st.Page(str(ROOT / "pages" / "clientes.py"), title="Clientes", icon="🔎", default=True),
    st.Page(str(ROOT / "pages" / "campanhas.py"), title="Campanhas", icon="📣"),
    st.Page(str(ROOT / "pages" / "metricas.py"), title="Métricas", icon="📊"),
    st.Page(str(ROOT / "pages" / "insights.py"), title="Insights", icon="💡"),
]
current_page = st.navigation(pages)
frame.sidebar()
current_page.run()
