"""The first visitor's work, done while the server starts (``dashboard/server.py``).

Streamlit runs ``app.py`` only once a browser has connected, so without this the first visitor
also waits for the imports (pandas, Arrow, the services: about 0.7 s) and the customer frame's
load (0.3 s at 100,000 customers, 1.2 s at 500,000), one after the other. Here both run in a
background thread from the moment the server's module is imported: the imports while the server
opens its port, the frame while the browser loads Streamlit's page (issue #14's start time).
"""

from __future__ import annotations

import logging
import threading

_LOG = logging.getLogger(__name__)
# Streamlit warns of every cached call made outside a script run: expected here.
_QUIET = "streamlit.runtime.scriptrunner_utils.script_run_context"


def start(runtime_ready: threading.Event) -> threading.Thread:
    """Start warming up in a daemon thread: the imports at once, the data once ``runtime_ready``
    is set (the caches need Streamlit's runtime). Returns the thread."""
    thread = threading.Thread(target=_up, args=(runtime_ready,), name="vitrine-warm-up", daemon=True)
    thread.start()
    return thread


def _up(runtime_ready: threading.Event) -> None:
    quiet = logging.getLogger(_QUIET)
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        # What the first page (Clientes) runs, and no more: other pages import theirs on their
        # first visit, instead of delaying this one. Streamlit's emoji catalog (a large regular
        # expression, 55 ms) is what ``st.set_page_config`` reads to check the page's icon.
        import streamlit.emojis  # noqa: F401

        from dashboard import access, customer, memory, sidebar, state, timeline  # noqa: F401
        from services import profile  # noqa: F401

        runtime_ready.wait()
        state.warm_up()
    except Exception as error:  # noqa: BLE001 - the first run meets the same fault and shows it
        _LOG.warning("warm-up skipped (%s); the first visit loads the data", type(error).__name__)
    finally:
        quiet.setLevel(level)
