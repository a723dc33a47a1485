"""Campaign budgets: results of a 50,000-member campaign over 1.5M events (300 ms), saving it (1 s).

Run alone: ``.venv/bin/python -m benchmarks.campaigns_bench [--runs 5]``. ``measure()`` returns
the figures in ms, for the main benchmark table.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from services.campaign_results import outcomes, results
from services.campaigns import CONTROLE, ENVIO, Campaign, control_split
from services.catalog import DEMO_CATALOG
from services.segments import PRIMARY, SECONDARY
from services.store.campaigns import CampaignStore

RESULTS_BUDGET_MS = 300.0
SAVE_BUDGET_MS = 1000.0
#: What each figure of ``measure`` is, and its budget in ms.
LABELS: dict[str, tuple[str, float]] = {
    "results": ("results of a 50,000-member campaign among 12, 1.5M events", RESULTS_BUDGET_MS),
    "results_alone": ("results of a 50,000-member campaign alone, 1.5M events", RESULTS_BUDGET_MS),
    "save": ("saving a 50,000-member campaign", SAVE_BUDGET_MS),
}
KINDS = np.array(["interesse", "retorno", "conversa", "visita", "compra"], dtype=object)
SOURCES = np.array(["whatsapp", "loja", "importacao"], dtype=object)


def synthetic(customers: int = 100_000, events: int = 1_500_000, members: int = 50_000, seed: int = 7,
              ) -> tuple[list[Campaign], pd.DataFrame, pd.DataFrame, datetime]:
    """A year of timeline for ``customers``, one big campaign and eleven smaller ones before it."""
    rng = np.random.default_rng(seed)
    now = datetime(2025, 6, 30, 12, tzinfo=UTC)
    start = now - timedelta(days=365)
    ids = np.array([f"rec{i:08d}" for i in range(customers)], dtype=object)
    titles = [title for title, *_ in DEMO_CATALOG]
    offsets = rng.integers(0, 365 * 86_400, events)
    kind = KINDS[rng.choice(5, events, p=[0.35, 0.15, 0.3, 0.12, 0.08])]
    timeline = pd.DataFrame({
        "customer_id": ids[rng.integers(0, customers, events)],
        "store": "Vitrine Jardins",
        "at": pd.to_datetime(start) + pd.to_timedelta(np.sort(offsets), unit="s"),
        "source": SOURCES[rng.choice(3, events, p=[0.7, 0.25, 0.05])],
        "kind": kind,
        "products": [[titles[i]] for i in rng.integers(0, len(titles), events)],
        "value_brl": np.where(kind == "compra", rng.integers(5_000, 200_000, events), np.nan),
    })
    timeline["at"] = timeline["at"].dt.as_unit("ns")
    campaigns, frames = [], []
    for number in range(12):
        size = members if number == 11 else 5_000
        chosen = ids[rng.choice(customers, size, replace=False)]
        split = control_split({PRIMARY: chosen[: size // 3], SECONDARY: chosen[size // 3:]}, 0.1, number)
        sent = now - timedelta(days=12 * (12 - number))
        campaigns.append(Campaign(number + 1, f"Campanha {number + 1}", ("Vitrine Jardins",), "estoque",
                                  {"terms": ["Rolex"]}, {PRIMARY: "Olá"}, "bench", sent, sent,
                                  terms=("Rolex",)))
        frames.append(pd.DataFrame({
            "campaign_id": number + 1, "customer_id": chosen, "store": "Vitrine Jardins",
            "phone": "+5511988887777", "name": "Maria Silva",
            "tier": np.where(np.arange(size) < size // 3, PRIMARY, SECONDARY),
            "group": [split[c] for c in chosen], "matched": [("Submariner",)] * size, "message": "Olá",
        }))
    return campaigns, pd.concat(frames, ignore_index=True), timeline, now


def _timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median wall time and least CPU time, in ms (the CPU figure is steadier on a busy machine)."""
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return statistics.median(walls), min(cpus)


def measure(runs: int = 5) -> dict[str, tuple[float, float]]:
    """``(median wall ms, least CPU ms)`` of: ``results`` (outcomes of all twelve campaigns, last
    touch included, and the results of the big one), ``results_alone`` (the big campaign only)
    and ``save`` (saving the big campaign)."""
    campaigns, members, timeline, now = synthetic()
    big = campaigns[-1]
    mine = members[members["campaign_id"] == big.id]
    assert set(mine["group"]) == {ENVIO, CONTROLE}
    figures = {
        "results": _timed(lambda: results(big, outcomes(campaigns, members, timeline, now=now)), runs),
        "results_alone": _timed(lambda: results(big, outcomes([big], mine, timeline, now=now)), runs),
    }
    with tempfile.TemporaryDirectory() as folder:
        store = CampaignStore(Path(folder) / "bench.db")
        figures["save"] = _timed(lambda: store.save(big, mine), runs)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    figures = measure(parser.parse_args().runs)
    for name, (wall, cpu) in figures.items():
        label, budget = LABELS[name]
        print(f"{label}: {wall:.0f} ms wall, {cpu:.0f} ms CPU (budget {budget:.0f} ms)")


if __name__ == "__main__":
    main()
