"""A data change while the dashboard runs: the peak memory of the swap to the new data version.

Run: ``.venv/bin/python -m benchmarks.swap [--db BASE] [--json]``

The base is copied to a temporary folder (the run writes to it) with its frame's snapshot
beside it, as every start but a data version's first finds it. The dashboard starts on the
copy (``streamlit run dashboard/server.py``, Debian's Chromium through Playwright), every
page is visited (``browser.VISITS``) and, once the last run has settled, the process's
resident memory is the steady figure (``VmRSS``). Its high-water mark is then reset
(``/proc/PID/clear_refs``) and another process writes: the CLI records one customer's
interest, as a salesperson's note would. The browser reruns and visits every page again;
the sidebar must count one customer more and the search must find the new one. The
high-water mark (``VmHWM``) is then the peak of the swap; the budget is 1.3 × steady.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.browser import (  # noqa: E402
    CHROMIUM,
    READY_JS,
    TIMEOUT_S,
    VISITS,
    _search,
    _visible_errors,
    _wait_for_port,
    _wait_settled,
    free_port,
    stop_group,
    vm_hwm_mb,
    vm_rss_mb,
)

BUDGET = 1.3
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
# The note the CLI records: a new customer, so the sidebar counts one more and the search finds her.
NEW_NAME = "Beatriz Troca Memória"
NEW_PHONE = "+5511955501234"
NEW_PRODUCT = "Submariner"
COUNT_JS = """() => {
  const side = document.querySelector('[data-testid="stSidebar"]');
  const match = side && side.innerText.match(/([\\d.]+) clientes/);
  return match ? match[1] : null;
}"""


def reset_peak(pid: int) -> None:
    """Reset the process's RSS high-water mark to its current RSS (Linux: ``clear_refs`` 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def record_note(db: Path, now: str) -> dict:
    """One interest recorded from another process, through the CLI; the customer it printed."""
    from services.store.sqlite import SqliteStore

    store = SqliteStore(db).stores()[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRTABLE_")}
    done = subprocess.run(
        [sys.executable, "-m", "services", "--db", str(db), "record", "--store", store,
         "--phone", NEW_PHONE, "--name", NEW_NAME, "--at", now, NEW_PRODUCT],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"record failed ({done.returncode}): {done.stderr.strip()[-1000:]}")
    return json.loads(done.stdout)


def _save_snapshot(db: Path) -> None:
    """The frame's snapshot beside the copy, as every start after the first of a data version finds it."""
    subprocess.run([sys.executable, "-c", "import sys; from services import snapshot;"
                    " from services.store.sqlite import SqliteStore;"
                    " snapshot.customer_data(SqliteStore(sys.argv[1]))", str(db)],
                   cwd=ROOT, check=True, timeout=600)


def _count(page) -> int | None:
    shown = page.evaluate(COUNT_JS)
    return int(shown.replace(".", "")) if shown else None


def _visit_all(page, pid: int, errors: list[str], log) -> dict[str, float]:
    times, peaks = {}, []
    for title, step in VISITS:
        started = time.monotonic()
        try:
            step(page)
            _wait_settled(page)
        except Exception as error:  # noqa: BLE001 - reported, the run goes on
            errors.append(f"{title}: {type(error).__name__}: {str(error)[:200]}")
            continue
        times[title] = round(time.monotonic() - started, 2)
        peaks.append(f"{vm_hwm_mb(pid) or 0:.0f}")
        errors.extend(f"{title}: {e}" for e in _visible_errors(page))
    log("  " + ", ".join(f"{k} {v:.1f} s" for k, v in times.items())
        + f" (peak after each: {', '.join(peaks)} MB)")
    return times


def _settle(page, pid: int, quiet_s: float = 2.0, limit_s: float = 30.0) -> None:
    """Until the run ended and the resident memory stopped moving for ``quiet_s``."""
    _wait_settled(page)
    deadline = time.monotonic() + limit_s
    last, since = vm_rss_mb(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        rss = vm_rss_mb(pid)
        if rss is None or last is None or abs(rss - last) > 1:
            last, since = rss, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return


def measure(db: Path, now: str, log=print) -> dict:
    """Steady memory, then the peak of the swap to a data version written by another process.

    Args:
        db: the benchmark base (copied first: the run writes to the copy).
        now: the base's pinned reference time (ISO 8601), for the dashboard and the note.
        log: where progress lines go.

    Returns:
        ``steady_mb`` (VmRSS after every page), ``swap_peak_mb`` (VmHWM from the write until
        every page showed the new version), ``after_mb`` (VmRSS then), ``ratio``, ``customers``
        before and after, ``found`` (the new customer on Clientes), ``errors`` on screen.
    """
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="vitrine-swap-") as tmp:
        copy = Path(tmp) / "vitrine.db"
        shutil.copy(db, copy)
        _save_snapshot(copy)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRTABLE_")}
        env.update(VITRINE_DB=str(copy), VITRINE_NOW=now, PYTHONUNBUFFERED="1")
        command = [
            sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "server.py"),
            "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
            "--browser.gatherUsageStats", "false",
        ]
        errors: list[str] = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, start_new_session=True)
            try:
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                _wait_for_port(port, process, time.monotonic() + TIMEOUT_S)
                page.goto(f"http://127.0.0.1:{port}/", wait_until="commit")
                page.wait_for_function(READY_JS, timeout=TIMEOUT_S * 1000, polling="raf")
                log("  first visit of every page")
                first = _visit_all(page, process.pid, errors, log)
                _settle(page, process.pid)
                before = _count(page)
                steady = vm_rss_mb(process.pid)
                start_peak = vm_hwm_mb(process.pid)
                log(f"  steady: {steady:.0f} MB (start and first visits peaked at {start_peak:.0f} MB),"
                    f" {before} customers")
                reset_peak(process.pid)
                customer = record_note(copy, now)
                log(f"  the CLI recorded {customer.get('name')!r} ({customer.get('store')})")
                second = _visit_all(page, process.pid, errors, log)
                after_count = _count(page)
                _search(NEW_NAME)(page)
                _settle(page, process.pid)
                found = page.locator('[data-testid="stMain"]', has_text=NEW_NAME).count() > 0
                errors.extend(f"busca: {e}" for e in _visible_errors(page))
                peak = vm_hwm_mb(process.pid)
                after = vm_rss_mb(process.pid)
            finally:
                stop_group(process)
                browser.close()
    ratio = peak / steady if peak and steady else None
    log(f"  swap peak {peak:.0f} MB, after {after:.0f} MB: {ratio:.2f} × steady;"
        f" customers {before} → {after_count}, new customer found: {found}")
    return {
        "steady_mb": round(steady, 1), "swap_peak_mb": round(peak, 1), "after_mb": round(after, 1),
        "start_peak_mb": round(start_peak, 1), "ratio": round(ratio, 3) if ratio else None,
        "customers_before": before, "customers_after": after_count, "found": found,
        "first_visit_s": first, "second_visit_s": second, "errors": errors,
    }


