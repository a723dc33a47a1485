"""A sync killed with SIGKILL at any moment leaves the mirror as it was or as the base is: never half.

Each run copies a mirror synced before a change, edits the fake base, starts
``python -m services sync --full`` and kills it at a random moment (or the instant its
transaction starts reaching the WAL); the file must then pass ``integrity_check`` and hold
either the old copy (and no new event) or the new one with the events of what changed.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from services.store.airtable.sync import sync
from tests.airtable_helpers import TOKEN, make_base
from tests.fake_airtable import FakeAirtable

ROOT = Path(__file__).resolve().parents[1]
RUNS = 20


def _state(db: Path) -> tuple[list[str], frozenset[str], int]:
    """``(integrity_check, the names held, events)`` of the mirror file."""
    connection = sqlite3.connect(db)
    try:
        check = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        names = frozenset(row[0] for row in connection.execute("SELECT name FROM customers"))
        events = connection.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        connection.close()
    return check, names, events


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def test_a_sync_killed_at_any_moment_leaves_the_old_copy_or_the_new_one(tmp_path: Path) -> None:
    with FakeAirtable(tokens=[TOKEN], rate_limit_per_sec=None, block_seconds=0.2, seed=8) as fake:
        base = make_base(fake, customers=1500)
        template = tmp_path / "mirror.db"
        sync(base.store(template), full=True)
        before = _state(template)
        assert before[0] == ["ok"] and before[2] == 0  # a first copy has no dates
        for record in fake.records(base.base_id, "Customers")[:300]:
            fake.edit_record(base.base_id, "Customers", record["id"],
                             {"name": f"Renomeado {record['id']}", "interests_all": base.items(["Daytona"])})
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("AIRTABLE_")},
               "AIRTABLE_API_KEY": TOKEN, "AIRTABLE_BASE_ID": base.base_id,
               "AIRTABLE_ENDPOINT_URL": fake.url, "VITRINE_SECRETS": str(tmp_path / "none.toml")}

        def start(db: Path) -> subprocess.Popen:
            return subprocess.Popen([sys.executable, "-m", "services", "--db", str(db), "sync", "--full"],
                                    cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        whole = tmp_path / "whole.db"
        shutil.copy(template, whole)
        started = time.monotonic()
        assert start(whole).wait(120) == 0
        duration = time.monotonic() - started
        after = _state(whole)
        assert after[0] == ["ok"] and after[1] != before[1] and after[2] > 0

        chance = random.Random(20261129)
        killed = 0
        for run in range(RUNS):
            db = tmp_path / f"run{run}.db"
            shutil.copy(template, db)
            wal = Path(f"{db}-wal")
            process = start(db)
            if run % 2:
                while process.poll() is None and not _size(wal):
                    try:
                        process.wait(timeout=0.001)
                    except subprocess.TimeoutExpired:
                        pass
            else:
                try:
                    process.wait(timeout=chance.uniform(0.05, 1.0) * duration)
                except subprocess.TimeoutExpired:
                    pass
            process.kill()
            killed += process.wait(30) == -9
            state = _state(db)
            assert state[0] == ["ok"], (run, state[0])
            assert state[1:] in (before[1:], after[1:]), run
        assert killed >= 8  # most runs were cut short (a slow machine lets a few finish)
