"""The timeline (SPEC §11): events, what a recording or a sync produces, and the event frame."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from services.frame import CustomerData
from services.interests import (
    RECENT_LIMIT,
    Customer,
    InvalidBatch,
    dedupe,
    product_key,
    repaired_history,
    split_raw,
)

WHATSAPP, LOJA, IMPORTACAO = "whatsapp", "loja", "importacao"
SOURCES: tuple[str, ...] = (WHATSAPP, LOJA, IMPORTACAO)
INTERESSE, RETORNO, CONVERSA, VISITA, COMPRA = "interesse", "retorno", "conversa", "visita", "compra"
KINDS: tuple[str, ...] = (INTERESSE, RETORNO, CONVERSA, VISITA, COMPRA)
#: Kinds in which a customer asked about products (trending, campaign outcomes).
ASKED: tuple[str, ...] = (INTERESSE, RETORNO)
#: Sources in which the customer was in touch (recency as the base stood then).
IN_TOUCH: tuple[str, ...] = (WHATSAPP, LOJA)
EVENT_COLUMNS: tuple[str, ...] = ("customer_id", "store", "at", "source", "kind", "products", "value_brl")


def _one_of(values: Sequence[str]) -> str:
    quoted = [f"“{value}”" for value in values]
    return ", ".join(quoted[:-1]) + " ou " + quoted[-1]


@dataclass(frozen=True)
class Event:
    """One change in a customer's life with the store, dated.

    Attributes:
        customer_id: the customer's record id.
        store: the customer's store.
        at: when it happened (aware; a naive time is read as UTC; kept in UTC).
        source: ``whatsapp``, ``loja`` or ``importacao``.
        kind: ``interesse``, ``retorno``, ``conversa``, ``visita`` or ``compra``.
        products: the products concerned, as spelled on record (required for
            ``interesse`` and ``retorno``).
        value_brl: the value of a purchase, in R$.

    Example: ``Event("rec1", "Jardins", now, "whatsapp", "interesse", ("Submariner",))``

    Raises:
        ValueError: an unknown kind or source, an ``interesse``/``retorno`` without
            products or a negative value, with a Portuguese message.
    """

    customer_id: str
    store: str
    at: datetime
    source: str
    kind: str
    products: tuple[str, ...] = ()
    value_brl: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Tipo de evento desconhecido: “{self.kind}” (use {_one_of(KINDS)}).")
        if self.source not in SOURCES:
            raise ValueError(f"Origem de evento desconhecida: “{self.source}” (use {_one_of(SOURCES)}).")
        if not isinstance(self.at, datetime):
            raise ValueError(f"Data de evento inválida: {self.at!r}.")
        at = self.at if self.at.tzinfo else self.at.replace(tzinfo=UTC)
        object.__setattr__(self, "at", at.astimezone(UTC))
        object.__setattr__(self, "products", tuple(self.products))
        if self.kind in ASKED and not self.products:
            raise ValueError(f"Um evento de {self.kind} precisa de ao menos um produto.")
        if self.value_brl is not None and not self.value_brl >= 0:
            raise ValueError(f"Valor de compra inválido: {self.value_brl!r}.")


# --- what a recording produces ----------------------------------------------------


def events_for_batch(
    before: Customer | None,
    batch: Sequence[str],
    at: datetime,
    source: str = WHATSAPP,
    customer_id: str | None = None,
    store: str | None = None,
) -> list[Event]:
    """The events of one recording (``services.interests.record_batch`` on ``before``'s fields).

    Products of the cleaned batch new to the (repaired) history give one ``interesse``
    event; products already there give one ``retorno`` event, spelled as on record. A
    recording in the store (source ``loja``) is a visit too (SPEC §11): a ``visita``
    event with the batch's products follows.

    Args:
        before: the customer before the recording; None on first contact.
        batch: the products of the recording, in order.
        at: when it happened.
        source: ``whatsapp`` (the assistant), ``loja`` (the customer's card) or ``importacao``.
        customer_id: the record id (default: ``before.id``; required on first contact).
        store: the store (default: ``before.store``; required on first contact).

    Returns:
        ``[interesse?, retorno?, visita?]``, each only when it has products.

    Raises:
        InvalidBatch: the batch holds no product after cleaning (as ``record_batch``).
        ValueError: no customer id or store to file the events under.
    """
    products = dedupe(split_raw(list(batch)))
    if not products:
        raise InvalidBatch("Nenhum produto informado.")
    customer_id = customer_id or (before.id if before else None)
    store = store or (before.store if before else None)
    if not customer_id or not store:
        raise ValueError("Evento sem cliente ou sem loja.")
    history = repaired_history(before.interests, before.interests_all) if before else []
    on_record = {product_key(item): item for item in history}
    new = tuple(p for p in products if product_key(p) not in on_record)
    again = tuple(on_record[product_key(p)] for p in products if product_key(p) in on_record)
    events = [
        Event(customer_id, store, at, source, kind, items)
        for kind, items in ((INTERESSE, new), (RETORNO, again))
        if items
    ]
    if source == LOJA:
        spelled = tuple(on_record.get(product_key(p), p) for p in products)
        events.append(Event(customer_id, store, at, source, VISITA, spelled))
    return events


# --- what a sync sees ---------------------------------------------------------------


def events_between(
    before: Customer | None, after: Customer, at_fallback: datetime, source: str = WHATSAPP
) -> list[Event]:
    """The events a sync derives from a record that changed from ``before`` to ``after``.

    - ``interesse``: items of ``after``'s (repaired) history new to ``before``'s.
    - ``retorno``: items already in ``before``'s history that came (back) to the front
      of ``interests``: the shortest tail of ``after.interests`` that explains the new
      ``interests`` as the recording rule would (``before.interests`` without the tail,
      then the tail, the last 5 kept). A change no recording can explain (an item
      removed by hand) gives no ``retorno``.
    - ``conversa``: ``last_interaction`` moved forward and no product event.

    Every event is dated ``after.last_interaction`` when it moved forward, else
    ``at_fallback`` (the sync time). A record changed several times between two syncs
    gives the union as the sync sees it: intermediate states are invisible, so two
    recordings come out as one set of events at the later time, and a product
    re-mentioned and then pushed out of ``interests`` leaves no ``retorno``.

    Args:
        before: the mirror's copy; None for a record new to the mirror since the last
            sync (do not call this on the first sync: what a base held then has no date).
        after: the record as the source holds it now.
        at_fallback: the sync time.
        source: the source to file the events under.

    Returns:
        The events, ``interesse`` then ``retorno`` (or one ``conversa``); empty when
        nothing changed.
    """
    moved = after.last_interaction is not None and (
        before is None
        or before.last_interaction is None
        or after.last_interaction > before.last_interaction
    )
    at = after.last_interaction if moved and after.last_interaction else at_fallback
    old_history = repaired_history(before.interests, before.interests_all) if before else []
    on_record = {product_key(item): item for item in old_history}
    new = tuple(item for item in after.history if product_key(item) not in on_record)
    tail = _mentioned_tail(dedupe(before.interests) if before else [], dedupe(after.interests))
    again = tuple(on_record[key] for key in map(product_key, tail) if key in on_record)
    kinds = ((INTERESSE, new), (RETORNO, again))
    events = [Event(after.id, after.store, at, source, kind, items) for kind, items in kinds if items]
    if not events and moved:
        events.append(Event(after.id, after.store, at, source, CONVERSA))
    return events


def _mentioned_tail(recent_before: Sequence[str], recent_after: Sequence[str]) -> list[str]:
    """The shortest tail of ``recent_after`` that the recording rule explains (empty: unchanged).

    ``[A, B, C, D, E] -> [B, C, D, E, A]`` gives ``[A]``; ``[A, B, C] -> [A, C, B]`` gives ``[B]``.
    """
    before = [product_key(item) for item in recent_before]
    after = [product_key(item) for item in recent_after]
    for size in range(len(after) + 1):
        tail = set(after[len(after) - size:])
        kept = [key for key in before if key not in tail]
        head = after[: len(after) - size]
        fits = kept[len(kept) - len(head):] == head if head else True
        # Fewer than 5 after the rule means nothing was cut: every kept item must be there.
        if fits and (len(after) >= RECENT_LIMIT or len(kept) == len(head)):
            return list(recent_after[len(after) - size:])
    return []


# --- the event frame ------------------------------------------------------------------


def frame_of(events: Iterable[Event]) -> pd.DataFrame:
    """Events as the frame ``EventLog.frame`` returns (tests, demo, previews).

    Returns:
        Columns ``EVENT_COLUMNS``: ``customer_id``, ``store``, ``source``, ``kind``
        categoricals; ``at`` ``datetime64[us, UTC]``; ``products`` a list per row;
        ``value_brl`` float (NaN when none). In the given order.
    """
    rows = list(events)
    return build_frame(
        [e.customer_id for e in rows], [e.store for e in rows], [e.at for e in rows],
        [e.source for e in rows], [e.kind for e in rows], [list(e.products) for e in rows],
        [np.nan if e.value_brl is None else e.value_brl for e in rows],
    )


def build_frame(
    customer_id: Sequence[str], store: Sequence[str], at: Sequence[object] | pd.Series,
    source: Sequence[str], kind: Sequence[str], products: Sequence[list[str]],
    value_brl: Sequence[float] | np.ndarray,
) -> pd.DataFrame:
    """The event frame from its columns (``at``: aware datetimes, or a datetime64 series)."""
    moments = at if isinstance(at, pd.Series) else pd.Series(list(at), dtype=object)
    return pd.DataFrame({
        "customer_id": categorical(customer_id),
        "store": categorical(store),
        "at": pd.to_datetime(moments, utc=True).astype("datetime64[us, UTC]").reset_index(drop=True),
        "source": pd.Categorical(source, categories=pd.Index(list(SOURCES), dtype=object)),
        "kind": pd.Categorical(kind, categories=pd.Index(list(KINDS), dtype=object)),
        "products": pd.Series(list(products), dtype=object),
        "value_brl": np.asarray(value_brl, dtype=float),
    }, columns=list(EVENT_COLUMNS))


def categorical(values: Sequence[str], sort: bool = True) -> pd.Categorical:
    """Texts as a categorical with plain-object categories (ids, stores), sorted unless ``sort`` is false."""
    codes, uniques = pd.factorize(np.array(values, dtype=object), sort=sort)
    return pd.Categorical.from_codes(codes, categories=pd.Index(uniques, dtype=object))


def empty_frame() -> pd.DataFrame:
    """An event frame without events (the columns and types of ``frame_of``)."""
    return build_frame([], [], [], [], [], [], [])


def micros(moments: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """Aware UTC datetimes as int64 microseconds since the epoch (NaT: the int64 minimum)."""
    values = pd.DatetimeIndex(moments)
    values = values.tz_localize(UTC) if values.tz is None else values.tz_convert(UTC)
    return values.as_unit("us").asi8


def micros_of(moment: datetime) -> int:
    """One moment as int64 microseconds since the epoch (naive: UTC)."""
    return int(micros(pd.DatetimeIndex([moment]))[0])


def id_rows(ids: pd.Index, data: CustomerData) -> np.ndarray:
    """The frame row (``cid``) in ``data`` of each of ``ids`` (int64); -1 when not there.

    Arrow matches the texts where they are (no Python string per customer, nothing kept);
    when an id repeats (never in a real base) its first row wins.
    """
    known = pa.array(data.customers["id"], type=pa.large_string())
    wanted = pa.array(np.asarray(ids, dtype=object), type=pa.large_string())
    found = pc.index_in(wanted, value_set=known)
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def event_items(events: pd.DataFrame) -> tuple[np.ndarray, pd.Categorical]:
    """One row per product of each event: ``(event row position, product key)``.

    Each distinct list object (``EventLog.frame`` shares one per distinct set of products)
    and each distinct title is read once; an item with an empty key is dropped.

    Returns:
        The positions (into ``events``) and the keys as a categorical (its ``codes`` index
        its ``categories``, the distinct keys).
    """
    lists = events["products"].to_numpy(dtype=object)
    n = len(lists)
    list_codes, identities = pd.factorize(np.fromiter(map(id, lists), dtype=np.int64, count=n))
    # int32 while it fits: millions of events and items, several arrays of them at once.
    if n < np.iinfo(np.int32).max:
        list_codes = list_codes.astype(np.int32)
    one_of_each = np.empty(len(identities), dtype=list_codes.dtype)
    del identities
    one_of_each[list_codes] = np.arange(n, dtype=list_codes.dtype)
    distinct_lists = lists[one_of_each].tolist()
    del one_of_each
    sizes = np.fromiter(map(len, distinct_lists), dtype=np.int64, count=len(distinct_lists))
    titles = np.fromiter(chain.from_iterable(distinct_lists), dtype=object, count=int(sizes.sum()))
    title_codes, titles_seen = pd.factorize(titles)
    key_codes, keys = pd.factorize(np.array([product_key(str(t)) for t in titles_seen], dtype=object))
    item_keys = key_codes[title_codes] if len(title_codes) else np.array([], dtype=np.int64)

    # Expand back to events: event i holds the items of its list, from that list's offset.
    total = int(sizes[list_codes].sum()) if n else 0
    small = max(total, n, len(title_codes)) < np.iinfo(np.int32).max
    index = np.int32 if small else np.int64
    counts = sizes.astype(index)[list_codes] if n else np.array([], dtype=index)
    rows = np.repeat(np.arange(n, dtype=index), counts)
    within = np.arange(len(rows), dtype=index)
    within -= np.repeat((np.cumsum(counts, dtype=index) - counts), counts)
    within += np.repeat((np.cumsum(sizes) - sizes).astype(index)[list_codes], counts) if n else 0
    del counts
    codes = item_keys.astype(index)[within] if len(rows) else np.array([], dtype=index)
    del within
    empty = np.flatnonzero(keys == "")
    if len(empty):
        keep = codes != empty[0]
        rows, codes = rows[keep], codes[keep]
        codes = codes - (codes > empty[0])
        keys = np.delete(keys, empty[0])
    return rows, pd.Categorical.from_codes(codes, categories=pd.Index(keys, dtype=object))