def figures(result: dict, figure: type) -> list:
    """The rows of ``make bench``'s table for ``result`` (``figure``: benchmarks' ``Figure``)."""
    ratio = result.get("ratio")
    shows_new = (result.get("found") and result.get("customers_after") is not None
                 and result.get("customers_before") is not None
                 and result["customers_after"] == result["customers_before"] + 1)
    note = (f"{ratio:.2f}× " if ratio is not None else "") + (
            f"steady {result['steady_mb']:.0f} MB, swap peak {result['swap_peak_mb']:.0f} MB, after"
            f" {result['after_mb']:.0f} MB; customers {result['customers_before']} →"
            f" {result['customers_after']}")
    if not shows_new:
        note += "; THE PAGES DID NOT SHOW THE NEW DATA"
    if result.get("errors"):
        note += f"; {len(result['errors'])} error(s) on screen: {result['errors'][0][:120]}"
    return [
        figure("data change while running: peak memory of the swap / steady", "x", ratio, f"≤ {BUDGET:g}×",
               bool(ratio is not None and ratio <= BUDGET and shows_new and not result.get("errors")),
               [ratio] if ratio is not None else [], note),
        figure("data change while running: steady memory (VmRSS, every page visited)", "MB",
               result["steady_mb"]),
        figure("data change while running: swap peak (VmHWM, write to every page again)", "MB",
               result["swap_peak_mb"]),
    ]


def main(argv: list[str] | None = None) -> int:
    from benchmarks.base import RESULTS

    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--db", type=Path, default=RESULTS / "base-100000-seed7-v2.db",
                         help="the benchmark base (copied, never written)")
    options.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = options.parse_args(argv)

    from services.store.sqlite import SqliteStore

    now = SqliteStore(args.db).get_meta("demo_now")
    if not now:
        raise SystemExit(f"{args.db} has no pinned reference time (meta demo_now)")
    log = (lambda line: print(line, file=sys.stderr)) if args.json else print
    result = measure(args.db, now, log=log)
    from benchmarks.__main__ import Figure, report

    rows = figures(result, Figure)
    result["ok"] = bool(rows[0].met)
    return report(result, rows, args.json)


if __name__ == "__main__":
    sys.exit(main())
