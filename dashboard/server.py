"""``streamlit run dashboard/server.py``: the dashboard (``app.py``), warmed before the first visitor.

Served through ``st.App`` so the process can start its own work with the server's: the imports
and the customer frame load in a background thread (``dashboard/warm.py``) while the browser
loads Streamlit's page, instead of after it connects. Each visit then runs ``app.py`` as before.
"""

import sys
import threading
from contextlib import asynccontextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard import warm  # noqa: E402

_runtime_ready = threading.Event()
warm.start(_runtime_ready)


@asynccontextmanager
async def _lifespan(_app):
    _runtime_ready.set()  # Streamlit's runtime (and its caches) has started
    yield


app = st.App("app.py", lifespan=_lifespan)
