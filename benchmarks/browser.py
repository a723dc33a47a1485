"""The dashboard as a user meets it: process start to the first page in the browser, and peak memory.

Each run starts ``streamlit run dashboard/server.py`` on a free loopback port with
``VITRINE_DB`` pointing at the benchmark base, opens it in Debian's Chromium
(Playwright, already running, as the user's browser would be) and takes the time
from the process start until a figure of the first page is visible. The last run
then visits every page and reads the process's RSS high-water mark (``VmHWM``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# What counts as "a figure of the page": a metric, a chart, a table, or (on Clientes, whose
# first screen is the search) the search field; and in both cases the sidebar's count of
# customers, which is drawn once the customer frame is loaded.
FIGURE = (
    '[data-testid="stMain"] :is([data-testid="stMetricValue"], [data-testid="stVegaLiteChart"],'
    ' [data-testid="stDataFrame"], [data-testid="stTable"], [data-testid="stTextInput"])'
)
READY_JS = """() => {
  const figure = document.querySelector(FIGURE);
  const side = document.querySelector('[data-testid="stSidebar"]');
  return !!figure && figure.offsetParent !== null && !!side && /\\d clientes/.test(side.innerText);
}""".replace("FIGURE", repr(FIGURE))
# The bare page (benchmarks/bare_app.py) is ready when its metric is drawn: Streamlit's first paint.
BARE_APP = ROOT / "benchmarks" / "bare_app.py"
BARE_READY_JS = """() => {
  const metric = document.querySelector('[data-testid="stMetricValue"]');
  return !!metric && metric.offsetParent !== null;
}"""


def _nav(title: str):
    def step(page) -> None:
        page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
        page.wait_for_timeout(300)
    return step


def _button(label: str):
    def step(page) -> None:
        page.locator('[data-testid="stMain"] button', has_text=label).first.click()
        page.wait_for_timeout(300)
    return step


def _terms(term: str):
    def step(page) -> None:
        box = page.locator('[data-testid="stMain"] [data-testid="stMultiSelect"] input').first
        box.click()
        box.fill(term)
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        page.wait_for_timeout(300)
    return step


def _search(query: str):
    def step(page) -> None:
        box = page.locator('[data-testid="stMain"] [data-testid="stTextInput"] input').first
        box.fill(query)
        box.press("Enter")
        page.wait_for_timeout(300)
    return step


# Every page, with the work a manager does there: the largest lists and every chart.
VISITS = (
    ("Campanhas: Reengajamento", lambda page: (_nav("Campanhas")(page), _button("Reengajamento")(page))),
    ("Campanhas: De volta ao estoque, Rolex", lambda page: (_button("De volta ao estoque")(page),
                                                           _terms("Rolex")(page))),
    ("Métricas", _nav("Métricas")),
    ("Insights", _nav("Insights")),
    ("Clientes: busca por nome", lambda page: (_nav("Clientes")(page), _search("Maria Silva")(page))),
)
TIMEOUT_S = 120


@dataclass
class Startup:
    """What one dashboard run measured."""

    first_page_s: float
    first_page_peak_mb: float | None = None
    peak_rss_mb: float | None = None
    pages: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _status_mb(pid: int, field: str) -> float | None:
    """A memory line of ``/proc/PID/status`` (``VmRSS``, ``VmHWM``) in MB; None when unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def vm_hwm_mb(pid: int) -> float | None:
    """The RSS high-water mark of a process in MB (``VmHWM``)."""
    return _status_mb(pid, "VmHWM")


def vm_rss_mb(pid: int) -> float | None:
    """The resident memory of a process in MB (``VmRSS``)."""
    return _status_mb(pid, "VmRSS")


def stop_group(process: subprocess.Popen) -> None:
    """End a server started in its own session, and whatever it started: asked, then killed after 10 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _wait_for_port(port: int, process: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.05):
            return
        time.sleep(0.01)
    raise TimeoutError("streamlit did not open its port")


def _visible_errors(page) -> list[str]:
    errors = page.locator('[data-testid="stException"]')
    return [errors.nth(i).inner_text()[:300] for i in range(errors.count())]


def run_dashboard(
    db: Path, browser, *, visit_pages: bool, now: str | None = None, log=print, bare: bool = False
) -> Startup:
    """Start the dashboard once and time it to the first figure; optionally visit every page.

    ``bare``: start ``BARE_APP`` instead (Streamlit alone, same flags, same browser) and time
    it to its first paint: what any Streamlit page costs on this machine at this moment.
    """
    port = free_port()
    env = {**os.environ, "VITRINE_DB": str(db), "PYTHONUNBUFFERED": "1"}
    if now is not None:
        env["VITRINE_NOW"] = now  # the base's own reference time: the same lists on every run
    env.pop("AIRTABLE_API_KEY", None)
    env.pop("AIRTABLE_BASE_ID", None)
    command = [
        sys.executable, "-m", "streamlit", "run", str(BARE_APP if bare else ROOT / "dashboard" / "server.py"),
        "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = started + TIMEOUT_S
        _wait_for_port(port, process, deadline)
        page.goto(f"http://127.0.0.1:{port}/", wait_until="commit")
        page.wait_for_function(BARE_READY_JS if bare else READY_JS, timeout=TIMEOUT_S * 1000, polling="raf")
        result = Startup(first_page_s=time.monotonic() - started, first_page_peak_mb=vm_hwm_mb(process.pid))
        result.errors.extend(_visible_errors(page))
        if visit_pages:
            for title, step in VISITS:
                t0 = time.monotonic()
                try:
                    step(page)
                    _wait_settled(page)
                except Exception as error:  # noqa: BLE001 - reported, the run goes on
                    shot = ROOT / "bench-results" / f"visit-{title}.png"
                    page.screenshot(path=str(shot), full_page=True)
                    result.errors.append(f"{title}: {type(error).__name__} (screenshot {shot})")
                    continue
                result.pages[title] = time.monotonic() - t0
                result.errors.extend(f"{title}: {e}" for e in _visible_errors(page))
            result.peak_rss_mb = vm_hwm_mb(process.pid)
        return result
    finally:
        context.close()
        stop_group(process)


def _wait_settled(page) -> None:
    """Until the script run ends (no "running" indicator) and a figure is visible."""
    page.wait_for_timeout(200)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
        timeout=TIMEOUT_S * 1000,
    )
    page.locator(FIGURE).first.wait_for(state="visible", timeout=TIMEOUT_S * 1000)


def measure(db: Path, runs: int, now: str | None = None, log=print,
            bare: list[Startup] | None = None) -> list[Startup]:
    """``runs`` starts of the dashboard; the last one also visits every page.

    With ``bare`` (a list), each start is preceded by a start of the bare Streamlit page,
    appended to it: both see the same machine load.
    """
    from playwright.sync_api import sync_playwright

    results: list[Startup] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run"])
        try:
            for i in range(runs):
                if bare is not None:
                    plain = run_dashboard(db, browser, visit_pages=False, now=now, log=log, bare=True)
                    bare.append(plain)
                    log(f"  bare Streamlit page start {i + 1}: {plain.first_page_s:.2f} s")
                result = run_dashboard(db, browser, visit_pages=i == runs - 1, now=now, log=log)
                log(f"  dashboard start {i + 1}: {result.first_page_s:.2f} s"
                    f" (peak {result.first_page_peak_mb or 0:.0f} MB at the first page)")
                results.append(result)
        finally:
            browser.close()
    return results
