"""The weekly history of coverage, recency and depth, rebuilt from the timeline (SPEC §6, §11)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from services.frame import CustomerData
from services.timeline import micros, micros_of
from services.timeline_index import Ordered, asked_items, customer_rows, next_touch, ordered

# --- weekly history (SPEC §6, from the timeline of SPEC §11) ----------------------------

#: The ``store`` of the rows over every store given.
TOTAL = "total"
_WEEK_US = 7 * 86_400_000_000


def weekly_metrics(
    data: CustomerData,
    events: pd.DataFrame,
    now: datetime,
    weeks: int = 12,
    first_sync: datetime | None = None,
) -> pd.DataFrame:
    """Coverage, recency and depth at the end of each of the last ``weeks`` weeks, as the base stood then.

    Week ends are ``now - 7·k days`` for ``k = weeks-1 … 0`` (the last is ``now``). The
    base at a week end ``W`` is rebuilt from the timeline:

    - a customer counts when ``created_at <= W``; with no readable ``created_at``, from
      their first event on; with neither, always;
    - their history at ``W`` is the items of today's history whose first ``interesse``
      event is at or before ``W``, plus the items with no ``interesse`` event at all (they
      predate the timeline, so they count as present at every week end);
    - their ``last_interaction`` at ``W`` is the latest of their WhatsApp or in-store
      events at or before ``W`` and of today's ``last_interaction`` when that is at or
      before ``W``; otherwise unknown (left out of recency, as today).

    Coverage, recency (mean and median days from that ``last_interaction`` to ``W``, over
    covered customers) and depth (mean history length over covered customers) then follow
    the definitions of ``compute``. Before the timeline started, undated items are only a
    guess: such week ends are flagged ``before_timeline``.

    Args:
        data: the customer frame, scoped to the allowed stores.
        events: the event frame (``EventLog.frame``); events of other customers are ignored.
        now: the reference time (the last week end).
        weeks: how many week ends.
        first_sync: when the timeline started (default: its first event).

    Returns:
        One row per store (sorted, then ``TOTAL``) and week end (oldest first):
        ``week_end`` (UTC), ``store``, ``customers``, ``covered``, ``coverage`` (0–1),
        ``recency_days``, ``recency_median_days``, ``depth`` (NaN where there is no
        one to measure) and ``before_timeline``.
    """
    customers = data.customers
    n, w = len(customers), int(weeks)
    ends = micros_of(now) - _WEEK_US * np.arange(w - 1, -1, -1, dtype=np.int64)

    def bucket(moments: np.ndarray) -> np.ndarray:
        """The first week end at or after each moment (``w``: after the last one)."""
        # Week ends are evenly spaced: a ceiling division, clipped, is searchsorted's answer.
        after_first = np.maximum(moments, ends[0] - _WEEK_US) - ends[0]
        return np.clip(-(-after_first // _WEEK_US), 0, w)

    order = ordered(events)
    at = order.at
    rows_of = customer_rows(events, data)  # each event customer's row in the frame, -1: not there
    created = micros(customers["created_at"])
    first_event = np.full(n, _NEVER)
    seen = (rows_of >= 0) & (order.first < len(at))
    first_event[rows_of[seen]] = at[order.first[seen]]
    joined = np.where(created != _NAT, created, first_event)
    joins = np.where(joined == _NEVER, 0, bucket(joined))

    # Each history item appears from its first interesse event on (bucket 0: undated). Only the
    # items first asked after the first week end are dated later than that: the rest count from
    # when their customer does.
    history = data.derived("weekly.history", _history_of)
    items = asked_items(events)
    later = bisect_right(items.first_interesse, ends[0], key=lambda item: at[items.position[item]])
    firsts = items.first_interesse[later:]
    cid = rows_of[order.customer[items.position[firsts]]]
    key = (history.keys.get_indexer(items.keys) + 1)[items.key[firsts]]  # 0: no such item on record
    dated = (cid >= 0) & (key > 0)
    cid, key = cid[dated], key[dated]
    item_from = np.maximum(bucket(at[items.position[firsts[dated]]]), joins[cid])
    cid, key, item_from = _by_item(cid, key, item_from, len(history.keys) + 1)
    on_record = _on_record(history, cid, key)
    cid, item_from = cid[on_record], item_from[on_record]
    undated = history.depth - np.bincount(cid, minlength=n)
    latest_first = np.full(n, w)
    np.minimum.at(latest_first, cid, item_from)
    covered_from = np.where(undated > 0, joins, latest_first)

    store_codes, stores = data.derived("weekly.stores", _stores_of)
    groups = len(stores) + 1  # the last: customers without a store (in the total only)
    slot = store_codes * (w + 1)

    def per_group(counts: np.ndarray) -> np.ndarray:
        """Counts per (group, bucket) as running totals per (group, week end), the total last."""
        table = counts.reshape(groups, w + 1)[:, :w]
        return np.cumsum(np.vstack([table, table.sum(axis=0)]), axis=1)

    size = groups * (w + 1)
    counted = per_group(np.bincount(slot + joins, minlength=size))
    n_covered = per_group(np.bincount(slot + covered_from, minlength=size))
    depth_counts = np.bincount(slot[cid] + item_from, minlength=size)
    np.add.at(depth_counts, slot + joins, undated)
    depth_sum = per_group(depth_counts)
    recency, median = _recency(data, order, events, rows_of, covered_from, store_codes, groups, ends, bucket)

    started = micros_of(first_sync) if first_sync is not None else (at[0] if len(at) else None)
    frames = []
    for i, name in [*((i, str(name)) for i, name in enumerate(stores)), (groups, TOTAL)]:
        frames.append(pd.DataFrame({
            "week_end": pd.to_datetime(ends, unit="us", utc=True),
            "store": name,
            "customers": counted[i].astype(np.int64),
            "covered": n_covered[i].astype(np.int64),
            "coverage": _ratio(n_covered[i], counted[i]),
            "recency_days": recency[i],
            "recency_median_days": median[i],
            "depth": _ratio(depth_sum[i], n_covered[i]),
            "before_timeline": ends < started if started is not None else np.ones(w, dtype=bool),
        }))
    return pd.concat(frames, ignore_index=True)


_NAT = np.iinfo(np.int64).min
_NEVER = np.iinfo(np.int64).max
_DAY_US = 86_400e6


def _recency(
    data: CustomerData, order: Ordered, events: pd.DataFrame, rows_of: np.ndarray, covered_from: np.ndarray,
    store_codes: np.ndarray, groups: int, ends: np.ndarray, bucket: Callable[[np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and median days since the last contact at each week end, per group then in total.

    The last contact at a week end is the latest WhatsApp or in-store event at or before it, or
    today's ``last_interaction`` when that is at or before it; covered customers without one are
    left out. Sums add the days in the order a column sum of a (customers × weeks) days table does,
    so that the means are the very same floats.
    """
    n, w = len(covered_from), len(ends)
    at = order.at
    following = next_touch(events)
    week_starts = np.searchsorted(at, ends, "right")
    last_now = micros(data.customers["last_interaction"])
    known = np.flatnonzero(last_now != _NAT)
    known_week = bucket(last_now[known]).astype(np.int16)
    by_week = np.argsort(known_week, kind="stable")
    known, known_week = known[by_week], known_week[by_week]
    known_starts = np.searchsorted(known_week, np.arange(w + 1))

    # The medians sort each week's moments, packed behind their group: one sort for every group.
    # No moment is earlier than ``base``, and none later than the last week end.
    base = min(int(ends[0]), int(at[:1].min(initial=ends[0])), int(last_now[known].min(initial=ends[0])))
    shift = max(int(ends[-1]) - base, 1).bit_length()
    packing = shift + groups.bit_length() <= 62  # always with real dates
    high_bits = store_codes << shift if packing else store_codes
    small = covered_from.astype(np.int8) if w < 127 else covered_from

    means = np.full((groups + 1, w), np.nan)
    medians = np.full((groups + 1, w), np.nan)
    latest = np.full(n, _NAT)
    reached = np.zeros(n, dtype=bool)
    for k in range(w):
        # A customer's last contact of the week: their next one comes after the week end.
        start = week_starts[k - 1] if k else 0
        last_of_week = start + np.flatnonzero(following[start:week_starts[k]] >= week_starts[k])
        cid = rows_of[order.customer[last_of_week]]
        mine = cid >= 0
        latest[cid[mine]] = at[last_of_week[mine]]  # later than any moment of the weeks before
        reached[cid[mine]] = True
        who = known[known_starts[k]:known_starts[k + 1]]  # today's last_interaction, in this week
        latest[who] = np.maximum(latest[who], last_now[who])
        reached[who] = True
        counted = np.flatnonzero((small <= k) & reached)
        last, group = latest[counted], store_codes[counted]
        days = (ends[k] - last) / _DAY_US
        if w > 1:  # a column sum of a (customers × weeks) table runs customer after customer
            sums = np.append(np.bincount(group, weights=days, minlength=groups), np.cumsum(days)[-1:].sum())
        else:  # a single column is summed as one array (pairwise), zeros where no one is counted
            table = np.zeros(n)
            table[counted] = days
            sums = np.array([*(table[store_codes == i].sum() for i in range(groups)), table.sum()])
        counts = np.append(np.bincount(group, minlength=groups), len(days))
        means[:, k] = _ratio(sums, counts)
        if packing:
            packed = high_bits[counted] | (last - base)
            packed.sort()
            bounds = np.searchsorted(packed, np.arange(groups + 1, dtype=np.int64) << shift)
            parts = [(packed[bounds[i]:bounds[i + 1]], (i << shift) - base) for i in range(groups)]
        else:
            parts = [(np.sort(last[group == i]), 0) for i in range(groups)]
        medians[:, k] = _medians(parts, int(ends[k]))
    return means, medians


