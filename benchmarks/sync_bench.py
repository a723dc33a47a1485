"""Sync throughput at Airtable's real rate limit: ``python -m services sync`` against the local fake.

Run: ``.venv/bin/python benchmarks/sync_bench.py [--customers 20000] [--json]``

A fake Airtable (tests/fake_airtable.py) enforces the real limit: 5 requests per second
per base, and a 30 s block after a 429. The CLI, in a subprocess configured only through
``AIRTABLE_*`` like a user's, mirrors the base with its default policy. The ceiling is
5 requests/s x 100 records a page = 500 records/s; "done" is 90% of it. Then a second
``sync`` with nothing changed must cost exactly one request.
"""

from __future__ import annotations

import argparse
import json
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

from tests.airtable_helpers import TOKEN, make_base  # noqa: E402
from tests.fake_airtable import FakeAirtable  # noqa: E402

CEILING = 5 * 100  # requests per second per base x records per page
TARGET = 0.90
_SUMMARY = re.compile(r"(\d+) registros lidos.*?(\d+) requisições em ([\d.]+) s")


def run_cli(fake: FakeAirtable, base_id: str, db: Path, *args: str) -> tuple[float, str]:
    """``python -m services --db DB sync ARGS`` pointed at the fake; (wall seconds, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRTABLE_")}
    env.update(AIRTABLE_API_KEY=TOKEN, AIRTABLE_BASE_ID=base_id, AIRTABLE_ENDPOINT_URL=fake.url,
               VITRINE_DB=str(db), PYTHONIOENCODING="utf-8")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "services", "--db", str(db), "sync", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"sync failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return wall, done.stderr


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--customers", type=int, default=20_000)
    options.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = options.parse_args(argv)

    with FakeAirtable(tokens=[TOKEN], rate_limit_per_sec=5, block_seconds=30.0, seed=5) as fake, \
            tempfile.TemporaryDirectory() as tmp:
        base = make_base(fake, customers=args.customers)
        db = Path(tmp) / "mirror.db"
        fake.reset_stats()
        wall, stderr = run_cli(fake, base.base_id, db, "--full")
        requests = fake.count()
        blocked = sum(1 for r in fake.log if r.status == 429)
        match = _SUMMARY.search(stderr.replace("\r", "\n"))
        records, sync_seconds = (int(match[1]), float(match[3])) if match else (args.customers, wall)
        rate = records / sync_seconds
        time.sleep(1.1)  # a fresh rate window, as a later refresh would have
        fake.reset_stats()
        run_cli(fake, base.base_id, db)
        unchanged = fake.count()

    result = {
        "customers": records,
        "sync_seconds": round(sync_seconds, 2),
        "cli_wall_seconds": round(wall, 2),
        "records_per_second": round(rate, 1),
        "ceiling_records_per_second": CEILING,
        "share_of_ceiling": round(rate / CEILING, 4),
        "requests": requests,
        "rate_limited_429": blocked,
        "incremental_unchanged_requests": unchanged,
        "ok": rate / CEILING >= TARGET and blocked == 0 and unchanged == 1,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"full sync: {records} customers in {sync_seconds:.1f} s (CLI wall {wall:.1f} s, "
              f"{requests} requests, {blocked} x 429)")
        print(f"throughput: {rate:.0f} records/s = {rate / CEILING:.1%} of the {CEILING} records/s ceiling"
              f" (target {TARGET:.0%})")
        print(f"incremental sync with nothing changed: {unchanged} request(s) (target 1)")
        print("OK" if result["ok"] else "NOT OK")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
