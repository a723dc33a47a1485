"""Vitrine's entrypoint: page config, the shared frame (stores, banners) and navigation."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard import access, memory, sidebar, state  # noqa: E402, F401 - memory: the allocator, once

st.set_page_config(page_title="Vitrine", page_icon="💎", layout="wide")
viewer = access.gate(lambda: state.source().repository.stores())

PAGES = ROOT / "pages"
pages = [
    st.Page(str(PAGES / "clientes.py"), title="Clientes", icon=":material/person_search:", default=True),
    st.Page(str(PAGES / "campanhas.py"), title="Campanhas", icon=":material/campaign:"),
    st.Page(str(PAGES / "resultados.py"), title="Resultados", icon=":material/query_stats:"),
    st.Page(str(PAGES / "metricas.py"), title="Métricas", icon=":material/monitoring:"),
    st.Page(str(PAGES / "insights.py"), title="Insights", icon=":material/lightbulb:"),
]
if viewer.admin:
    pages.append(st.Page(str(PAGES / "auditoria.py"), title="Auditoria", icon=":material/shield_person:"))
    pages.append(st.Page(str(PAGES / "importar.py"), title="Importar", icon=":material/upload_file:"))
current_page = st.navigation(pages)
ctx = sidebar.show(viewer)
try:
    if ctx.allowed and not ctx.stores:
        # Every store unchosen is a choice to make, not "all stores": no page runs on it.
        st.title(current_page.title)
        st.info(state.NO_STORE_CHOSEN, icon=":material/storefront:")
    else:
        current_page.run()
finally:
    state.end()
