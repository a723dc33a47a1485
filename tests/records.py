"""Raw customer records for small hand-worked frames (the shape every source hands to ``build``)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from services.frame import CustomerData, build


def raw_record(
    n: int, history: Sequence[str] = ("Submariner",), recent: Sequence[str] | None = None,
    **fields: object,
) -> dict[str, object]:
    """Customer ``n`` of store "Jardins" with ``history``; ``recent`` defaults to its last 5 items."""
    base: dict[str, object] = {
        "id": f"rec{n}",
        "store": "Jardins",
        "phone": f"+5511987654{n:03d}",
        "name": f"Cliente {n}",
        "interests": list(history[-5:] if recent is None else recent),
        "interests_all": list(history),
        "created_at": "2026-01-10T10:00:00Z",
        "last_interaction": "2026-02-20T10:00:00Z",
        "opt_out": False,
    }
    base.update(fields)
    return base


def frame_of(*records: dict[str, object]) -> CustomerData:
    """The customer frame of ``records``, built as the app builds it."""
    return build(pd.DataFrame(list(records)))
