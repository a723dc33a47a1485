"""Sync throughput at Airtable's real rate limit: ``python -m services sync`` against the local fake.

Run: ``.venv/bin/python benchmarks/sync_bench.py [--customers 20000] [--latency-customers 100000]
[--incremental-customers 500000] [--page-latency 0.15] [--changed 0.01] [--skip-latency] [--json]``

A fake Airtable (tests/fake_airtable.py) enforces the real limit: 5 requests per second
per base, and a 30 s block after a 429. The CLI, in a subprocess configured only through
``AIRTABLE_*`` like a user's, mirrors the base with its default policy. The ceiling is
5 requests/s x 100 records a page = 500 records/s; "done" is 90% of it. Then a second
``sync`` with nothing changed must cost exactly one request.

Then the same at ``--latency-customers`` with every page answered ``--page-latency``
seconds late (Airtable's own pace). Vitrine counts each request from its send plus what
its round trip took beyond the quickest recent one (``Throttle``), so with a steady latency
its own ceiling is 5 requests per ``PERIOD`` seconds whatever the latency.

Last, an incremental sync through the CLI over ``--incremental-customers`` after
``--changed`` of them were edited, at the same latency and rate limit: it may cost at
most 1 + ceil(changes / 100) list requests. A first full sync of 500,000 customers at
5 requests/s would take 17 minutes, so that mirror is seeded by the same ``sync`` run in
this process, without throttle, against the fake before it turns its rate limit and
latency on.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from services.store.airtable import ClientPolicy  # noqa: E402
from services.store.airtable.sync import sync  # noqa: E402
from tests.airtable_helpers import TOKEN, make_base  # noqa: E402
from tests.fake_airtable import FakeAirtable  # noqa: E402

CEILING = 5 * 100  # requests per second per base x records per page
TARGET = 0.90
PERIOD = ClientPolicy.period  # the throttle's second, each request counted from its send
_SUMMARY = re.compile(r"(\d+) registros lidos.*?(\d+) requisições em ([\d.]+) s")


def run_cli(fake: FakeAirtable, base_id: str, db: Path, *args: str) -> tuple[float, str]:
    """``python -m services --db DB sync ARGS`` pointed at the fake; (wall seconds, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRTABLE_")}
    env.update(AIRTABLE_API_KEY=TOKEN, AIRTABLE_BASE_ID=base_id, AIRTABLE_ENDPOINT_URL=fake.url,
               VITRINE_DB=str(db), PYTHONIOENCODING="utf-8")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "services", "--db", str(db), "sync", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"sync failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return wall, done.stderr


def full_sync(fake: FakeAirtable, base_id: str, db: Path, customers: int) -> dict[str, float | int]:
    """A first full sync through the CLI: records, seconds, rate, requests and 429s seen by the fake."""
    fake.reset_stats()
    wall, stderr = run_cli(fake, base_id, db, "--full")
    match = _SUMMARY.search(stderr.replace("\r", "\n"))
    records, seconds = (int(match[1]), float(match[3])) if match else (customers, wall)
    return {
        "records": records,
        "seconds": seconds,
        "wall": wall,
        "rate": records / seconds,
        "requests": fake.count(),
        "blocked": sum(1 for r in fake.log if r.status == 429),
    }


def measure_plain(customers: int) -> dict[str, object]:
    """The first figures: a full sync without page latency, then an unchanged incremental one."""
    with FakeAirtable(tokens=[TOKEN], rate_limit_per_sec=5, block_seconds=30.0, seed=5) as fake, \
            tempfile.TemporaryDirectory() as tmp:
        base = make_base(fake, customers=customers)
        db = Path(tmp) / "mirror.db"
        full = full_sync(fake, base.base_id, db, customers)
        time.sleep(1.1)  # a fresh rate window, as a later refresh would have
        fake.reset_stats()
        run_cli(fake, base.base_id, db)
        unchanged = fake.count()
    return {
        "customers": full["records"],
        "sync_seconds": round(full["seconds"], 2),
        "cli_wall_seconds": round(full["wall"], 2),
        "records_per_second": round(full["rate"], 1),
        "ceiling_records_per_second": CEILING,
        "share_of_ceiling": round(full["rate"] / CEILING, 4),
        "requests": full["requests"],
        "rate_limited_429": full["blocked"],
        "incremental_unchanged_requests": unchanged,
    }


def measure_latency(customers: int, latency: float) -> dict[str, object]:
    """A full sync with ``latency`` per page."""
    with FakeAirtable(tokens=[TOKEN], rate_limit_per_sec=5, block_seconds=30.0, seed=6,
                      page_latency=latency) as fake, tempfile.TemporaryDirectory() as tmp:
        base = make_base(fake, customers=customers)
        full = full_sync(fake, base.base_id, Path(tmp) / "mirror.db", customers)
    return {
        "latency_customers": full["records"],
        "page_latency_seconds": latency,
        "latency_sync_seconds": round(full["seconds"], 2),
        "latency_records_per_second": round(full["rate"], 1),
        "latency_share_of_ceiling": round(full["rate"] / CEILING, 4),
        "latency_throttle_ceiling_share": round(5 / PERIOD * 100 / CEILING, 4),
        "latency_requests": full["requests"],
        "latency_rate_limited_429": full["blocked"],
    }


def measure_incremental(customers: int, latency: float, changed: float) -> dict[str, object]:
    """An incremental sync through the CLI after ``changed`` of ``customers`` were edited.

    The mirror is seeded by ``sync`` in this process, unthrottled, while the fake has no
    rate limit and no latency; then the fake turns both on, as the CLI then meets them.
    """
    with FakeAirtable(tokens=[TOKEN], rate_limit_per_sec=None, block_seconds=30.0, seed=7) as fake, \
            tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        base = make_base(fake, customers=customers)
        db = Path(tmp) / "mirror.db"
        # One walk: five parts would each filter the whole table first, past the read timeout.
        seeded = sync(base.store(db, ClientPolicy(rate=None, timeout=(5.0, 300.0))), full=True, partitions=1)
        seed_seconds = time.monotonic() - started
        fake.rate_limit_per_sec, fake.page_latency = 5, latency
        ids = [r["id"] for r in fake.records(base.base_id, "Customers")]
        edits = max(1, round(len(ids) * changed))
        for i, record_id in enumerate(ids[:: max(1, len(ids) // edits)][:edits]):
            fake.edit_record(base.base_id, "Customers", record_id,
                             {"interests_all": base.items(["Submariner", "Datejust", f"Daytona {i}"])})
        fake.reset_stats()
        wall, stderr = run_cli(fake, base.base_id, db)
        match = _SUMMARY.search(stderr.replace("\r", "\n"))
        return {
            "incremental_customers": seeded.fetched,
            "incremental_seed_seconds": round(seed_seconds, 1),
            "incremental_changed": edits,
            "incremental_fetched": int(match[1]) if match else None,
            "incremental_list_requests": fake.count(kind="list") + fake.count(kind="list_post"),
            "incremental_requests": fake.count(),
            "incremental_cli_wall_seconds": round(wall, 2),
            "incremental_rate_limited_429": sum(1 for r in fake.log if r.status == 429),
            "incremental_budget": 1 + math.ceil(edits / 100),
        }


def figures(result: dict[str, object], figure: type) -> list:
    """The rows of ``make bench``'s table for ``result`` (``figure``: benchmarks' ``Figure``)."""
    share = result["share_of_ceiling"]
    rows = [
        figure("full sync: share of the 500 rec/s ceiling", "%", share, "≥ 90%", share >= TARGET,
               note=f"{result['customers']} customers in {result['sync_seconds']} s, "
                    f"{result['records_per_second']} rec/s, {result['requests']} requests, "
                    f"{result['rate_limited_429']} × 429"),
        figure("unchanged incremental sync: requests", "", result["incremental_unchanged_requests"], "= 1",
               result["incremental_unchanged_requests"] == 1),
    ]
    if "latency_customers" in result:
        latency_ms = round(1000 * float(result["page_latency_seconds"]))
        share = result["latency_share_of_ceiling"]
        rows += [
            figure(f"full sync, {latency_ms} ms a page: share of the 500 rec/s ceiling", "%", share,
                   "≥ 90%", share >= TARGET,
                   note=f"{result['latency_customers']} customers in {result['latency_sync_seconds']} s,"
                        f" {result['latency_records_per_second']} rec/s, {result['latency_requests']}"
                        f" requests, {result['latency_rate_limited_429']} × 429; the throttle allows at"
                        f" most {result['latency_throttle_ceiling_share']:.1%} (5 requests per {PERIOD} s"
                        f" from each send, plus its round trip beyond the quickest)"),
            figure(f"full sync, {latency_ms} ms a page: 429 answers", "", result["latency_rate_limited_429"],
                   "= 0", result["latency_rate_limited_429"] == 0),
        ]
    if "incremental_customers" in result:
        rows.append(
            figure(f"incremental sync after {result['incremental_changed']} changes of"
                   f" {result['incremental_customers']} customers: list requests", "",
                   result["incremental_list_requests"], f"≤ {result['incremental_budget']}",
                   result["incremental_list_requests"] <= result["incremental_budget"],
                   note=f"{result['incremental_fetched']} records read, {result['incremental_requests']}"
                        f" requests in all, {result['incremental_rate_limited_429']} × 429, at"
                        f" {round(1000 * float(result['page_latency_seconds']))} ms a page; mirror"
                        f" seeded unthrottled in {result['incremental_seed_seconds']} s"))
    return rows


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--customers", type=int, default=20_000)
    options.add_argument("--latency-customers", type=int, default=100_000)
    options.add_argument("--incremental-customers", type=int, default=500_000,
                         help="the base of the incremental sync after --changed of it was edited")
    options.add_argument("--page-latency", type=float, default=0.15, help="seconds per page (default 0.15)")
    options.add_argument("--changed", type=float, default=0.01, help="share edited before the last sync")
    options.add_argument("--skip-latency", action="store_true", help="only the first figures")
    options.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = options.parse_args(argv)

    result = measure_plain(args.customers)
    if not args.skip_latency:
        result.update(measure_latency(args.latency_customers, args.page_latency))
        result.update(measure_incremental(args.incremental_customers, args.page_latency, args.changed))
    from benchmarks.__main__ import Figure, report

    rows = figures(result, Figure)
    result["ok"] = all(row.met for row in rows) and result["rate_limited_429"] == 0
    return report(result, rows, args.json)


if __name__ == "__main__":
    sys.exit(main())
