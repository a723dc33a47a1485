"""`make run` prepares the first visit while the server starts: no visitor has to be there."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from apptest_support import NOW
from conftest import ROOT, START_TIMEOUT, _free_port, _wait_healthy, stop

from services import snapshot
from services.interests import iso
from services.store.sqlite import SqliteStore

pytestmark = pytest.mark.e2e


def _serve(db: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "VITRINE_DB": str(db), "VITRINE_NOW": iso(NOW)}
    env.pop("AIRTABLE_API_KEY", None)
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "dashboard/server.py", "--server.port", str(port),
             "--server.headless", "true", "--secrets.files", str(log.parent / "no-secrets.toml")],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    return process, f"http://127.0.0.1:{port}"


def _until(condition, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"not ready (exit {process.poll()}):\n{log.read_text()}")
        time.sleep(0.1)  # polling the file system for the condition itself


def test_the_first_start_builds_the_demo_and_its_frame_before_anyone_visits(tmp_path):
    db = tmp_path / "vitrine.db"
    log = tmp_path / "streamlit.log"
    process, url = _serve(db, log)
    try:
        _wait_healthy(url, process, log)
        # Nobody has opened the page: the demo database and the frame's snapshot appear anyway.
        _until(lambda: snapshot.snapshot_path(db).exists(), process, log)
        store = SqliteStore(db)
        assert store.get_meta("source") == "demo"
        assert len(store.stores()) >= 2
        saved = snapshot.load(snapshot.snapshot_path(db), snapshot.full_key(store.data_key()))
        assert saved is not None and len(saved.customers) > 1000
    finally:
        stop(process)


def test_a_warm_up_that_fails_leaves_the_server_up_and_says_so_without_a_traceback(tmp_path):
    db = tmp_path / "a-folder-not-a-database"
    db.mkdir()
    log = tmp_path / "streamlit.log"
    process, url = _serve(db, log)
    try:
        _wait_healthy(url, process, log)
        _until(lambda: "warm-up skipped" in log.read_text(), process, log)
        assert "Traceback" not in log.read_text()
        assert process.poll() is None
    finally:
        stop(process)
