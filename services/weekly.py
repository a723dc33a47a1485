"""The weekly history of coverage, recency and depth, rebuilt from the timeline (SPEC §6, §11)."""

from __future__ import annotations

import warnings
from datetime import datetime

import numpy as np
import pandas as pd

from services.frame import CustomerData
from services.timeline import IN_TOUCH, INTERESSE, customer_codes, event_items, micros, micros_of

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
    never = np.int64(w)

    def bucket(moments: np.ndarray) -> np.ndarray:
        """The first week end at or after each moment (``w``: after the last one)."""
        # Week ends are evenly spaced: a ceiling division, clipped, is searchsorted's answer.
        after_first = np.maximum(moments, ends[0] - _WEEK_US) - ends[0]
        return np.clip(-(-after_first // _WEEK_US), 0, w)

    cid = customer_codes(events, data)
    at = micros(events["at"])
    mine = cid >= 0
    created = micros(customers["created_at"])
    first_event = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first_event, cid[mine], at[mine])
    joined = np.where(created != _NAT, created, first_event)
    joins = np.where(joined == np.iinfo(np.int64).max, 0, bucket(joined))

    # Each history item appears from its first interesse event on (bucket 0: undated).
    history = data.history_items
    item_cid = history["cid"].to_numpy().astype(np.int64)
    item_at = _first_interesse(events, cid, history)
    item_from = np.where(item_at == np.iinfo(np.int64).max, 0, bucket(item_at))
    item_from = np.maximum(item_from, joins[item_cid])
    covered_from = np.full(n, never)
    np.minimum.at(covered_from, item_cid, item_from)
    covered_from = np.maximum(covered_from, joins)

    # Latest contact at or before each week end: the max per (customer, bucket), carried forward.
    touch = mine & events["source"].isin(IN_TOUCH).to_numpy()
    last_now = micros(customers["last_interaction"])
    known = last_now != _NAT
    slots = np.full(n * (w + 1), _NAT)
    np.maximum.at(slots, cid[touch] * (w + 1) + bucket(at[touch]), at[touch])
    np.maximum.at(slots, np.flatnonzero(known) * (w + 1) + bucket(last_now[known]), last_now[known])
    last = np.maximum.accumulate(slots.reshape(n, w + 1), axis=1)[:, :w]
    week = np.arange(w)
    covered = covered_from[:, None] <= week[None, :]
    days = np.where(covered & (last != _NAT), (ends[None, :] - last) / 86_400e6, np.nan)

    store_codes, stores = pd.factorize(customers["store"].to_numpy(), sort=True)
    groups = [(str(name), store_codes == i) for i, name in enumerate(stores)]
    groups.append((TOTAL, np.ones(n, dtype=bool)))
    started = micros_of(first_sync) if first_sync is not None else (at.min() if len(at) else None)
    frames = []
    for name, rows in groups:
        counted = np.cumsum(np.bincount(joins[rows], minlength=w + 1)[:w])
        n_covered = np.cumsum(np.bincount(covered_from[rows], minlength=w + 1)[:w])
        depth_sum = np.cumsum(np.bincount(item_from[rows[item_cid]], minlength=w + 1)[:w])
        frames.append(pd.DataFrame({
            "week_end": pd.to_datetime(ends, unit="us", utc=True),
            "store": name,
            "customers": counted.astype(np.int64),
            "covered": n_covered.astype(np.int64),
            "coverage": _ratio(n_covered, counted),
            "recency_days": _nanmean(days[rows]),
            "recency_median_days": _nanmedian(days[rows]),
            "depth": _ratio(depth_sum, n_covered),
            "before_timeline": ends < started if started is not None else np.ones(w, dtype=bool),
        }))
    return pd.concat(frames, ignore_index=True)


_NAT = np.iinfo(np.int64).min


def _first_interesse(events: pd.DataFrame, cid: np.ndarray, history: pd.DataFrame) -> np.ndarray:
    """The first ``interesse`` event of each history item (int64 max when there is none)."""
    first = np.full(len(history), np.iinfo(np.int64).max)
    chosen = (cid >= 0) & (events["kind"] == INTERESSE).to_numpy()
    if not chosen.any() or not len(history):
        return first
    asked = events[chosen]
    rows, keys = event_items(asked)
    history_keys = history["key"]
    if not isinstance(history_keys.dtype, pd.CategoricalDtype):
        history_keys = history_keys.astype("category")
    width = len(history_keys.cat.categories) + 1
    key_code = np.append(history_keys.cat.categories.get_indexer(keys.categories), -1)[keys.codes]
    item_code = history["cid"].to_numpy().astype(np.int64) * width + history_keys.cat.codes.to_numpy()
    order = np.argsort(item_code)
    known = item_code[order]
    event_code = cid[chosen][rows] * width + key_code
    # Sorted needles: searchsorted walks the items once instead of jumping at random.
    by_code = np.argsort(event_code)
    where = np.minimum(np.searchsorted(known, event_code[by_code]), len(order) - 1)
    found = (key_code[by_code] >= 0) & (known[where] == event_code[by_code])
    np.minimum.at(first, order[where[found]], micros(asked["at"])[rows[by_code[found]]])
    return first


def _ratio(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    return np.divide(part.astype(float), whole.astype(float), out=np.full(len(part), np.nan), where=whole > 0)


def _nanmean(days: np.ndarray) -> np.ndarray:
    known = ~np.isnan(days)
    total = np.where(known, days, 0.0).sum(axis=0)
    return _ratio(total, known.sum(axis=0))


def _nanmedian(days: np.ndarray) -> np.ndarray:
    if not days.size:
        return np.full(days.shape[1], np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN week is NaN, as wanted
        return np.nanmedian(days, axis=0)


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
