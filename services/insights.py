"""What customers want: brand journeys, trending products and cross-selling (SPEC §7)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
import pandas as pd

from services import tally
from services.catalog import (
    CATEGORY_LABELS,
    ENTRY,
    HAUTE,
    JEWELRY,
    LUXURY,
    TIER_LABELS,
    TIER_ORDER,
    WATCH,
)
from services.frame import CustomerData
from services.tally import (
    MIN_CUSTOMERS,
    TIER_BY_RANK,
    brand_ranks,
    count_distinct_sorted,
    distinct_pairs,
    times,
    with_none,
)
from services.trends import TRENDING_LIFT, Trending, trending
from services.upgrades import first_upgrade_days
from services.wording import number, percent

# Upgrades counted between price tiers, lowest first.
TIER_STEPS: tuple[tuple[str, str], ...] = ((ENTRY, LUXURY), (ENTRY, HAUTE), (LUXURY, HAUTE))
_CATEGORY_PLURALS = {WATCH: "relógios", JEWELRY: "joias"}


# --- journeys ------------------------------------------------------------------


@dataclass(frozen=True)
class Journeys:
    """First brands and how customers move up the price tiers (the paths: ``brand_paths``).

    Attributes:
        first_brands: ``brand, tier, customers, share`` of customers by first brand,
            among customers with at least one branded item; most customers first.
        tier_upgrades: ``from_tier, to_tier, from_label, to_label, starters,
            customers, share``: of customers whose first brand is of ``from_tier``
            (``starters``), those who later asked about a brand of ``to_tier``.
        brand_upgrades: ``from_brand, from_tier, to_brand, to_tier, starters,
            customers, share``: of customers whose path starts at ``from_brand``,
            those who later asked about ``to_brand`` of a higher tier; highest share first.
        branded_customers: customers with at least one branded item.
        upgrade_starters: customers whose first brand is entry or luxury.
        upgraded: of those, customers who later asked about a higher tier.
        readings: Portuguese one-liners from the figures.
    """

    first_brands: pd.DataFrame
    tier_upgrades: pd.DataFrame
    brand_upgrades: pd.DataFrame
    branded_customers: int
    upgrade_starters: int
    upgraded: int
    readings: list[str] = field(default_factory=list)
    upgrade_days: float | None = None
    upgrade_days_customers: int = 0

    @property
    def upgrade_share(self) -> float | None:
        """``upgraded / upgrade_starters``; None when nobody can move up."""
        return self.upgraded / self.upgrade_starters if self.upgrade_starters else None


def _branded_steps(data: CustomerData) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each customer's brand path as codes: ``(cid, brand, brands, ranks)``, repeats collapsed.

    ``cid`` and ``brand`` run in history order, unknown brands skipped; ``brands`` are the
    names of the codes and ``ranks`` their tier ranks.
    """
    history = data.history_items
    brand, brands = tally.history_codes(data, "brand")
    ranks = brand_ranks(brands, data.products)
    cid = history["cid"].to_numpy()
    if not tally.history_in_order(data):
        order = np.lexsort((history["pos"].to_numpy(), cid))
        cid, brand = cid[order], brand[order]
    branded = brand >= 0
    cid, brand = cid[branded], brand[branded]
    keep = _starts(cid)
    keep[1:] |= brand[1:] != brand[:-1]
    return cid[keep], brand[keep], brands, ranks


def brand_paths(data: CustomerData) -> pd.DataFrame:
    """One row per step of each customer's brand path (``cid, step, brand, tier``).

    Repeats are collapsed and unknown brands skipped, in the order of ``interests_all``.
    A row per step of every customer: built on demand, never kept beside the frame.
    """
    cid, brand, brands, ranks = _branded_steps(data)
    starts = np.flatnonzero(_starts(cid))
    step = np.arange(len(cid))
    step -= np.repeat(starts, np.diff(starts, append=len(cid)))
    # Categoricals: a million strings would cost more than the whole journey. The arrays are
    # this call's own: the frame takes them as they are.
    return pd.DataFrame({
        "cid": cid,
        "step": step,
        "brand": pd.Categorical.from_codes(brand, categories=pd.Index(brands, dtype=object)),
        "tier": pd.Categorical.from_codes(
            (ranks - 1).astype(np.int8)[brand], categories=pd.Index([ENTRY, LUXURY, HAUTE], dtype=object)
        ),
    }, copy=False)


