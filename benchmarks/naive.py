"""The straightforward implementations the benchmarks compare against.

They scan the customers one by one and each customer's lists item by item, as the
user's JavaScript does (``customers.filter(c => c.interests.some(i => matches(i, term)))``),
over records already in memory (converting the frame to records is not timed). They
give the same answers as ``services.segments.build_list`` (tiers, order, matched
products) and ``services.metrics.compute`` (the figures and distributions), which the
benchmark checks before it trusts a ratio.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from datetime import datetime

import pandas as pd

from services.catalog import CATEGORY_TERMS
from services.frame import CustomerData
from services.interests import product_key
from services.segments import Segment

_E164 = re.compile(r"\+[1-9]\d{7,14}")
_DAY = 86_400.0


def records(data: CustomerData) -> list[dict[str, object]]:
    """The customers as plain records (what the JavaScript holds), with Python datetimes."""
    frame = data.customers[["id", "store", "name", "phone", "phone_key", "recent", "history", "opt_out"]]
    rows = frame.to_dict("records")
    for row, last, created in zip(
        rows, data.customers["last_interaction"], data.customers["created_at"], strict=True
    ):
        row["last_interaction"] = None if pd.isna(last) else last.to_pydatetime()
        row["created_at"] = None if pd.isna(created) else created.to_pydatetime()
    return rows


def product_table(data: CustomerData) -> dict[str, tuple[str, str, str]]:
    """Product key → (title shown, brand key, category): the catalog the JavaScript looks up."""
    products = data.products
    return {
        key: (title, product_key(brand) if isinstance(brand, str) else "", category)
        for key, title, brand, category in zip(
            products["key"], products["title"], products["brand"], products["category"], strict=True
        )
    }


def _matches(item: str, terms: Sequence[str], catalog: dict[str, tuple[str, str, str]]) -> bool:
    key = product_key(item)
    title, brand, category = catalog.get(key, (item, "", ""))
    for term in terms:
        if term in key or (brand and term in brand) or CATEGORY_TERMS.get(term) == category:
            return True
    return False


def segment(
    customers: list[dict[str, object]],
    catalog: dict[str, tuple[str, str, str]],
    seg: Segment,
    now: datetime,
) -> list[tuple[str, str, list[str]]]:
    """The campaign list as ``(id, tier, matched titles)`` rows, row by row and item by item."""
    terms = [product_key(t) for t in seg.terms]
    rows = []
    best: dict[tuple[object, object], tuple[tuple[object, ...], tuple[object, ...]]] = {}
    for order, customer in enumerate(customers):
        recent, history = customer["recent"], customer["history"]
        tier = None
        if not terms:
            tier = "primary"
        else:
            for item in recent:
                if _matches(item, terms, catalog):
                    tier = "primary"
                    break
            if tier is None and seg.scope == "all":
                for item in history:
                    if _matches(item, terms, catalog):
                        tier = "secondary"
                        break
        if tier is None:
            continue
        last = customer["last_interaction"]
        age = (now - last).total_seconds() / _DAY if last is not None else None
        if seg.inactive_days is not None and age is not None and age < seg.inactive_days:
            continue
        if seg.min_depth is not None and len(history) < seg.min_depth:
            continue
        if seg.max_depth is not None and len(history) > seg.max_depth:
            continue
        if customer["opt_out"]:
            continue
        phone = customer["phone"]
        if not isinstance(phone, str) or not _E164.fullmatch(phone):
            continue
        if age is not None and age < seg.quiet_days:
            continue
        matched = []
        if terms:
            seen = set()
            for item in [*reversed(recent), *reversed(history)]:
                key = product_key(item)
                if key not in seen and _matches(item, terms, catalog):
                    seen.add(key)
                    matched.append(catalog.get(key, (item,))[0])
        stamp = last.timestamp() if last is not None else float("-inf")
        rank = (tier != "primary", -stamp, -len(history), order)
        # One row per WhatsApp number of a store: the best of the records sharing it.
        number = (customer["store"], customer["phone_key"])
        if customer["phone_key"] is not None and number in best:
            if rank >= best[number][0]:
                continue
            rows.remove(best[number][1])
        row = (tier != "primary", -stamp, order, customer["id"], tier, matched)
        if customer["phone_key"] is not None:
            best[number] = (rank, row)
        rows.append(row)
    rows.sort(key=lambda row: row[:3])
    return [(row[3], row[4], row[5]) for row in rows]


def metrics(customers: list[dict[str, object]], now: datetime) -> dict[str, object]:
    """Coverage, recency (mean and median) and depth, in total and per store, with the
    depth histogram and coverage by first-contact month, one customer at a time."""
    def empty() -> dict[str, object]:
        return {"customers": 0, "covered": 0, "days": [], "depth": 0}

    total = empty()
    stores: dict[str, dict[str, object]] = {}
    histogram: dict[int, int] = {}
    months: dict[tuple[int, int], list[int]] = {}
    for customer in customers:
        depth = len(customer["history"])
        last = customer["last_interaction"]
        for acc in (total, stores.setdefault(customer["store"], empty())):
            acc["customers"] += 1
            if depth:
                acc["covered"] += 1
                acc["depth"] += depth
                if last is not None:
                    acc["days"].append(max((now - last).total_seconds() / _DAY, 0.0))
        if depth:
            histogram[depth] = histogram.get(depth, 0) + 1
        created = customer["created_at"]
        if created is not None:
            month = months.setdefault((created.year, created.month), [0, 0])
            month[0] += 1
            month[1] += bool(depth)

    def figures(acc: dict[str, object]) -> dict[str, object]:
        days = acc["days"]
        return {
            "customers": acc["customers"],
            "covered": acc["covered"],
            "coverage": acc["covered"] / acc["customers"] if acc["customers"] else None,
            "recency_days": sum(days) / len(days) if days else None,
            "recency_median_days": statistics.median(days) if days else None,
            "depth": acc["depth"] / acc["covered"] if acc["covered"] else None,
        }

    return {
        "total": figures(total),
        "stores": {name: figures(acc) for name, acc in sorted(stores.items())},
        "depth_histogram": dict(sorted(histogram.items())),
        "coverage_by_month": {month: tuple(counts) for month, counts in sorted(months.items())},
    }
