"""Counting over the exploded item tables (product rows, attribute codes, distinct pairs), shared by
the analytics (SPEC §7), and the pt-BR numbers their readings quote."""

from __future__ import annotations

import numpy as np
import pandas as pd

from services.catalog import TIER_ORDER
from services.wording import number

#: The fewest customers behind a figure before it is ranked or quoted.
MIN_CUSTOMERS = 5
TIER_BY_RANK = {rank: tier for tier, rank in TIER_ORDER.items()}


# --- pt-BR numbers -------------------------------------------------------------


def times(lift: float) -> str:
    """A ratio with one decimal and a comma: ``times(2.06) == "2,1×"``."""
    return number(lift, 1) + "×"


def product_rows(items: pd.DataFrame, products: pd.DataFrame) -> np.ndarray:
    """The row of ``products`` of each item (-1 when its key is not there)."""
    key = items["key"]
    if not isinstance(key.dtype, pd.CategoricalDtype):
        key = key.astype("category")
    where = products.index.get_indexer(key.cat.categories)
    return with_none(where)[key.cat.codes.to_numpy()]


def history_rows(data) -> np.ndarray:
    """``product_rows`` of ``data.history_items`` (a ``CustomerData``), computed once per frame."""
    return data.derived("tally.history_rows",
                        lambda d: product_rows(d.history_items, d.products).astype(np.int32))


def recent_rows(data) -> np.ndarray:
    """``product_rows`` of ``data.recent_items`` (a ``CustomerData``), computed once per frame."""
    return data.derived("tally.recent_rows",
                        lambda d: product_rows(d.recent_items, d.products).astype(np.int32))


def history_codes(data, column: str) -> tuple[np.ndarray, np.ndarray]:
    """``attribute_codes`` of ``data.history_items`` for ``column``, computed once per frame."""
    def compute(d) -> tuple[np.ndarray, np.ndarray]:
        codes, values = attribute_codes(d.history_items, d.products, column, history_rows(d))
        return codes.astype(np.int32), values  # millions of items: half the memory of int64

    return data.derived(f"tally.history_codes.{column}", compute)


def history_in_order(data) -> bool:
    """Whether ``data.history_items`` come by customer, then place (as ``frame.build`` makes
    them), checked once per frame."""
    def check(d) -> bool:
        items = d.history_items
        cid, pos = items["cid"].to_numpy(), items["pos"].to_numpy()
        return len(cid) < 2 or bool(
            np.all(cid[1:] >= cid[:-1]) and np.all((cid[1:] != cid[:-1]) | (pos[1:] > pos[:-1]))
        )

    return data.derived("tally.history_in_order", check)


# The most distinct values a customer's set of them is kept for, as the bits of one integer:
# customers then share at most 65,536 distinct sets.
MASK_BITS = 16


def value_sets(data, column: str, recent: bool = False) -> np.ndarray | None:
    """Per customer, the values of ``products[column]`` among its items, as bits: bit ``c`` is
    set when an item has value ``c`` of ``attribute_codes`` (the sorted distinct values).

    Items of ``interests`` when ``recent``, else of the history. Computed once per frame (a
    customer's brands depend on that customer alone): one small integer per customer.

    Returns:
        An unsigned array indexed by ``cid``; None when there are more than ``MASK_BITS`` values.
    """
    width = len(pd.unique(data.products[column].dropna().to_numpy()))
    if width > MASK_BITS:
        return None
    part = "recent" if recent else "history"

    def compute(d) -> np.ndarray:
        codes, _ = pd.factorize(d.products[column].to_numpy(), sort=True)
        bit = np.where(codes >= 0, 1 << np.maximum(codes, 0), 0)
        lookup = np.append(bit, 0).astype(np.uint8 if width <= 8 else np.uint16)  # row -1: none
        items, rows = (d.recent_items, recent_rows(d)) if recent else (d.history_items, history_rows(d))
        return _or_by_customer(items["cid"].to_numpy(), lookup[rows], len(d.customers))

    return data.derived(f"tally.value_sets.{part}.{column}", compute)


def _or_by_customer(cid: np.ndarray, bits: np.ndarray, customers: int) -> np.ndarray:
    """``bits`` OR-ed per customer: one reduction per run of a customer's items."""
    sets = np.zeros(customers, dtype=bits.dtype)
    if len(cid):
        starts = np.flatnonzero(np.r_[True, cid[1:] != cid[:-1]])
        np.bitwise_or.at(sets, cid[starts], np.bitwise_or.reduceat(bits, starts))
    return sets


def set_counts(sets: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Customers holding each value, and holding both a and b (``width × width``), from
    ``value_sets``.

    Customers share few distinct sets (at most 16,384 of 14 brands): each is expanded once
    and weighted by its customers.
    """
    distinct, count = np.unique(sets, return_counts=True)
    bits = ((distinct[:, None] >> np.arange(width, dtype=distinct.dtype)) & 1).astype(float)
    # In floats, for the fast product: sums of whole numbers below 2**53 are exact.
    both = np.rint((bits * count[:, None]).T @ bits).astype(np.int64)
    return np.diagonal(both).copy(), both


def with_none(lookup: np.ndarray) -> np.ndarray:
    """``lookup`` with a trailing -1, so that indexing it with -1 gives -1."""
    return np.append(lookup.astype(np.int64), -1)


def attribute_codes(
    items: pd.DataFrame, products: pd.DataFrame, column: str, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-item code of ``products[column]`` (-1: none) and the sorted distinct values.

    ``rows``: the items' ``product_rows`` when already known."""
    codes, values = pd.factorize(products[column].to_numpy(), sort=True)
    rows = product_rows(items, products) if rows is None else rows
    return with_none(codes)[rows], np.asarray(values, dtype=object)


def brand_ranks(brands: np.ndarray, products: pd.DataFrame) -> np.ndarray:
    """Tier rank of each brand (0 when the brand has no known tier)."""
    tiers = products.dropna(subset=["brand"]).groupby("brand")["tier"].first()
    return np.array(
        [TIER_ORDER.get(tiers.get(brand), 0) for brand in brands], dtype=np.int64
    )


# Above this many customer × value cells (bytes of a dense mask, or a quarter of a
# float32 matrix), distinct pairs and co-occurrences are found by sorting instead.
DENSE_LIMIT = 20_000_000


def distinct_pairs(cid: np.ndarray, code: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``(cid, code)`` pairs with ``code >= 0``, sorted by customer then code."""
    ok = code >= 0
    cid, code = cid[ok], code[ok]
    if not len(cid):
        return cid.astype(np.int64), code.astype(np.int64)
    customers = int(cid.max()) + 1
    if customers * width <= DENSE_LIMIT:
        held = np.zeros((customers, width), dtype=bool)
        held[cid, code] = True
        flat = np.flatnonzero(held)
    else:
        # Items come grouped by customer, so a stable sort of the pairs is nearly free.
        flat = np.sort(cid.astype(np.int64) * width + code, kind="stable")
        flat = flat[np.r_[True, flat[1:] != flat[:-1]]]
    return flat // width, flat % width


def count_distinct_sorted(values: np.ndarray) -> int:
    return int(np.count_nonzero(values[1:] != values[:-1]) + 1) if len(values) else 0


def ordered(cid: np.ndarray, pos: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    if len(cid) > 1 and not (
        np.all(cid[1:] >= cid[:-1]) and np.all((cid[1:] != cid[:-1]) | (pos[1:] > pos[:-1]))
    ):
        order = np.lexsort((pos, cid))
        return [cid[order], pos[order], *(a[order] for a in others)]
    return [cid, pos, *others]
