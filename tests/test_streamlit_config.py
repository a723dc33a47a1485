"""The shipped Streamlit config: offline at start, loopback only, no export around the audit."""

import tomllib
from pathlib import Path

CONFIG = tomllib.loads((Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml").read_text())


def test_nothing_calls_out_at_start_and_only_loopback_listens():
    assert CONFIG["browser"]["gatherUsageStats"] is False
    assert CONFIG["server"]["address"] == "127.0.0.1"
    assert CONFIG["server"]["headless"] is True


def test_tables_offer_no_export_of_their_own():
    # Every customer list leaves through the audited download buttons (dashboard/downloads.py).
    assert CONFIG["client"]["disableDataExport"] is True


def test_errors_show_no_stack_trace_to_users():
    assert CONFIG["client"]["showErrorDetails"] in ("type", "none")
