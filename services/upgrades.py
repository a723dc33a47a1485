"""How long customers take to move up a price tier, dated by the timeline (SPEC §7, §11)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from services.catalog import TIER_ORDER
from services.frame import CustomerData
from services.tally import history_rows, ordered
from services.timeline import INTERESSE, micros_of
from services.timeline_index import asked_items, customer_rows, per_frame
from services.timeline_index import ordered as in_time_order

_NEVER = np.iinfo(np.int64).max


def first_upgrade_days(
    data: CustomerData, events: pd.DataFrame, now: datetime | None = None
) -> tuple[float | None, int]:
    """Median days from a customer's first brand to a brand of a higher price tier.

    The first brand is the first branded item of the history (as in the journeys);
    it is dated by its first ``interesse`` event, the move up by the first asking event
    (``interesse`` or ``retorno``) at or after it with a product of a higher tier. Only
    customers whose first brand is of a known tier and for whom the timeline dates both
    count: what predates the timeline has no date.

    Args:
        data: the customer frame, scoped to the allowed stores.
        events: the event frame (``timeline.EVENT_COLUMNS``), any scope: other customers are
            ignored. Its asking items are read once per frame (``timeline_index``).
        now: ignore events after it (default: none ignored).

    Returns:
        ``(median days, customers counted)``; ``(None, 0)`` when nobody counts.
    """
    brand, rank, first_brand, first_rank = data.derived("upgrades.first_brands", _first_brands)
    order, items = in_time_order(events), asked_items(events)
    position, key = items.position, items.key
    if now is not None:  # items come in time order: those up to ``now`` are a prefix
        stop = np.searchsorted(position, np.searchsorted(order.at, micros_of(now), side="right"))
        position, key = position[:stop], key[:stop]
    # Each item's customer (a row of ``data``) and product row; only customers whose first
    # brand has a known tier can move up, and only known products count. Millions of items:
    # masks rather than index arrays, and times read only for the items that need one.
    rows = np.append(customer_rows(events, data), -1).astype(np.int32)
    item_cid = rows[order.customer[position]]
    product = np.append(data.products.index.get_indexer(items.keys), -1).astype(np.int32)[key]
    keep = (item_cid >= 0) & (product >= 0)
    keep &= first_rank[np.maximum(item_cid, 0)] > 0
    item_cid, product, position = item_cid[keep], product[keep], position[keep]
    is_interesse = per_frame(events, "upgrades.interesse", _interesse_items)[:len(keep)][keep]
    del keep
    item_brand, item_rank = brand[product], rank[product]
    del product

    n = len(data.customers)
    start = np.full(n, _NEVER)
    first_mention = is_interesse & (item_brand == first_brand[item_cid])
    np.minimum.at(start, item_cid[first_mention], order.at[position[first_mention]])
    del first_mention, is_interesse, item_brand
    dated = start < _NEVER
    higher = item_rank > first_rank[item_cid]
    higher &= dated[item_cid]
    who, when = item_cid[higher], order.at[position[higher]]
    del higher
    after = when >= start[who]
    moved = np.full(n, _NEVER)
    np.minimum.at(moved, who[after], when[after])
    counted = dated & (moved < _NEVER)
    if not counted.any():
        return None, 0
    days = (moved[counted] - start[counted]) / 86_400e6
    return float(np.median(days)), int(counted.sum())


def _interesse_items(events: pd.DataFrame) -> np.ndarray:
    """Per asking item (``asked_items``): whether its event is an ``interesse`` (once per frame)."""
    order, items = in_time_order(events), asked_items(events)
    kinds = pd.Categorical(events["kind"])
    is_interesse = np.append(pd.Index(kinds.categories, dtype=object) == INTERESSE, False)[kinds.codes]
    if order.rows is not None:
        is_interesse = is_interesse[order.rows]
    return is_interesse[items.position]


def _first_brands(data: CustomerData) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per product row: its brand code (-1: none; one more row for an unknown product) and tier
    rank (0: unknown); per customer: the brand code (-2: none) and tier rank of the first
    branded item of the history. Kept with the frame: the timeline does not change them."""
    products = data.products
    rank = np.array(
        [TIER_ORDER.get(tier, 0) if isinstance(tier, str) else 0 for tier in products["tier"]] + [0],
        dtype=np.int8,
    )
    brand = np.append(pd.factorize(products["brand"].to_numpy())[0], -1).astype(np.int32)
    history = data.history_items
    cid_h, _, row_h = ordered(
        history["cid"].to_numpy().astype(np.int64), history["pos"].to_numpy(),
        history_rows(data),
    )
    branded = brand[row_h] >= 0
    cid_h, row_h = cid_h[branded], row_h[branded]
    starts = np.r_[True, cid_h[1:] != cid_h[:-1]] if len(cid_h) else np.array([], dtype=bool)
    n = len(data.customers)
    first_brand = np.full(n, -2, dtype=np.int32)  # -2 matches no item's brand
    first_rank = np.zeros(n, dtype=np.int8)
    first_brand[cid_h[starts]] = brand[row_h[starts]]
    first_rank[cid_h[starts]] = rank[row_h[starts]]
    return brand, rank, first_brand, first_rank
