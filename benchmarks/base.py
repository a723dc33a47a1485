"""The synthetic base of the benchmarks: the demo at 100,000 customers, with deeper histories.

The demo generator gives about 6 history items per customer; a chain's long-standing base
holds more, so every customer with a clean journey also gets a few older conversations
(recorded before the first one the demo replayed) over a wider catalog: each demo title
with a few reference numbers ("Submariner ref. 1042"), as free-text bases write them.
The file is kept under ``bench-results/`` and reused while size, seed and this module's
``VERSION`` are the same.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.catalog import DEMO_CATALOG
from services.demo import generate
from services.interests import dedupe, iso, parse_time, product_key, record_batch
from services.store.sqlite import SqliteStore

VERSION = 2  # 2: the demo's year of events (the timeline)
RESULTS = Path(__file__).resolve().parents[1] / "bench-results"
VARIANTS_PER_TITLE = 12
EXTRA_EVENTS = (1, 5)


def base_path(size: int, seed: int) -> Path:
    """Where the base of ``size`` customers and ``seed`` lives."""
    return RESULTS / f"base-{size}-seed{seed}-v{VERSION}.db"


def ensure_base(size: int, seed: int, log=print) -> Path:
    """The benchmark base, generated on first use (about a minute at 100,000)."""
    path = base_path(size, seed)
    if path.exists() and SqliteStore(path).get_meta("bench_ready") == "1":
        return path
    for stale in path.parent.glob(path.name + "*"):
        stale.unlink()
    started = time.perf_counter()
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    store = SqliteStore(path)
    log(f"Generating the base of {size} customers (seed {seed}) in {path}…")
    generate(store, size, seed, now=now)
    deepen(store, seed, now)
    store.set_meta("bench_ready", "1")
    log(f"Base ready in {time.perf_counter() - started:.0f} s.")
    return path


def _titles(seed: int) -> list[str]:
    rng = random.Random(seed)
    titles = [title for title, *_ in DEMO_CATALOG]
    for title, *_ in DEMO_CATALOG:
        titles.extend(f"{title} ref. {rng.randrange(1000, 9999)}" for _ in range(VARIANTS_PER_TITLE))
    return titles


def deepen(store: SqliteStore, seed: int, now: datetime) -> None:
    """Older conversations before each clean journey, replayed through the recording rule.

    Only records whose two fields are lists obeying the rule are touched, so the demo's
    messy records stay exactly as messy as the demo made them.
    """
    rng = random.Random(seed + 1)
    titles = _titles(seed)
    horizon = now - timedelta(days=2 * 365)
    updates = []
    with sqlite3.connect(store.path) as db:
        rows = db.execute(
            "SELECT id, interests, interests_all, created_at FROM customers"
        ).fetchall()
    for id_, recent_text, history_text, created_text in rows:
        recent, history = _list(recent_text), _list(history_text)
        created = parse_time(json.loads(created_text)) if created_text else None
        if not history or recent is None or created is None or not _obeys_rule(recent, history):
            continue
        old_recent: list[str] = []
        old_history: list[str] = []
        for _ in range(rng.randint(*EXTRA_EVENTS)):
            batch = list(dict.fromkeys(rng.choice(titles) for _ in range(rng.randint(1, 3))))
            old_recent, old_history = record_batch(old_recent, old_history, batch)
        # The later journey comes after: its mentions are the most recent ones.
        new_history = dedupe([*old_history, *history])
        keys = {product_key(item) for item in recent}
        tail = [item for item in old_recent if product_key(item) not in keys]
        new_recent = [*tail, *recent][-5:] if len(recent) < 5 else recent
        span = max((created - horizon).total_seconds(), 86_400)
        new_created = created - timedelta(seconds=rng.uniform(0, span))
        updates.append((
            json.dumps(new_recent, ensure_ascii=False),
            json.dumps(new_history, ensure_ascii=False),
            json.dumps(iso(new_created)),
            id_,
        ))
    with store.connect() as db:
        db.executemany(
            "UPDATE customers SET interests = ?, interests_all = ?, created_at = ? WHERE id = ?",
            updates,
        )


def _list(text: str | None) -> list[str] | None:
    value = json.loads(text) if text else None
    return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def _obeys_rule(recent: list[str], history: list[str]) -> bool:
    keys = [product_key(item) for item in history]
    return (
        len(recent) <= 5
        and len(set(keys)) == len(keys)
        and all(item == item.strip() and item for item in history)
        and {product_key(item) for item in recent} <= set(keys)
        and len(dedupe(recent)) == len(recent)
    )
