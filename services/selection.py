"""Who is on a campaign list, in which tier and in what order, without rendering a row (SPEC §5).

``select`` is the part of a list that every control change needs (the counts, the order);
rendering names, matches and messages is left to the rows actually shown or downloaded.
Its cost grows with the customers who match, not with the base: every per-customer
column it reads is computed once per frame (``CustomerData.derived``), and a product's
customers come from an index built once per frame (``by_product``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from services import list_columns
from services.catalog import terms_mask
from services.frame import CustomerData

EXCLUSION_REASONS: tuple[str, ...] = (
    "opted_out", "invalid_phone", "recently_active", "duplicate_phone",
)
E164_PATTERN = r"\+[1-9]\d{7,14}"
DAY_NS = 86_400 * 10**9
_NAT = np.iinfo(np.int64).min
_KEPT_TERMS = 64  # term lists whose product matches each frame keeps


@dataclass(frozen=True)
class Selection:
    """A list before its rows are rendered.

    Attributes:
        chosen: the customers of the list (frame positions), in list order: primary first,
            then the most recent interaction, then the record order.
        is_primary: per row of ``chosen``, whether it is primary.
        hit: per product row (``list_columns.products``), whether a term matches it; None
            without terms.
        recent_only: only ``interests`` items count as matches (scope ``recent``).
        excluded: customers left out, by reason (every reason present).
        why: per customer of the frame, the place of its reason in ``EXCLUSION_REASONS``,
            -1 when not left out.
        primary: per customer of the frame, whether it matched in the primary tier.
    """

    chosen: np.ndarray
    is_primary: np.ndarray
    hit: np.ndarray | None
    recent_only: bool
    excluded: dict[str, int]
    why: np.ndarray
    primary: np.ndarray

    @property
    def counts(self) -> tuple[int, int]:
        """(primary rows, secondary rows)."""
        primary = int(self.is_primary.sum())
        return primary, len(self.chosen) - primary


@dataclass(frozen=True)
class Columns:
    """The per-customer columns every list reads, in frame order (computed once per frame)."""

    last_ns: np.ndarray  # last interaction, int64 ns since the epoch; ``_NAT`` when unknown
    known: np.ndarray
    depth: np.ndarray
    opt_out: np.ndarray
    valid_phone: np.ndarray
    numbers: np.ndarray  # one code per (store, phone key); -1 without a phone key
    shared: np.ndarray  # whether another customer of the frame has the same number
    by_recency: np.ndarray  # frame positions: the most recent interaction first, unknown last


def columns(data: CustomerData) -> Columns:
    """``Columns`` of ``data``, computed on first use and kept with the frame."""
    return data.derived("selection.columns", _columns_of)


def _columns_of(data: CustomerData) -> Columns:
    customers = data.customers
    stamps = pd.to_datetime(customers["last_interaction"], utc=True)
    last_ns = stamps.dt.as_unit("ns").array.asi8.copy()
    known = last_ns != _NAT
    numbers = _phone_numbers(customers)
    with_number = numbers >= 0
    _, inverse, count = np.unique(numbers[with_number], return_inverse=True, return_counts=True)
    shared = np.zeros(len(numbers), dtype=bool)
    shared[with_number] = count[inverse] > 1
    recency = np.where(known, -last_ns, np.iinfo(np.int64).max)
    phones = customers["phone"]
    if phones.dtype != object:  # an empty base: no strings to look at
        phones = phones.astype("string")
    return Columns(
        last_ns=last_ns,
        known=known,
        depth=customers["depth"].to_numpy(np.int64),
        opt_out=customers["opt_out"].to_numpy(bool),
        valid_phone=phones.str.fullmatch(E164_PATTERN).fillna(False).to_numpy(bool),
        numbers=numbers,
        shared=shared,
        by_recency=np.argsort(recency, kind="stable"),
    )


def _phone_numbers(customers: pd.DataFrame) -> np.ndarray:
    stores, _ = pd.factorize(customers["store"])
    keys, uniques = pd.factorize(customers["phone_key"])
    numbers = stores.astype(np.int64) * (len(uniques) + 1) + keys
    numbers[(keys < 0) | (stores < 0)] = -1
    return numbers


@dataclass(frozen=True)
class ProductIndex:
    """The items of ``list_columns.display_order`` grouped by product: a product's customers at once.

    The items of product row ``p`` are ``item[start[p]:start[p + 1]]`` (places in the display
    order), with their customer ``cid`` and whether they come from ``interests``.
    """

    start: np.ndarray
    item: np.ndarray
    cid: np.ndarray
    from_recent: np.ndarray

    def items_of(self, products: np.ndarray) -> np.ndarray:
        """The places (in the display order) of every item of the product rows ``products``."""
        return self.item[_ranges(self.start[products], self.start[products + 1])]

    def customers_of(self, products: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(customers, from ``interests``) of every item of the product rows ``products``."""
        at = _ranges(self.start[products], self.start[products + 1])
        return self.cid[at], self.from_recent[at]


def by_product(data: CustomerData) -> ProductIndex:
    """The ``ProductIndex`` of ``data``, built once per frame."""
    return data.derived("selection.by_product", _index_of)


def _index_of(data: CustomerData) -> ProductIndex:
    d_cid, d_pid, d_recent = list_columns.display_order(data)
    known = np.flatnonzero(d_pid >= 0)
    order = known[np.argsort(d_pid[known], kind="stable")]
    count = np.bincount(d_pid[known], minlength=len(list_columns.products(data)))
    start = np.zeros(len(count) + 1, dtype=np.int64)
    np.cumsum(count, out=start[1:])
    return ProductIndex(start=start, item=order.astype(np.int32), cid=d_cid[order],
                        from_recent=d_recent[order])


