"""The SPEC §3 customer journey and the customers around it (card, search and recording tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from services.frame import CustomerData, build
from services.interests import record_batch

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
JARDINS, LEBLON = "Vitrine Jardins", "Vitrine Leblon"

# The user's customer journey (SPEC §3), replayed through the recording rule.
JOURNEY = [
    ["Submariner", "GMT-Master II", "Datejust"],
    ["Anel Diamante", "Cartier Love"],
    ["Nautilus 5711", "Aquanaut", "Calatrava"],
    ["Grand Complications", "Twenty-4", "Golden Ellipse"],
]


def replay(batches: list[list[str]]) -> tuple[list[str], list[str]]:
    recent: list[str] = []
    history: list[str] = []
    for batch in batches:
        recent, history = record_batch(recent, history, batch)
    return recent, history


def record(id_: str, store: str, phone: str, name: str, batches: list[list[str]] | None = None,
           days_ago: int = 20) -> dict[str, object]:
    recent, history = replay(batches or [])
    return {
        "id": id_, "store": store, "phone": phone, "name": name,
        "interests": recent, "interests_all": history,
        "created_at": (NOW - timedelta(days=300)).isoformat(),
        "last_interaction": (NOW - timedelta(days=days_ago)).isoformat(),
        "opt_out": False,
    }


def journey_frame() -> CustomerData:
    """Five customers: the journey's (João, Jardins), three with one product, one without a phone."""
    rows = [
        record("r1", JARDINS, "+5511987654321", "João da Silva", JOURNEY),
        record("r2", JARDINS, "+551133334444", "Mariana Souza", [["Cartier Love"]], days_ago=3),
        record("r3", LEBLON, "+5521987654321", "Ana Lúcia Ribeiro", [["Daytona"]], days_ago=90),
        record("r4", JARDINS, "+551187651111", "Joana Prado", [["Santos de Cartier"]]),
        record("r5", JARDINS, "n/d", "Sem Telefone", []),
    ]
    return build(pd.DataFrame(rows))
