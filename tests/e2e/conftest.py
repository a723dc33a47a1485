"""Browser fixtures: the app on a free loopback port over a small demo, and Debian's Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "app"))
from apptest_support import NOW, make_db  # noqa: E402

from services.interests import iso  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run",
]
E2E_CUSTOMERS = 1500
START_TIMEOUT = 90
# Tall enough for a whole page: Streamlit scrolls inside its own container, not the document.
VIEWPORT = {"width": 1400, "height": 2000}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited ({process.returncode}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)  # polling the health endpoint, not waiting for the page
    raise TimeoutError(f"streamlit did not answer in {START_TIMEOUT} s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def e2e_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo (1,500 customers, fixed seed and clock) plus the known customer +55 11 98765-4321."""
    return make_db(tmp_path_factory.mktemp("e2e") / "vitrine.db", customers=E2E_CUSTOMERS)


@pytest.fixture(scope="session")
def vitrine(e2e_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``streamlit run dashboard/server.py`` (as `make run`) from the repository root; yields its URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("e2e-log") / "streamlit.log"
    env = {**os.environ, "VITRINE_DB": str(e2e_db), "VITRINE_NOW": iso(NOW)}
    env.pop("AIRTABLE_API_KEY", None)
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "dashboard/server.py",
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--server.headless", "true",
             # No secrets file at all: local mode, whatever the developer keeps in .streamlit/.
             "--secrets.files", str(log.parent / "no-secrets.toml")],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        _wait_healthy(url, process, log)
        yield url
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """End a server: asked first, killed after 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def e2e_browser() -> Iterator[Browser]:
    """Chromium for one test module: Playwright's sync API allows one instance per thread at a
    time, and other browser modules (the sign-in tests) start their own."""
    if not Path(CHROMIUM).exists():
        missing = "Debian's chromium is not installed (make browser)"
        # CI must run the browser suite, never pass by skipping it.
        pytest.fail(missing) if os.environ.get("CI") else pytest.skip(missing)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def e2e_page(e2e_browser: Browser, vitrine: str) -> Iterator[Page]:
    """A fresh browser session (its own cookies and Streamlit session) at a manager's screen size."""
    context = e2e_browser.new_context(viewport=VIEWPORT, accept_downloads=True,
                                      locale="pt-BR", timezone_id="America/Sao_Paulo")
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()