def journeys(data: CustomerData, min_customers: int = MIN_CUSTOMERS) -> Journeys:
    """First brands and how customers move up the price tiers, over the customers' history.

    The base keeps no per-interest dates, so "later" means later in
    ``interests_all`` and no time window is claimed. The paths themselves are
    ``brand_paths``.

    Args:
        data: the customer frame, scoped to the allowed stores.
        min_customers: the fewest customers behind a share before a reading quotes it.

    Returns:
        A ``Journeys``.
    """
    cid, brand, brands, ranks = _branded_steps(data)
    n_brands = len(brands)
    starts = np.flatnonzero(_starts(cid))
    first = brand[starts]
    first_by_cid = np.full(len(data.customers), -1, dtype=np.int64)
    first_by_cid[cid[starts]] = first
    tiers = np.array([TIER_BY_RANK.get(rank) for rank in ranks], dtype=object)

    n_branded = len(first)
    first_counts = np.bincount(first, minlength=n_brands)
    present = np.flatnonzero(first_counts)
    first_brands = pd.DataFrame({
        "brand": brands[present],
        "tier": tiers[present],
        "customers": first_counts[present].astype(np.int64),
        "share": first_counts[present] / max(n_branded, 1),
    }).sort_values(["customers", "brand"], ascending=[False, True], ignore_index=True)

    sets = tally.value_sets(data, "brand")
    if sets is None:
        brand_pair_counts, tier_counts, upgraded = _upgrades_of_items(cid, brand, first_by_cid, ranks)
    else:
        brand_pair_counts, tier_counts, upgraded = _upgrades_of_sets(sets, first_by_cid, ranks)
    brand_upgrades = _brand_upgrades(brand_pair_counts, first_counts, brands, tiers)
    starters_by_rank = np.bincount(ranks[first], minlength=4)
    tier_upgrades = _tier_upgrades(tier_counts, starters_by_rank)
    can_move_up = starters_by_rank[TIER_ORDER[ENTRY]] + starters_by_rank[TIER_ORDER[LUXURY]]

    result = Journeys(
        first_brands=first_brands,
        tier_upgrades=tier_upgrades,
        brand_upgrades=brand_upgrades,
        branded_customers=int(n_branded),
        upgrade_starters=int(can_move_up),
        upgraded=upgraded,
    )
    return replace(result, readings=_journey_readings(result, min_customers))


def _starts(cid: np.ndarray) -> np.ndarray:
    """Whether each item is its customer's first, of items grouped by customer."""
    starts = np.ones(len(cid), dtype=bool)
    np.not_equal(cid[1:], cid[:-1], out=starts[1:])
    return starts


