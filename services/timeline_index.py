"""What the readings of one event frame share, computed once per frame (SPEC §11).

Trending and the weekly history read the same timeline over and over with another
``now`` or another scope of customers. What depends on the frame alone (its time order,
the items of its asking events, who was in touch next) is computed on the first reading
and kept while the frame lives: the dashboard keeps one frame per timeline version, so
the next readings only do what depends on their arguments. The frame must not change
(``EventLog.frame`` says so already).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from typing import TypeVar

import numpy as np
import pandas as pd

from services.frame import CustomerData
from services.timeline import ASKED, IN_TOUCH, INTERESSE, event_items, id_rows, micros

T = TypeVar("T")

_FRAMES: dict[int, dict[str, object]] = {}
_LOCK = threading.Lock()


def per_frame(events: pd.DataFrame, name: str, compute: Callable[[pd.DataFrame], T]) -> T:
    """``compute(events)``, once per event frame, kept until the frame is gone.

    The key is the frame itself (its identity, dropped with it), so a new frame (a new
    timeline version, another scope) never meets an old value.
    """
    key = id(events)
    with _LOCK:
        values = _FRAMES.get(key)
        if values is None:
            values = _FRAMES[key] = {}
            weakref.finalize(events, _FRAMES.pop, key, None)
        lock = values.setdefault(f"{name}.lock", threading.Lock())
    with lock:  # type: ignore[union-attr]
        if name not in values:
            values[name] = compute(events)
    return values[name]  # type: ignore[return-value]


@dataclass(frozen=True)
class Ordered:
    """The frame's events in time order (ties in the frame's order), as codes.

    Attributes:
        at: int64 microseconds, ascending.
        customer: each event's code in ``ids``.
        ids: the distinct customer ids.
        store: each event's code in ``stores``.
        stores: the distinct stores.
        first: the position of each customer's first event (``len(at)``: none).
        rows: the frame row of each position; None when the frame is already in time order.
    """

    at: np.ndarray
    customer: np.ndarray
    ids: pd.Index
    store: np.ndarray
    stores: pd.Index
    first: np.ndarray
    rows: np.ndarray | None


def ordered(events: pd.DataFrame) -> Ordered:
    """The frame in time order, once per frame."""
    return per_frame(events, "ordered", _ordered)


def _ordered(events: pd.DataFrame) -> Ordered:
    at = _micros(events["at"])
    rows = None
    if len(at) and (np.diff(at) < 0).any():
        rows = np.argsort(at, kind="stable")
        at = at[rows]
    ids, stores = _categorical(events["customer_id"]), _categorical(events["store"])
    customer, store = _in_order(ids.codes, rows), _in_order(stores.codes, rows)
    first = np.full(len(ids.categories), len(at), dtype=_index_type(len(at) + 1))
    known = customer >= 0
    np.minimum.at(first, customer[known], np.flatnonzero(known).astype(first.dtype))
    return Ordered(at, customer, pd.Index(ids.categories, dtype=object), store,
                   pd.Index(stores.categories, dtype=object), first, rows)


@dataclass(frozen=True)
class AskedItems:
    """One row per product of each ``interesse`` or ``retorno`` event, in time order.

    Attributes:
        position: the event's position in ``Ordered`` (ascending).
        key: the product key's code in ``keys``.
        keys: the distinct product keys (an empty key is dropped, as ``event_items`` does).
        first_interesse: the items that are the first ``interesse`` of their customer and
            key (indices into ``position``, ascending: in time order).
    """

    position: np.ndarray
    key: np.ndarray
    keys: pd.Index
    first_interesse: np.ndarray


def asked_items(events: pd.DataFrame) -> AskedItems:
    """The items of the asking events, once per frame."""
    return per_frame(events, "asked_items", _asked_items)


def _asked_items(events: pd.DataFrame) -> AskedItems:
    order = ordered(events)
    asked = np.flatnonzero(_among(events["kind"], ASKED, order.rows)).astype(_index_type(len(order.at)))
    frame_rows = asked if order.rows is None else order.rows[asked]
    # The asked events' products alone (numbered 0..m-1): no copy of the frame's index.
    products = pd.DataFrame({"products": events["products"].to_numpy()[frame_rows]}, copy=False)
    del frame_rows
    within, keys = event_items(products)
    del products
    position = asked[within]
    del asked, within
    key = keys.codes.astype(np.int16 if len(keys.categories) < np.iinfo(np.int16).max else np.int32)
    # The first interesse of each (customer, key): items by customer and key, in time order within.
    interesse = np.flatnonzero(_among(events["kind"], (INTERESSE,), order.rows)[position])
    interesse = interesse.astype(_index_type(len(position)))
    customer = order.customer[position[interesse]]
    known = customer >= 0
    interesse = interesse[known]
    pair = customer[known].astype(np.int64) * max(len(keys.categories), 1) + key[interesse]
    del customer, known
    pair_order = _stable_order(pair)
    pair = pair[pair_order]
    starts = np.r_[True, pair[1:] != pair[:-1]] if len(pair) else np.zeros(0, dtype=bool)
    first = np.sort(interesse[pair_order[starts]]).astype(_index_type(len(position)))
    return AskedItems(position, key, pd.Index(keys.categories, dtype=object), first)


def next_touch(events: pd.DataFrame) -> np.ndarray:
    """Per position of ``Ordered``: where the same customer is next in touch (WhatsApp or in store).

    ``len(at)`` when they never are again; -1 at events that are no contact (an import).
    Computed once per frame.
    """
    return per_frame(events, "next_touch", _next_touch)


def _next_touch(events: pd.DataFrame) -> np.ndarray:
    order = ordered(events)
    n = len(order.at)
    touch = np.flatnonzero(_among(events["source"], IN_TOUCH, order.rows) & (order.customer >= 0))
    by_customer = touch[_stable_order(order.customer[touch].astype(np.int64))]
    following = np.full(n, -1, dtype=_index_type(n + 1))
    same = order.customer[by_customer[1:]] == order.customer[by_customer[:-1]]
    following[by_customer[:-1]] = np.where(same, by_customer[1:], n)
    if len(by_customer):
        following[by_customer[-1]] = n
    return following


def customer_rows(events: pd.DataFrame, data: CustomerData) -> np.ndarray:
    """The row in ``data`` of each customer of ``Ordered.ids`` (-1: not there), once per frame and data.

    Matching ids is a lookup of every id by text; the frame and the customers both stay for a
    version (the dashboard keeps both), so the answer is kept with the frame for that ``data``.
    """
    kept: dict[int, tuple[weakref.ref, np.ndarray]] = per_frame(events, "customer_rows", lambda _: {})
    found = kept.get(id(data))
    if found is not None and found[0]() is data:
        return found[1]
    rows = id_rows(ordered(events).ids, data)
    with _LOCK:
        for key in [key for key, (alive, _) in kept.items() if alive() is None]:
            del kept[key]
        kept[id(data)] = (weakref.ref(data), rows)
    return rows


# --- helpers ----------------------------------------------------------------------------


def _micros(moments: pd.Series) -> np.ndarray:
    """As ``timeline.micros``, without a copy when the column is already UTC microseconds."""
    dtype = moments.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) and dtype.unit == "us" and str(dtype.tz) in ("UTC", str(UTC)):
        return moments.array.asi8
    return micros(moments)


def _in_order(values: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    return values if rows is None else values[rows]


def _among(column: pd.Series, wanted: tuple[str, ...], rows: np.ndarray | None) -> np.ndarray:
    """Whether each event's value (a categorical column) is one of ``wanted``, in time order."""
    values = _categorical(column)
    chosen = np.append(pd.Index(values.categories, dtype=object).isin(wanted), False)
    return chosen[_in_order(values.codes, rows)]


def _categorical(values: pd.Series) -> pd.Categorical:
    return values.array if isinstance(values.dtype, pd.CategoricalDtype) else pd.Categorical(values)


def _index_type(size: int) -> type[np.signedinteger]:
    return np.int32 if size < np.iinfo(np.int32).max else np.int64


def _stable_order(codes: np.ndarray) -> np.ndarray:
    """``np.argsort(codes, kind="stable")`` for non-negative codes: one sort of codes and positions packed."""
    if not len(codes):
        return np.zeros(0, dtype=np.int64)
    shift = len(codes).bit_length()
    if int(codes.max()).bit_length() + shift > 62:
        return np.argsort(codes, kind="stable")
    packed = (codes.astype(np.int64) << shift) | np.arange(len(codes), dtype=np.int64)
    packed.sort()
    return packed & ((1 << shift) - 1)


__all__ = ["AskedItems", "Ordered", "asked_items", "customer_rows", "next_touch", "ordered", "per_frame"]
