"""Twenty managers at once: one dashboard server, many browser sessions building campaign lists.

Run: ``.venv/bin/python benchmarks/crowd.py [--sessions 20] [--seconds 60] [--db PATH] [--json]``

One ``streamlit run dashboard/server.py`` serves the 100,000-customer benchmark base (``VITRINE_NOW``
pinned to the base's own reference time). One session opens Campanhas and builds a list; the
server's RSS is read once that run is over. Then the other sessions open Campanhas (one Chromium,
one context each) and every session, for ``--seconds``, does what a manager does: picks another
campaign preset, adds a product or brand to the terms, or takes one away; waits for the counts;
thinks 1–3 s. A change is timed from the click (or the Enter key) until the count tiles on its
screen show the counts of that change: every change is planned beforehand and its counts computed
with ``build_list`` on the same base, and a change is only planned when its counts differ from the
ones on screen, so the old tiles can never pass for the new ones. At the end, with every session
still open and no run in progress, the server's RSS again: the growth per extra session is
(RSS with N sessions - RSS with 1) / (N - 1).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.browser import (  # noqa: E402
    CHROMIUM,
    _wait_for_port,
    free_port,
    stop_group,
    vm_hwm_mb,
    vm_rss_mb,
)

P95_BUDGET_S = 1.5
MB_PER_SESSION_BUDGET = 10.0
# Products, model lines and brands a manager types (each is picked as typed: an option of the
# box, or a new term for "Bulgari", which the catalog reads as Bvlgari).
TERMS = ("Rolex", "Submariner", "Cartier", "Datejust", "Bulgari", "Omega", "Daytona")
MAX_TERMS = 3
THINK_S = (1.0, 3.0)
PLANNED = 120  # changes planned per session: more than a minute can use
CHANGE_TIMEOUT_S = 30
START_TIMEOUT_S = 180
BROWSER_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
]
MAIN = '[data-testid="stMain"]'
TERMS_INPUT = f'{MAIN} [data-testid="stMultiSelect"] input'
PRESET_BUTTON = f'{MAIN} [role="radiogroup"][aria-label="Campanha"] button'
NEEDS_TERMS = "Escolha o produto"
# The count tiles as the page shows them: the list's, a bar, the ones left out.
SHOWN_JS = """(expected) => {
  const read = (key) => Array.from(document.querySelectorAll(
    `.st-key-${key} [data-testid="stMetricValue"]`)).map((e) => e.innerText.trim());
  return [...read("campanhas_counts"), "|", ...read("campanhas_excluded")].join(" ") === expected;
}"""
IDLE_JS = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"


@dataclasses.dataclass(frozen=True)
class Change:
    """One thing a manager does on Campanhas, and the counts it must bring to the screen."""

    kind: str  # "preset", "add" or "remove"
    value: str  # the preset's key, or the term
    shown: str  # the count tiles' texts once the change is on screen (``SHOWN_JS``)


@dataclasses.dataclass
class Session:
    """What one browser session saw."""

    latencies: list[float] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)
    kinds: dict[str, int] = dataclasses.field(default_factory=dict)


# --- The plan: every session's changes and the counts each must show -----------------------------


class Expected:
    """The count tiles of a preset and terms, computed with ``build_list`` on the base (memoized)."""

    def __init__(self, db: Path, now: str) -> None:
        from services import snapshot
        from services.interests import parse_time
        from services.store.sqlite import SqliteStore

        store = SqliteStore(db)
        self.data = snapshot.customer_data(store, store.data_key())
        self.stores = tuple(store.stores())
        self.now = parse_time(now)
        self.seen: dict[tuple[str, frozenset[str]], str] = {}

    def shown(self, preset: str, terms: tuple[str, ...]) -> str:
        key = (preset, frozenset(terms))
        if key not in self.seen:
            self.seen[key] = self._compute(preset, terms)
        return self.seen[key]

    def _compute(self, preset: str, terms: tuple[str, ...]) -> str:
        from services.segments import EXCLUSION_REASONS, PRESETS, PRIMARY, SECONDARY, build_list
        from services.wording import number

        segment = PRESETS[preset].segment_for(terms, self.stores)
        result = build_list(self.data, segment, self.now)
        tiles = [result.counts[PRIMARY], result.counts[SECONDARY]] if segment.two_tiers else []
        tiles.append(result.total)
        excluded = [result.excluded[reason] for reason in EXCLUSION_REASONS]
        return " ".join([*map(number, tiles), "|", *map(number, excluded)])


def plan(expected: Expected, seed: int, changes: int = PLANNED) -> list[Change]:
    """A manager's changes from Campanhas as it opens ("De volta ao estoque", no terms).

    The first change adds a term (the preset asks for one). Every later change is a preset
    switch, a term added or a term taken away, drawn at random among those that leave a list on
    screen (a preset about a product keeps its terms; "Reengajamento" clears them) and whose
    counts differ from the ones shown before it.
    """
    from dashboard.campaign import DEFAULT_PRESET
    from services.segments import PRESETS

    rng = random.Random(seed)
    preset, terms = DEFAULT_PRESET, ()
    shown = ""
    steps: list[Change] = []
    while len(steps) < changes:
        options: list[tuple[str, str, str, tuple[str, ...]]] = []
        for other in PRESETS:
            if other != preset:
                kept = terms if PRESETS[other].needs_terms else ()
                options.append(("preset", other, other, kept))
        if len(terms) < MAX_TERMS:
            options += [("add", term, preset, (*terms, term)) for term in TERMS if term not in terms]
        if len(terms) > 1:
            options += [("remove", term, preset, tuple(t for t in terms if t != term)) for term in terms]
        rng.shuffle(options)
        for kind, value, after, after_terms in options:
            if PRESETS[after].needs_terms and not after_terms:
                continue
            after_shown = expected.shown(after, after_terms)
            if after_shown != shown:
                steps.append(Change(kind, value, after_shown))
                preset, terms, shown = after, after_terms, after_shown
                break
        else:
            raise RuntimeError(f"no change leads anywhere from {preset} {terms}")
    return steps


# --- The server -----------------------------------------------------------------------------------


@contextlib.contextmanager
def serve(db: Path, now: str):
    """``streamlit run dashboard/server.py`` on a free loopback port; yields (process, base URL)."""
    port = free_port()
    env = {**os.environ, "VITRINE_DB": str(db), "VITRINE_NOW": now, "PYTHONUNBUFFERED": "1"}
    env.pop("AIRTABLE_API_KEY", None)
    env.pop("AIRTABLE_BASE_ID", None)
    command = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "server.py"),
        "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_for_port(port, process, time.monotonic() + START_TIMEOUT_S)
        yield process, f"http://127.0.0.1:{port}"
    finally:
        stop_group(process)


def cpu_seconds(server: int) -> tuple[float, float]:
    """CPU seconds so far of the server, and of every other process under this one (the browser)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    me = os.getpid()

    def under_me(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == me:
                return True
        return False

    browser = sum(cpu for pid, cpu in used.items() if pid != server and under_me(pid))
    return used.get(server, 0.0), browser


# --- The sessions ---------------------------------------------------------------------------------


async def open_campanhas(browser, url: str):
    """A new browser session on Campanhas, once its first run is over (the preset asks for terms)."""
    context = await browser.new_context(viewport={"width": 1200, "height": 800})
    page = await context.new_page()
    await page.goto(url, wait_until="commit")
    await page.locator('[data-testid="stSidebarNav"] a', has_text="Campanhas").first.click(
        timeout=START_TIMEOUT_S * 1000)
    await page.get_by_text(NEEDS_TERMS).first.wait_for(timeout=START_TIMEOUT_S * 1000)
    await page.wait_for_function(IDLE_JS, timeout=START_TIMEOUT_S * 1000, polling=100)
    return context, page


async def make(page, change: Change) -> float:
    """Do ``change`` as a user would; returns the moment (``time.monotonic``) it was made."""
    from services.segments import PRESETS

    if change.kind == "preset":
        button = page.locator(PRESET_BUTTON, has_text=PRESETS[change.value].label).first
        await button.wait_for()
        made = time.monotonic()
        await button.click()
    elif change.kind == "add":
        box = page.locator(TERMS_INPUT).first
        await box.click()
        await box.fill(change.value)
        # The box's list has caught up with what was typed (else Enter picks another option).
        option = page.locator('[role="option"]').first
        await option.filter(has_text=change.value).wait_for()
        made = time.monotonic()
        await page.keyboard.press("Enter")
        await page.keyboard.press("Escape")
    else:
        remove = page.locator(f'{MAIN} button[aria-label="Remove {change.value}"]').first
        await remove.wait_for()
        made = time.monotonic()
        await remove.click()
    return made


async def on_screen(page, change: Change) -> None:
    """Until the count tiles show ``change``'s counts."""
    await page.wait_for_function(SHOWN_JS, arg=change.shown, timeout=CHANGE_TIMEOUT_S * 1000, polling=25)


async def exceptions(page) -> list[str]:
    errors = page.locator('[data-testid="stException"]')
    return [(await errors.nth(i).inner_text())[:300] for i in range(await errors.count())]


async def manage(page, steps: list[Change], until: float, seed: int) -> Session:
    """Make ``steps`` one by one until the moment ``until``: time each, then think 1–3 s."""
    rng = random.Random(seed)
    seen = Session()
    for change in steps:
        if time.monotonic() >= until:
            break
        try:
            made = await make(page, change)
            await on_screen(page, change)
        except Exception as error:  # noqa: BLE001 - counted; this session stops, the others go on
            seen.errors.append(f"{change.kind} {change.value}: {type(error).__name__}: {str(error)[:200]}")
            break
        seen.latencies.append(time.monotonic() - made)
        seen.kinds[change.kind] = seen.kinds.get(change.kind, 0) + 1
        seen.errors.extend(await exceptions(page))
        await asyncio.sleep(rng.uniform(*THINK_S))  # a person reading the counts
    return seen


async def _crowd(db: Path, now: str, sessions: int, seconds: float, plans: list[list[Change]],
                 log) -> tuple[dict[str, object], list[Session]]:
    from playwright.async_api import async_playwright

    result: dict[str, object] = {"sessions": sessions, "seconds": seconds, "client": "browser"}
    with serve(db, now) as (process, url):
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
            try:
                started = time.monotonic()
                first = [await open_campanhas(browser, url)]
                warm = plans[0].pop(0)
                await make(first[0][1], warm)
                await on_screen(first[0][1], warm)
                await first[0][1].wait_for_function(IDLE_JS, timeout=START_TIMEOUT_S * 1000, polling=100)
                result["rss_1_session_mb"] = vm_rss_mb(process.pid)
                result["warm_s"] = round(time.monotonic() - started, 2)
                log(f"  one session, one list: {result['warm_s']} s,"
                    f" server RSS {result['rss_1_session_mb']:.0f} MB")
                others = await asyncio.gather(*(open_campanhas(browser, url) for _ in range(sessions - 1)))
                opened = first + list(others)
                log(f"  {sessions} sessions on Campanhas, server RSS {vm_rss_mb(process.pid):.0f} MB")
                cpu_before, wall_before = cpu_seconds(process.pid), time.monotonic()
                harness_before = sum(os.times()[:2])
                until = time.monotonic() + seconds
                seen = await asyncio.gather(*(
                    manage(page, steps, until, seed=1000 + i)
                    for i, ((_, page), steps) in enumerate(zip(opened, plans, strict=True))))
                wall = time.monotonic() - wall_before
                cpu_after = cpu_seconds(process.pid)
                harness = sum(os.times()[:2]) - harness_before
                for _, page in opened:
                    await page.wait_for_function(IDLE_JS, timeout=START_TIMEOUT_S * 1000, polling=100)
                result["rss_n_sessions_mb"] = vm_rss_mb(process.pid)
                result["vm_hwm_mb"] = vm_hwm_mb(process.pid)
                result["cpu"] = {
                    "wall_s": round(wall, 1),
                    "server_s": round(cpu_after[0] - cpu_before[0], 1),
                    "browser_s": round(cpu_after[1] - cpu_before[1], 1),
                    "harness_s": round(harness, 1),
                    "cores": os.cpu_count(),
                }
            finally:
                await browser.close()
    return result, list(seen)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def measure(db: Path, now: str, sessions: int = 20, seconds: float = 60.0, log=print,
            client: str = "browser") -> dict:
    """``sessions`` browser sessions on one dashboard server, each changing presets and terms for
    ``seconds``.

    Args:
        db: the benchmark base (``benchmarks.base.ensure_base``).
        now: its reference time (``VITRINE_NOW``; the base's ``demo_now``).
        sessions: browser sessions at once (at least 2).
        seconds: how long every session keeps making changes.
        log: where progress lines go.
        client: ``"browser"`` (Chromium, one context a session) or ``"websocket"`` (the browser's
            protocol without a page: the server's share alone, ``benchmarks/crowd_ws.py``).

    Returns:
        A JSON-ready dict: ``latencies_s`` (change to counts on screen), ``p95_s``, ``median_s``,
        ``changes``, ``errors`` (texts), ``rss_1_session_mb``, ``rss_n_sessions_mb``,
        ``mb_per_extra_session``, ``vm_hwm_mb`` and ``cpu`` (seconds of server and browser).
    """
    if sessions < 2:
        raise ValueError("the growth per extra session needs at least 2 sessions")
    started = time.monotonic()
    expected = Expected(db, now)
    plans = [plan(expected, seed=i) for i in range(sessions)]
    del expected  # the frame is the harness's, not the server's: let it go before the browsers
    log(f"  {sessions} plans of {PLANNED} changes in {time.monotonic() - started:.0f} s")
    if client == "websocket":
        from benchmarks import crowd_ws

        result, seen = asyncio.run(crowd_ws.crowd(db, now, sessions, seconds, plans, log))
    else:
        result, seen = asyncio.run(_crowd(db, now, sessions, seconds, plans, log))
    latencies = [t for s in seen for t in s.latencies]
    result["latencies_s"] = [round(t, 3) for t in latencies]
    result["changes"] = len(latencies)
    result["per_session_changes"] = [len(s.latencies) for s in seen]
    result["kinds"] = {kind: sum(s.kinds.get(kind, 0) for s in seen) for kind in ("preset", "add", "remove")}
    result["errors"] = [error for s in seen for error in s.errors]
    result["p95_s"] = round(_p95(latencies), 3) if latencies else None
    result["median_s"] = round(statistics.median(latencies), 3) if latencies else None
    result["max_s"] = max(latencies) if latencies else None
    one, many = result.get("rss_1_session_mb"), result.get("rss_n_sessions_mb")
    result["mb_per_extra_session"] = round((many - one) / (sessions - 1), 2) if one and many else None
    return result


def figures(result: dict, figure: type) -> list:
    """The rows of ``make bench``'s table for ``result`` (``figure``: benchmarks' ``Figure``)."""
    who = "websocket clients" if result.get("client") == "websocket" else "browser sessions"
    n = f"{result['sessions']} {who}"
    p95, per_session = result.get("p95_s"), result.get("mb_per_extra_session")
    errors = len(result["errors"])
    cpu = result.get("cpu") or {}
    return [
        figure(f"{n} at once: change to counts on screen, p95", "s", p95, f"≤ {P95_BUDGET_S:g} s",
               None if p95 is None else p95 <= P95_BUDGET_S, result["latencies_s"],
               note=f"{result['changes']} changes in {result['seconds']:g} s; server {cpu.get('server_s')}"
                    f" CPU s, browser {cpu.get('browser_s')} CPU s on {cpu.get('cores')} cores"),
        figure(f"{n} at once: errors", "", errors, "= 0", errors == 0,
               note="; ".join(result["errors"])[:300]),
        figure(f"{n} at once: server memory per extra session", "MB", per_session,
               f"≤ {MB_PER_SESSION_BUDGET:g} MB",
               None if per_session is None else per_session <= MB_PER_SESSION_BUDGET,
               note=f"RSS {result.get('rss_1_session_mb') or 0:.0f} MB with 1 session, "
                    f"{result.get('rss_n_sessions_mb') or 0:.0f} MB with {result['sessions']};"
                    f" peak {result.get('vm_hwm_mb') or 0:.0f} MB"),
        figure(f"{n} at once: change to counts on screen, median", "s", result.get("median_s"),
               runs=result["latencies_s"]),
        figure(f"{n} at once: changes measured", "", result["changes"],
               note=", ".join(f"{kind} {count}" for kind, count in result["kinds"].items())),
    ]


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--sessions", type=int, default=20)
    options.add_argument("--seconds", type=float, default=60.0)
    options.add_argument("--db", type=Path, default=None, help="the base (default: the 100,000-customer one)")
    options.add_argument("--client", choices=("browser", "websocket"), default="browser",
                         help="Chromium sessions (default) or websocket clients (the server alone)")
    options.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = options.parse_args(argv)

    from benchmarks.__main__ import Figure, report
    from benchmarks.base import ensure_base
    from services.store.sqlite import SqliteStore

    log = (lambda line: print(line, file=sys.stderr)) if args.json else print
    db = args.db or ensure_base(100_000, 7, log=log)
    now = SqliteStore(db).get_meta("demo_now")
    result = measure(db, now, args.sessions, args.seconds, log=log, client=args.client)
    rows = figures(result, Figure)
    result["ok"] = all(row.met is not False for row in rows)
    return report(result, rows, args.json)


if __name__ == "__main__":
    sys.exit(main())