def _upgrades_of_sets(
    sets: np.ndarray, first_by_cid: np.ndarray, ranks: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """Customers by first brand and higher brand asked about (n × n), by first tier and
    higher tier (4 × 4), and how many moved up at all, from the customers' brand sets.

    Every brand but the first comes later in the path, so a higher brand anywhere in a
    customer's set is a later one."""
    n = len(ranks)
    # Per first brand, the brands above it (none for a first brand of no known tier).
    above = (ranks[None, :] > ranks[:, None]) & (ranks[:, None] > 0)
    higher = np.append(above @ (1 << np.arange(n)), 0).astype(sets.dtype)
    up = sets & higher[first_by_cid]
    moved = np.flatnonzero(up)
    up, first = up[moved], first_by_cid[moved]
    first_rank = ranks[first]
    # One pass per brand (and per tier) over the customers who moved up.
    brand_pairs = np.zeros((n, n), dtype=np.int64)
    for to in range(n):
        brand_pairs[:, to] = np.bincount(first[(up >> to) & 1 == 1], minlength=n)
    tier_pairs = np.zeros((4, 4), dtype=np.int64)
    for rank in range(1, 4):
        of_rank = sum(1 << int(b) for b in np.flatnonzero(ranks == rank))
        tier_pairs[:, rank] = np.bincount(first_rank[(up & of_rank) != 0], minlength=4)
    return brand_pairs, tier_pairs, len(moved)


def _upgrades_of_items(
    cid: np.ndarray, brand: np.ndarray, first_by_cid: np.ndarray, ranks: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """``_upgrades_of_sets`` from the path's items, for more brands than a set holds."""
    n = len(ranks)
    first_rank = ranks[first_by_cid[cid]]
    higher = (first_rank > 0) & (ranks[brand] > first_rank)
    up_cid, up_brand = cid[higher], brand[higher]
    pair_cid, pair_to = distinct_pairs(up_cid, up_brand, n)
    brand_pairs = np.bincount(first_by_cid[pair_cid] * n + pair_to, minlength=n * n).reshape(n, n)
    tier_cid, tier_to = distinct_pairs(up_cid, ranks[up_brand], 4)
    tier_from = ranks[first_by_cid[tier_cid]]
    tier_pairs = np.bincount(tier_from * 4 + tier_to, minlength=16).reshape(4, 4)
    return brand_pairs, tier_pairs, count_distinct_sorted(up_cid)


def _brand_upgrades(
    counts: np.ndarray, starters: np.ndarray, brands: np.ndarray, tiers: np.ndarray
) -> pd.DataFrame:
    from_b, to_b = np.nonzero(counts)
    frame = pd.DataFrame({
        "from_brand": brands[from_b],
        "from_tier": tiers[from_b],
        "to_brand": brands[to_b],
        "to_tier": tiers[to_b],
        "starters": starters[from_b].astype(np.int64),
        "customers": counts[from_b, to_b].astype(np.int64),
    })
    frame["share"] = frame["customers"] / frame["starters"]
    return frame.sort_values(
        ["share", "customers", "from_brand", "to_brand"],
        ascending=[False, False, True, True],
        ignore_index=True,
    )


def _tier_upgrades(counts: np.ndarray, starters: np.ndarray) -> pd.DataFrame:
    rows = []
    for low, high in TIER_STEPS:
        lo, hi = TIER_ORDER[low], TIER_ORDER[high]
        n = int(starters[lo])
        moved = int(counts[lo, hi])
        rows.append((low, high, TIER_LABELS[low], TIER_LABELS[high], n, moved,
                     moved / n if n else 0.0))
    return pd.DataFrame(rows, columns=[
        "from_tier", "to_tier", "from_label", "to_label", "starters", "customers", "share",
    ])


def _journey_readings(result: Journeys, min_customers: int) -> list[str]:
    readings = []
    if result.branded_customers >= min_customers and len(result.first_brands):
        top = result.first_brands.iloc[0]
        readings.append(f"{percent(top['share'])} começam com {top['brand']}")
    share = result.upgrade_share
    if share is not None and result.upgrade_starters >= min_customers and result.upgraded:
        readings.append(f"{percent(share)} pediram depois uma marca de faixa de preço superior")
    supported = result.brand_upgrades[result.brand_upgrades["starters"] >= min_customers]
    if len(supported):
        top = supported.iloc[0]
        readings.append(
            f"{percent(top['share'])} dos que começaram com {top['from_brand']} "
            f"passaram para {top['to_brand']}"
        )
    return readings


# --- cross-selling -------------------------------------------------------------


@dataclass(frozen=True)
class CrossSelling:
    """Which brands and categories customers ask about together.

    Attributes:
        brands: one row per ordered pair of distinct brands present:
            ``a, b, a_label, b_label, a_customers, b_customers, both, share``
            where ``share = both / a_customers`` (asymmetric), fit for a heatmap.
        categories: the same for categories (``watch``, ``jewelry``), labels in Portuguese.
        top: the brand pairs with the highest share, at least ``min_customers``
            customers of A and one of both.
        readings: Portuguese one-liners from the figures.
    """

    brands: pd.DataFrame
    categories: pd.DataFrame
    top: pd.DataFrame
    readings: list[str] = field(default_factory=list)


def _pairs(values: np.ndarray, customers: np.ndarray, both: np.ndarray) -> pd.DataFrame:
    """One row per ordered pair of distinct values held by someone, from ``tally.set_counts``."""
    present = np.flatnonzero(customers)
    grid_a = np.repeat(present, len(present))
    grid_b = np.tile(present, len(present))
    distinct = grid_a != grid_b
    grid_a, grid_b = grid_a[distinct], grid_b[distinct]
    frame = pd.DataFrame({
        "a": values[grid_a],
        "b": values[grid_b],
        "a_customers": customers[grid_a].astype(np.int64),
        "b_customers": customers[grid_b].astype(np.int64),
        "both": both[grid_a, grid_b].astype(np.int64),
    })
    frame["share"] = frame["both"] / frame["a_customers"]
    return frame


def _item_pairs(cid: np.ndarray, code: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``tally.set_counts`` from the items, for more values than a set holds."""
    held_cid, held = distinct_pairs(cid, code, n)
    return np.bincount(held, minlength=n), _co_occurrence(held_cid, held, n)


def _co_occurrence(held_cid: np.ndarray, held: np.ndarray, n: int) -> np.ndarray:
    """Customers holding both a and b, as an n × n matrix, from sorted distinct pairs."""
    rows = int(held_cid[-1]) + 1 if len(held_cid) else 0
    if rows * n <= tally.DENSE_LIMIT // 4:
        # float32 sums of 0/1 are exact below 2**24 customers.
        matrix = np.zeros((rows, n), dtype=np.float32)
        matrix[held_cid, held] = 1.0
        return np.rint(matrix.T @ matrix).astype(np.int64)
    # Every ordered pair of one customer's values: row i meets each row of its customer.
    per_customer = np.bincount(held_cid)
    k = per_customer[held_cid]
    first_row = (np.cumsum(per_customer) - per_customer)[held_cid]
    offset = np.arange(int(k.sum())) - np.repeat(np.cumsum(k) - k, k)
    a = np.repeat(held, k)
    b = held[np.repeat(first_row, k) + offset]
    return np.bincount(a * n + b, minlength=n * n).reshape(n, n)


def top_pairs(pairs: pd.DataFrame, n: int = 10, min_customers: int = MIN_CUSTOMERS) -> pd.DataFrame:
    """The ``n`` pairs with the highest share, among A with at least ``min_customers``.

    Args:
        pairs: a ``CrossSelling.brands`` or ``.categories`` frame.
        n: how many pairs.
        min_customers: the fewest customers of A for a pair to count.

    Returns:
        The same columns, highest share first (ties: more customers with both).
    """
    supported = pairs[(pairs["a_customers"] >= min_customers) & (pairs["both"] > 0)]
    return supported.sort_values(
        ["share", "both", "a", "b"], ascending=[False, False, True, True], ignore_index=True
    ).head(n)


def cross_selling(data: CustomerData, min_customers: int = MIN_CUSTOMERS) -> CrossSelling:
    """Brand and category pairs in the customers' history.

    Args:
        data: the customer frame, scoped to the allowed stores.
        min_customers: the fewest customers of A before a pair is ranked or quoted.

    Returns:
        A ``CrossSelling``.
    """
    cid = data.history_items["cid"].to_numpy()
    brand, brands = tally.history_codes(data, "brand")
    sets = tally.value_sets(data, "brand")
    counts = _item_pairs(cid, brand, len(brands)) if sets is None else tally.set_counts(sets, len(brands))
    by_brand = _pairs(brands, *counts)
    by_brand.insert(2, "a_label", by_brand["a"])
    by_brand.insert(3, "b_label", by_brand["b"])

    category, categories = tally.history_codes(data, "category")
    # "unknown" is no category: such items stay out of the pairs.
    named = np.isin(categories, [WATCH, JEWELRY])
    sets = tally.value_sets(data, "category")
    if sets is None:
        category = with_none(np.where(named, np.arange(len(categories)), -1))[category]
        counts = _item_pairs(cid, category, len(categories))
    else:
        named_bits = sum(1 << int(c) for c in np.flatnonzero(named))
        counts = tally.set_counts(sets & named_bits, len(categories))
    by_category = _pairs(categories, *counts)
    by_category.insert(2, "a_label", by_category["a"].map(CATEGORY_LABELS))
    by_category.insert(3, "b_label", by_category["b"].map(CATEGORY_LABELS))

    top = top_pairs(by_brand, min_customers=min_customers)
    readings = []
    if len(top):
        first = top.iloc[0]
        readings.append(
            f"{percent(first['share'])} dos clientes de {first['a']} "
            f"também perguntaram por {first['b']}"
        )
    top_category = top_pairs(by_category, min_customers=min_customers)
    if len(top_category):
        first = top_category.iloc[0]
        readings.append(
            f"{percent(first['share'])} dos clientes de {_CATEGORY_PLURALS[first['a']]} "
            f"também perguntaram por {_CATEGORY_PLURALS[first['b']]}"
        )
    return CrossSelling(brands=by_brand, categories=by_category, top=top, readings=readings)


# --- everything ----------------------------------------------------------------


@dataclass(frozen=True)
class Insights:
    """Journeys, trending and cross-selling of one scope, with all their readings."""

    journeys: Journeys
    trending: Trending
    cross_selling: CrossSelling

    @property
    def readings(self) -> list[str]:
        """Every Portuguese one-liner: journeys, then trending, then cross-selling."""
        return [*self.journeys.readings, *self.trending.readings, *self.cross_selling.readings]


def compute(
    data: CustomerData,
    min_customers: int = MIN_CUSTOMERS,
    events: pd.DataFrame | None = None,
    now: datetime | None = None,
    since: datetime | None = None,
) -> Insights:
    """All the analytics of SPEC §7 for one scope.

    Args:
        data: the customer frame, scoped to the allowed stores.
        min_customers: the support floor for trending, rankings and readings.
        events: the event frame of the same stores (``EventLog.frame``); None: trending
            falls back to the share ratio.
        now: the reference time of the timeline's windows (needed with ``events``).
        since: when the timeline started (the first sync), if earlier than its first event.

    Returns:
        An ``Insights``.
    """
    found = journeys(data, min_customers)
    if events is not None and len(events):
        days, counted = first_upgrade_days(data, events, now)
        if counted >= min_customers and days is not None:
            found = dataclasses.replace(found, upgrade_days=days, upgrade_days_customers=counted,
                                        readings=[*found.readings, _upgrade_time_reading(days, counted)])
    return Insights(
        journeys=found,
        trending=trending(data, min_customers, events=events, now=now, since=since),
        cross_selling=cross_selling(data, min_customers),
    )


def _upgrade_time_reading(days: float, customers: int) -> str:
    when = "no mesmo dia" if days < 1 else f"{number(days)} {'dia' if round(days) == 1 else 'dias'}"
    return (f"Da primeira marca a uma de faixa de preço acima: {when} (mediana de"
            f" {number(customers)} clientes com as duas datas na linha do tempo)")


__all__ = [
    "MIN_CUSTOMERS", "TRENDING_LIFT", "CrossSelling", "Insights", "Journeys", "Trending", "compute",
    "cross_selling", "journeys", "percent", "times", "top_pairs", "trending",
]