def _ranges(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Every integer of ``[starts[i], stops[i])``, range after range."""
    lengths = stops - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return offsets + np.arange(total, dtype=np.int64)


def customer_items(data: CustomerData, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The places (in ``list_columns.display_order``) of every item of the customers ``chosen``,
    customer after customer in that order, each in display order; and each item's row (its
    customer's place in ``chosen``)."""
    start = data.derived("selection.display_start", _display_start)
    lengths = start[chosen + 1] - start[chosen]
    return _ranges(start[chosen], start[chosen + 1]), np.repeat(np.arange(len(chosen)), lengths)


def _display_start(data: CustomerData) -> np.ndarray:
    d_cid, _, _ = list_columns.display_order(data)
    count = np.bincount(d_cid, minlength=len(data.customers))
    start = np.zeros(len(count) + 1, dtype=np.int64)
    np.cumsum(count, out=start[1:])
    return start


def select(data: CustomerData, segment, now_ns: int) -> Selection:
    """Tiers, filters, the customers always left out and the order of a segment's list.

    Args:
        data: the customer frame of the campaign's stores.
        segment: a ``segments.Segment``.
        now_ns: the reference time, ns since the epoch (UTC).

    Returns:
        The ``Selection``; ``segments.build_list`` documents every rule.
    """
    n = len(data.customers)
    col = columns(data)
    recent_only = segment.scope != "all"
    hit = None
    if segment.terms:
        hit = _hits(data, tuple(segment.terms))
        cids, from_recent = by_product(data).customers_of(np.flatnonzero(hit))
        primary = np.zeros(n, dtype=bool)
        primary[cids[from_recent]] = True
        secondary = np.zeros(n, dtype=bool)
        if not recent_only:
            secondary[cids[~from_recent]] = True
            secondary &= ~primary
        candidate = np.flatnonzero(primary | secondary)
    else:
        primary = np.ones(n, dtype=bool)
        candidate = np.arange(n)

    known, last_ns = col.known[candidate], col.last_ns[candidate]
    age_ns = np.where(known, now_ns - last_ns, 0)
    keep = np.ones(len(candidate), dtype=bool)
    if segment.inactive_days is not None:
        keep &= ~known | (age_ns >= segment.inactive_days * DAY_NS)
    depth = col.depth[candidate]
    if segment.min_depth is not None:
        keep &= depth >= segment.min_depth
    if segment.max_depth is not None:
        keep &= depth <= segment.max_depth
    candidate, known, age_ns = candidate[keep], known[keep], age_ns[keep]

    # Always left out, each customer under the first reason that applies.
    left = np.ones(len(candidate), dtype=bool)
    why = np.full(n, -1, dtype=np.int64)
    excluded: dict[str, int] = {}
    for code, reason in enumerate(EXCLUSION_REASONS):
        if reason == "opted_out":
            out = col.opt_out[candidate]
        elif reason == "invalid_phone":
            out = ~col.valid_phone[candidate]
        elif reason == "recently_active" and segment.quiet_days:
            # A date in the future (a skewed clock) is as recent as it gets.
            out = known & (age_ns < segment.quiet_days * DAY_NS)
        elif reason == "duplicate_phone":
            out = _duplicate_phones(col, candidate, left, primary)
        else:
            out = np.zeros(len(candidate), dtype=bool)
        out &= left
        excluded[reason] = int(out.sum())
        left &= ~out
        why[candidate[out]] = code

    # Order: primary first, then the most recent interaction, then the record order.
    on_list = np.zeros(n, dtype=bool)
    on_list[candidate[left]] = True
    ordered = col.by_recency[on_list[col.by_recency]]
    first = primary[ordered]
    chosen = np.concatenate([ordered[first], ordered[~first]])
    is_primary = np.zeros(len(chosen), dtype=bool)
    is_primary[: int(first.sum())] = True
    return Selection(chosen=chosen, is_primary=is_primary, hit=hit, recent_only=recent_only,
                     excluded=excluded, why=why, primary=primary)


def _hits(data: CustomerData, terms: tuple[str, ...]) -> np.ndarray:
    """Per product row, whether one of ``terms`` matches it; kept per frame for the last terms
    asked (a manager goes back and forth between a few)."""
    found: dict[tuple[str, ...], np.ndarray] = data.derived("selection.hits", lambda _: {})
    if terms not in found:
        if len(found) >= _KEPT_TERMS:
            found.pop(next(iter(found)), None)
        found[terms] = terms_mask(list(terms), list_columns.products(data)).to_numpy(bool)
    return found[terms]


def _duplicate_phones(col: Columns, candidate: np.ndarray, left: np.ndarray,
                      primary: np.ndarray) -> np.ndarray:
    """Which of the rows still ``left`` repeat a WhatsApp number of their store.

    Of the rows of one store that share a phone key, the one kept is primary over
    secondary, then the most recent ``last_interaction`` (unknown is the oldest), then
    the larger depth, then the first record; the others are True. Only numbers that more
    than one customer of the frame has are looked at.
    """
    out = np.zeros(len(candidate), dtype=bool)
    at = np.flatnonzero(left & col.shared[candidate])
    if len(at) < 2:
        return out
    rows = candidate[at]
    numbers = col.numbers[rows]
    recency = np.where(col.known[rows], -col.last_ns[rows], np.iinfo(np.int64).max)
    # lexsort: the last key is the first compared; ``rows`` keeps the record order in a tie.
    order = np.lexsort((rows, -col.depth[rows], recency, ~primary[rows], numbers))
    grouped = numbers[order]
    repeated = np.zeros(len(order), dtype=bool)
    repeated[1:] = grouped[1:] == grouped[:-1]
    out[at[order]] = repeated
    return out
