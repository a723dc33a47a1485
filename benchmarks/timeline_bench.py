"""Timeline budgets on the benchmark base (a year of events): the card's timeline (20 ms), trending
over the timeline (300 ms), the 12-week history (500 ms), and the event table's size on disk."""

from __future__ import annotations

import random
import sqlite3
import statistics
from datetime import datetime
from pathlib import Path


def measure(db: Path, data, now: datetime, runs: int, log, timed, budget_ms, figure) -> list:
    """The timeline figures; ``timed``, ``budget_ms`` and ``figure`` are the main table's helpers."""
    from services.store.events import EventLog
    from services.trends import trending
    from services.weekly import weekly_metrics

    log_ = EventLog(db)
    read_times, events = timed(lambda: log_.frame(), max(1, min(runs, 3)))
    log(f"  timeline: {len(events):,} events, {events['at'].min():%d/%m/%Y} to {events['at'].max():%d/%m/%Y}")
    rng = random.Random(5)
    ids = rng.sample(sorted(set(events["customer_id"].astype(str))), 20)
    card = []
    for customer_id in ids:
        times, _ = timed(lambda c=customer_id: log_.for_customer(c, limit=31), 3)
        card.append(statistics.median(times))
    trend_times, found = timed(lambda: trending(data, events=events, now=now), runs)
    weekly_times, weekly = timed(lambda: weekly_metrics(data, events, now), runs)
    assert found.mode == "timeline", found.reason
    assert weekly["week_end"].nunique() == 12
    with sqlite3.connect(db) as connection:
        sizes = dict(connection.execute(
            "SELECT name, sum(pgsize) FROM dbstat WHERE name = 'events' OR name LIKE 'events\\_%' ESCAPE '\\'"
            " GROUP BY name"
        ).fetchall())
    total = sum(sizes.values())
    return [
        figure("event frame read (once per timeline version)", "ms", statistics.median(read_times),
               runs=read_times, note=f"{len(events):,} events"),
        budget_ms("card timeline (one customer's events)", card, 20, "median of 20 customers"),
        budget_ms("trending over the timeline (30 vs 90 days)", trend_times, 300,
                  f"{int(found.products['trending'].sum())} products trending"),
        budget_ms("12-week metric history (per store and total)", weekly_times, 500),
        figure("event table on disk (with its indexes)", "MB", total / 1e6,
               note=f"{total / max(len(events), 1):.0f} bytes per event"),
    ]