def _medians(parts: list[tuple[np.ndarray, int]], end: int) -> np.ndarray:
    """Median days to ``end`` per group, then over all (NaN where none), from each group's moments.

    ``parts``: per group, its moments sorted, each less ``offset``. As ``np.nanmedian`` of the
    days: the days of the middle moment, or the mean of the two middle ones.
    """

    def days(low: int, high: int) -> float:
        return float(((end - low) / _DAY_US + (end - high) / _DAY_US) / 2)

    medians = np.full(len(parts) + 1, np.nan)
    for i, (part, offset) in enumerate(parts):
        if len(part):
            medians[i] = days(int(part[(len(part) - 1) // 2]) - offset, int(part[len(part) // 2]) - offset)
    size = sum(len(part) for part, _ in parts)
    if size:
        medians[-1] = days(_kth(parts, (size - 1) // 2), _kth(parts, size // 2))
    return medians


def _kth(parts: list[tuple[np.ndarray, int]], k: int) -> int:
    """The ``k``-th smallest (from 0) moment of the groups' sorted moments taken together."""
    low = min(int(part[0]) - offset for part, offset in parts if len(part))
    high = max(int(part[-1]) - offset for part, offset in parts if len(part))
    while low < high:
        middle = (low + high) // 2
        if sum(int(np.searchsorted(part, middle + offset, "right")) for part, offset in parts) > k:
            high = middle
        else:
            low = middle + 1
    return low


@dataclass(frozen=True)
class _History:
    """Each customer's history items as key codes (``keys`` from 1), sorted within the customer."""

    depth: np.ndarray
    starts: np.ndarray
    key: np.ndarray
    keys: pd.Index


def _history_of(data: CustomerData) -> _History:
    history = data.history_items
    keys = history["key"]
    if not isinstance(keys.dtype, pd.CategoricalDtype):
        keys = keys.astype("category")
    width = len(keys.cat.categories) + 1
    # Millions of items: one int64 array, packed, sorted and unpacked in place.
    packed = history["cid"].to_numpy().astype(np.int64)
    depth = np.bincount(packed, minlength=len(data.customers))
    packed *= width
    packed += keys.cat.codes.to_numpy()
    packed += 1
    packed.sort()
    np.remainder(packed, width, out=packed)
    dtype = np.int16 if width < np.iinfo(np.int16).max else np.int64
    return _History(depth, np.r_[0, np.cumsum(depth)], packed.astype(dtype), keys.cat.categories)


def _by_item(cid: np.ndarray, key: np.ndarray, week: np.ndarray, width: int) -> tuple[np.ndarray, ...]:
    """``(cid, key, week)`` ordered by customer and key: the searches in the history then read it in order."""
    shift = max(int(week.max(initial=0)), 1).bit_length()
    code = cid * width + key
    if int(code.max(initial=0)).bit_length() + shift > 62:
        order = np.argsort(code)
        return cid[order], key[order], week[order]
    packed = np.sort((code << shift) | week)
    code = packed >> shift
    return code // width, code % width, packed & ((1 << shift) - 1)


def _on_record(history: _History, cid: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Whether each ``(cid, key)`` is an item of that customer's history.

    A binary search within each customer's sorted keys, all customers at once: the same
    number of halvings for everyone (a customer has a few dozen items at most).
    """
    if not len(history.key) or not len(cid):
        return np.zeros(len(cid), dtype=bool)
    position = history.starts[cid]
    end = history.starts[cid + 1]
    key = key.astype(history.key.dtype)
    last = len(history.key) - 1
    step = 1 << int((end - position).max()).bit_length()
    while step:  # position: the first of the customer's keys not below ``key``
        probe = np.minimum(position + (step - 1), last)
        position += ((position + (step - 1) < end) & (history.key[probe] < key)) * step
        step >>= 1
    found = position < end
    return found & (history.key[np.minimum(position, last)] == key)


def _stores_of(data: CustomerData) -> tuple[np.ndarray, pd.Index]:
    """Each customer's store code (sorted stores; without a store: one past the last) and the stores."""
    codes, stores = pd.factorize(data.customers["store"].to_numpy(), sort=True)
    return np.where(codes < 0, len(stores), codes).astype(np.int64), stores


def _ratio(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    return np.divide(part.astype(float), whole.astype(float), out=np.full(len(part), np.nan), where=whole > 0)


def weekly_json(weekly: pd.DataFrame, store: str = TOTAL) -> list[dict[str, object]]:
    """The weeks of one store (or the total) as the CLI prints them, oldest first.

    Returns:
        ``[{"week_end", "coverage", "recency_days", "depth"}]``: ``week_end`` ISO 8601 UTC,
        coverage a 0–1 fraction with 4 decimals, days with 1, depth with 2; null without data.
    """
    def rounded(value: object, digits: int) -> float | None:
        return None if value is None or pd.isna(value) else round(float(value), digits)

    rows = weekly[weekly["store"] == store].sort_values("week_end")
    return [
        {"week_end": row.week_end.strftime("%Y-%m-%dT%H:%M:%SZ"), "coverage": rounded(row.coverage, 4),
         "recency_days": rounded(row.recency_days, 1), "depth": rounded(row.depth, 2)}
        for row in rows.itertuples()
    ]
