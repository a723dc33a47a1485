"""Trending products and brands (SPEC §7): over the timeline when it is long enough, else by share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from services import tally
from services.frame import CustomerData
from services.tally import (
    MIN_CUSTOMERS,
    TIER_BY_RANK,
    brand_ranks,
    distinct_pairs,
    times,
    with_none,
)
from services.timeline import micros, micros_of
from services.timeline_index import asked_items, ordered

TRENDING_LIFT = 1.5
RECENT_DAYS = 30
BEFORE_DAYS = 90
#: The timeline must reach this far back before trends are read from it.
TIMELINE_DAYS = RECENT_DAYS + BEFORE_DAYS
TIMELINE = "timeline"
SHARE = "share"
_DAY_US = 86_400_000_000


@dataclass(frozen=True)
class Trending:
    """Products and brands asked about more than before, and how that was measured.

    Attributes:
        products: ``key, title, brand, recent, history, customers, recent_share,
            history_share, lift, trending, customers_recent, customers_before, is_new``.
        brands: ``brand, tier`` and the same figures.
        readings: Portuguese one-liners from the figures.
        mode: ``"timeline"`` or ``"share"`` (the fallback).
        reason: why that mode, in Portuguese (``"linha do tempo de 45 dias: menos de 120"``).
        threshold: the ``lift`` from which a product trends.
        brand_threshold: the same for brands.
        span_days: whole days the timeline covers; None without one.

    With ``mode == "timeline"``: ``customers_recent`` / ``customers_before`` are the
    distinct customers who asked (``interesse`` or ``retorno``) in the last 30 days / the
    90 before; ``lift`` is the ratio of their per-day rates (NaN when ``is_new``: none
    before); ``recent`` / ``history`` count mentions in the two windows and the shares
    are of all mentions in each; ``customers`` is ``customers_recent``. Trending first
    (new ones among them by their customers), then by lift.

    With ``mode == "share"``: ``recent`` / ``history`` count items in ``interests`` /
    in the history; ``lift`` is ``recent_share / history_share``; ``customers`` and
    ``customers_recent`` count customers with it in ``interests``, ``customers_before``
    customers with it in the history; ``is_new`` is always false. Highest lift first.
    """

    products: pd.DataFrame
    brands: pd.DataFrame
    readings: list[str] = field(default_factory=list)
    mode: str = SHARE
    reason: str = ""
    threshold: float = TRENDING_LIFT
    brand_threshold: float = TRENDING_LIFT
    span_days: int | None = None


def timeline_mode(
    events: pd.DataFrame | None, now: datetime | None, since: datetime | None = None
) -> tuple[str, str, int | None]:
    """Which trending applies: ``(mode, reason in Portuguese, days covered or None)``.

    The timeline covers from its first event (or ``since``, the first sync, when earlier)
    to ``now``; at least 120 days give ``"timeline"``.
    """
    if events is None or now is None:
        return SHARE, "sem linha do tempo: parcela nos interesses recentes ÷ parcela no histórico", None
    starts = [micros(events["at"]).min()] if len(events) else []
    if since is not None:
        starts.append(micros_of(since))
    if not starts:
        return SHARE, "linha do tempo vazia: parcela nos interesses recentes ÷ parcela no histórico", 0
    days = max(0, int((micros_of(now) - min(starts)) // _DAY_US))
    if days < TIMELINE_DAYS:
        return SHARE, f"linha do tempo de {days} dias: menos de {TIMELINE_DAYS}", days
    return (
        TIMELINE,
        f"linha do tempo de {days} dias: clientes por dia nos últimos {RECENT_DAYS} dias "
        f"contra os {BEFORE_DAYS} anteriores",
        days,
    )


def trending(
    data: CustomerData,
    min_customers: int = MIN_CUSTOMERS,
    events: pd.DataFrame | None = None,
    now: datetime | None = None,
    since: datetime | None = None,
) -> Trending:
    """Trending products and brands (SPEC §7), over the timeline when it covers 120 days.

    Timeline: trending when the distinct customers who asked per day in the last 30
    days are at least 1.5 × the rate of the 90 days before, with at least
    ``min_customers`` in the last 30 days; new (and trending) when nobody asked before.
    Fallback: ``lift = recent_share / history_share``, trending when
    ``lift >= 1 + (M − 1) / 2`` with ``M = history items / recent items`` (the highest
    lift possible) and at least ``min_customers`` customers with it in ``interests``.

    Args:
        data: the customer frame, scoped to the allowed stores.
        min_customers: the fewest customers (recent) to be trending.
        events: the event frame (``EventLog.frame``); events of other stores are ignored.
        now: the reference time of the windows.
        since: when the timeline started (the first sync), if earlier than its first event.

    Returns:
        A ``Trending`` that says which mode it used and why.
    """
    mode, reason, span = timeline_mode(events, now, since)
    if mode == TIMELINE and events is not None and now is not None:
        return _over_timeline(data, events, now, min_customers, reason, span)
    return _by_share(data, min_customers, reason, span)


# --- by share (fallback) -------------------------------------------------------------


def _share_frame(
    recent: np.ndarray, history: np.ndarray, customers: np.ndarray, holders: np.ndarray,
    min_customers: int,
) -> tuple[pd.DataFrame, float]:
    total_recent, total_history = int(recent.sum()), int(history.sum())
    frame = pd.DataFrame({
        "recent": recent.astype(np.int64),
        "history": history.astype(np.int64),
        "customers": customers.astype(np.int64),
    })
    frame["recent_share"] = recent / total_recent if total_recent else 0.0
    frame["history_share"] = history / total_history if total_history else 0.0
    # One division of exact integers, so a lift of exactly 1.5 is exactly 1.5.
    numerator = (recent * total_history).astype(float)
    denominator = (history * total_recent).astype(float)
    frame["lift"] = np.divide(numerator, denominator, out=np.zeros(len(frame)), where=denominator > 0)
    # lift >= 1 + (M - 1) / 2 with M = TH / TR, in integers: 2·r·TH >= h·(TH + TR).
    above = 2 * recent.astype(np.int64) * total_history >= history.astype(np.int64) * (
        total_history + total_recent
    )
    frame["trending"] = above & (recent > 0) & (frame["customers"].to_numpy() >= min_customers)
    frame["customers_recent"] = frame["customers"]
    frame["customers_before"] = holders.astype(np.int64)
    frame["is_new"] = False
    threshold = (total_history + total_recent) / (2 * total_recent) if total_recent else TRENDING_LIFT
    return frame, threshold


def _by_share(data: CustomerData, min_customers: int, reason: str, span: int | None) -> Trending:
    products = data.products
    n_products = len(products)
    recent_rows = tally.recent_rows(data)
    history_rows = tally.history_rows(data)

    def per_product(rows: np.ndarray) -> np.ndarray:
        return np.bincount(rows + 1, minlength=n_products + 1)[1:]  # -1 (no product) first

    # Items are distinct within a customer's field, so items count customers too.
    recent, history = per_product(recent_rows), per_product(history_rows)
    by_product, threshold = _share_frame(recent, history, recent, history, min_customers)
    by_product = _with_products(by_product, products)
    by_product = by_product[by_product["history"] > 0].sort_values(
        ["lift", "customers", "title"], ascending=[False, False, True], ignore_index=True
    )

    brand_codes, brands = _brand_codes(products)
    n_brands = len(brands)

    def per_brand(counts: np.ndarray) -> np.ndarray:
        return np.bincount(
            brand_codes + 1, weights=counts, minlength=n_brands + 1
        )[1:].round().astype(np.int64)  # float sums of counts below 2**53: exact

    by_brand, brand_threshold = _share_frame(
        per_brand(recent), per_brand(history),
        _brand_customers(data, brand_codes, n_brands, recent=True),
        _brand_customers(data, brand_codes, n_brands, recent=False),
        min_customers,
    )
    by_brand = _with_brands(by_brand, brands, products)
    by_brand = by_brand[by_brand["history"] > 0].sort_values(
        ["lift", "customers", "brand"], ascending=[False, False, True], ignore_index=True
    )
    readings = [
        f"{top[name]} em alta: {times(top['lift'])} mais presente nos interesses recentes"
        for top, name in _tops(by_product, by_brand)
    ]
    return Trending(by_product, by_brand, readings, SHARE, reason, threshold, brand_threshold, span)


def _brand_customers(data: CustomerData, brand_codes: np.ndarray, n_brands: int, recent: bool) -> np.ndarray:
    """Customers with each brand in ``interests`` (``recent``) or in the history."""
    sets = tally.value_sets(data, "brand", recent=recent)
    if sets is not None:
        return tally.set_counts(sets, n_brands)[0]
    items = data.recent_items if recent else data.history_items
    rows = tally.recent_rows(data) if recent else tally.history_rows(data)
    brand = with_none(brand_codes)[rows]
    return np.bincount(distinct_pairs(items["cid"].to_numpy(), brand, n_brands)[1], minlength=n_brands)


# --- over the timeline ----------------------------------------------------------------


def _over_timeline(
    data: CustomerData, events: pd.DataFrame, now: datetime, min_customers: int, reason: str,
    span: int | None,
) -> Trending:
    products = data.products
    n_products = len(products)
    now_us = micros_of(now)
    recent_from = now_us - RECENT_DAYS * _DAY_US
    # The events in time order and their items, once per frame: the windows are slices of them.
    order, items = ordered(events), asked_items(events)
    start, split, stop = np.searchsorted(
        items.position, np.searchsorted(order.at, [recent_from - BEFORE_DAYS * _DAY_US, recent_from, now_us],
                                        "right"))
    position = items.position[start:stop]
    product = with_none(products.index.get_indexer(items.keys))[items.key[start:stop]]
    customer = order.customer[position].astype(np.int64)
    allowed = order.stores.isin(data.customers["store"].unique())
    if not allowed.all():  # events of other stores are left out
        product = np.where(np.append(allowed, False)[order.store[position]], product, -1)
    split -= start
    brand_codes, brands = _brand_codes(products)
    brand = with_none(brand_codes)[product]
    by_product = _rate_frame(customer, product, split, n_products, min_customers)
    by_brand = _rate_frame(customer, brand, split, len(brands), min_customers)

    by_product = _with_products(by_product, products)
    by_brand = _with_brands(by_brand, brands, products)
    by_product = _rate_order(by_product, "title")
    by_brand = _rate_order(by_brand, "brand")
    readings = []
    for top, name in _tops(by_product, by_brand):
        if top["is_new"]:
            readings.append(
                f"{top[name]} é novidade: {top['customers_recent']} clientes nos últimos "
                f"{RECENT_DAYS} dias, nenhum nos {BEFORE_DAYS} anteriores"
            )
        else:
            readings.append(
                f"{top[name]} em alta: {times(top['lift'])} mais clientes por dia nos últimos "
                f"{RECENT_DAYS} dias que nos {BEFORE_DAYS} anteriores"
            )
    return Trending(by_product, by_brand, readings, TIMELINE, reason, TRENDING_LIFT, TRENDING_LIFT, span)


def _rate_frame(
    customer: np.ndarray, code: np.ndarray, split: int, width: int, min_customers: int
) -> pd.DataFrame:
    """Per value of ``code``: mentions and distinct customers before ``split`` (the 90 days) and from it."""
    people = int(customer.max(initial=-1)) + 2  # customer codes from -1 (no id) on

    def counted(part: slice) -> tuple[np.ndarray, np.ndarray]:
        ok = code[part] >= 0
        codes = code[part][ok]
        pairs = codes * people + (customer[part][ok] + 1)
        pairs.sort()  # np.unique hashes: slower here
        pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]] if len(pairs) else pairs
        limits = np.searchsorted(pairs, np.arange(width + 1, dtype=np.int64) * people)
        return np.bincount(codes, minlength=width), np.diff(limits).astype(np.int64)

    mentions_before, customers_before = counted(slice(0, split))
    mentions_recent, customers_recent = counted(slice(split, None))
    total_recent, total_before = int(mentions_recent.sum()), int(mentions_before.sum())
    is_new = (customers_before == 0) & (customers_recent > 0)
    # (cr / 30) / (cb / 90) >= 1.5, in integers: 2·cr·90 >= 3·cb·30.
    above = 2 * customers_recent * BEFORE_DAYS >= 3 * customers_before * RECENT_DAYS
    lift = np.divide(
        (customers_recent * BEFORE_DAYS).astype(float), (customers_before * RECENT_DAYS).astype(float),
        out=np.full(width, np.nan), where=customers_before > 0,
    )
    return pd.DataFrame({
        "recent": mentions_recent.astype(np.int64),
        "history": mentions_before.astype(np.int64),
        "customers": customers_recent,
        "recent_share": mentions_recent / total_recent if total_recent else np.zeros(width),
        "history_share": mentions_before / total_before if total_before else np.zeros(width),
        "lift": lift,
        "trending": above & (customers_recent >= min_customers),
        "customers_recent": customers_recent,
        "customers_before": customers_before,
        "is_new": is_new,
    })


def _rate_order(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    asked = frame[(frame["customers_recent"] + frame["customers_before"]) > 0]
    order = asked.assign(_lift=asked["lift"].fillna(np.inf))
    order = order.sort_values(
        ["trending", "_lift", "customers_recent", name], ascending=[False, False, False, True],
    )
    return order.drop(columns="_lift").reset_index(drop=True)


# --- shared ----------------------------------------------------------------------------


def _brand_codes(products: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    codes, brands = pd.factorize(products["brand"].to_numpy(), sort=True)
    return codes, np.asarray(brands, dtype=object)


def _with_products(frame: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    frame.insert(0, "key", products["key"].to_numpy())
    frame.insert(1, "title", products["title"].to_numpy())
    frame.insert(2, "brand", products["brand"].to_numpy())
    return frame


def _with_brands(frame: pd.DataFrame, brands: np.ndarray, products: pd.DataFrame) -> pd.DataFrame:
    ranks = brand_ranks(brands, products)
    frame.insert(0, "brand", brands)
    frame.insert(1, "tier", [TIER_BY_RANK.get(rank) for rank in ranks])
    return frame


def _tops(by_product: pd.DataFrame, by_brand: pd.DataFrame) -> list[tuple[pd.Series, str]]:
    tops = []
    for frame, name in ((by_product, "title"), (by_brand, "brand")):
        hot = frame[frame["trending"]]
        if len(hot):
            tops.append((hot.iloc[0], name))
    return tops


__all__ = ["SHARE", "TIMELINE", "TRENDING_LIFT", "Trending", "timeline_mode", "trending"]
