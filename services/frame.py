"""The one customer frame every rule reads, built once per data version from raw records."""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import numpy as np
import pandas as pd

from services.catalog import Resolution, resolve_products
from services.interests import (
    DATE_YEARS,
    RECENT_LIMIT,
    Customer,
    clean_item,
    dedupe,
    normalize_phone,
    parse_time,
    phone_key,
    product_key,
    repaired_history,
    split_raw,
)
from services.records import raw_of

T = TypeVar("T")
RAW_COLUMNS = (
    "id", "store", "phone", "name", "interests", "interests_all",
    "created_at", "last_interaction", "opt_out",
)
LONG_ITEM = 120

# Data-quality reasons, as the panel and the card show them: in words, not field names.
BAD_PHONE = "telefone ilegível"
NO_PHONE = "sem telefone"
BAD_DATE = "data {of} ilegível"
BAD_TYPE = "{what} em formato inesperado"
REPEATED = "produtos repetidos {where}"
BLANK_ITEMS = "itens vazios {where}"
OVER_LIMIT = "mais de 5 interesses recentes"
LEGACY = "histórico sem alguns dos interesses recentes (lido com reparo)"
LONG = "produto com mais de 120 caracteres"
DUPLICATE = "telefone duplicado na loja"
NINTH_DIGIT = "mesmo telefone com e sem o nono dígito"
_FIELD_WORDS = {
    "interests": {"what": "interesses recentes", "where": "nos interesses recentes",
                  "of": "dos interesses recentes"},
    "interests_all": {"what": "histórico de interesses", "where": "no histórico de interesses",
                      "of": "do histórico de interesses"},
    "created_at": {"what": "data do primeiro contato", "where": "na data do primeiro contato",
                   "of": "do primeiro contato"},
    "last_interaction": {"what": "data do último contato", "where": "na data do último contato",
                         "of": "do último contato"},
}


def field_problem(reason: str, field: str) -> str:
    """A data-quality reason about one field of the base, in the words people use.

    Example: ``field_problem(BAD_DATE, "last_interaction") == "data do último contato ilegível"``.
    """
    return reason.format(**_FIELD_WORDS[field])


_DERIVING = threading.Lock()


@dataclass(frozen=True)
class CustomerData:
    """Customers with their interests exploded once into long tables.

    Attributes:
        customers: one row per customer (``id, store, name, phone_raw, phone,
            phone_key, recent, history, depth, created_at, last_interaction,
            opt_out, problems``), indexed 0..n-1.
        recent_items: one row per item of ``interests`` (``cid, pos, key``),
            ``pos`` 0 the oldest.
        history_items: one row per item of the history (``cid, pos, key``).
        products: one row per distinct product key (``key, title, brand,
            category, tier, line``).
    """

    customers: pd.DataFrame
    recent_items: pd.DataFrame
    history_items: pd.DataFrame
    products: pd.DataFrame
    _derived: dict[str, object] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def derived(self, name: str, compute: Callable[[CustomerData], T]) -> T:
        """``compute(self)``, computed once per frame and kept with it.

        For per-customer columns that do not depend on a rule's arguments (a
        customer's brands, whether a phone is valid): the dashboard keeps one frame
        per data version, so every control change reuses them. The frame never
        changes, so neither can they; callers must not mutate what they get.
        """
        if name in self._derived:
            return self._derived[name]  # type: ignore[return-value]
        # Sessions that open a page at once wait for one computation instead of each doing it
        # (twenty managers on a new data version would otherwise compute the same brands twenty
        # times over). One lock per name: a computation may read other derived values.
        with _DERIVING:
            lock = self._derived.setdefault(f"{name}.lock", threading.Lock())
        with lock:  # type: ignore[union-attr]
            if name not in self._derived:
                self._derived[name] = compute(self)
        return self._derived[name]  # type: ignore[return-value]

    @property
    def stores(self) -> list[str]:
        """The stores present in the data, sorted."""
        return sorted(self.customers["store"].dropna().unique().tolist())

    def for_stores(self, stores: Collection[str]) -> CustomerData:
        """Only the customers of ``stores``: the access boundary of every rule."""
        allowed = set(stores)
        keep = self.customers["store"].isin(allowed).to_numpy()
        if keep.all():
            return self
        return subset(self, keep)


def subset(data: CustomerData, keep: np.ndarray) -> CustomerData:
    """The customers where ``keep`` is true, renumbered 0..m-1."""
    old_ids = np.flatnonzero(keep)
    renumber = np.full(len(data.customers), -1, dtype=np.int32)
    renumber[old_ids] = np.arange(len(old_ids))

    def long(items: pd.DataFrame) -> pd.DataFrame:
        kept = items[keep[items["cid"].to_numpy()]].copy()
        kept["cid"] = renumber[kept["cid"].to_numpy()]
        if isinstance(kept["key"].dtype, pd.CategoricalDtype):
            kept["key"] = kept["key"].cat.remove_unused_categories()
        return kept.reset_index(drop=True)

    customers = data.customers.iloc[old_ids].reset_index(drop=True)
    recent, history = long(data.recent_items), long(data.history_items)
    # Product titles are what customers typed: another store's must not show through.
    used = _keys(recent) | _keys(history)
    products = data.products[data.products["key"].isin(used)]
    return CustomerData(customers, recent, history, products)


def _keys(items: pd.DataFrame) -> set[str]:
    keys = items["key"]
    return set(keys.cat.categories if isinstance(keys.dtype, pd.CategoricalDtype) else keys.unique())


def _read_list(value: object, field: str, problems: list[str]) -> list[str]:
    if value is not None and not isinstance(value, str | list | tuple):
        problems.append(field_problem(BAD_TYPE, field))
        return []
    raw = split_raw(value)
    items = dedupe(raw)
    if len(items) < len(raw):
        problems.append(field_problem(REPEATED, field))
    if isinstance(value, str) and value.strip() and not raw:
        problems.append(field_problem(BLANK_ITEMS, field))
    elif isinstance(value, list | tuple) and any(
        not isinstance(v, str) or not clean_item(v) for v in value
    ):
        problems.append(field_problem(BLANK_ITEMS, field))
    return items


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while hundreds of thousands of lists are created.

    Each of them would count towards a collection that walks every live container, the
    frame's own included, and finds nothing to free (lists of strings hold no cycles).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def build(raw: pd.DataFrame | Iterable[pd.DataFrame],
          catalog: Mapping[str, Resolution] | None = None) -> CustomerData:
    """The customer frame of raw records, whatever they hold.

    Args:
        raw: one row per record with the ``RAW_COLUMNS`` (field values as read
            from the source: lists, strings, anything); or consecutive parts of
            them (``raw_customer_parts``), each read and let go in turn, so the
            build holds one part of the raw records at a time instead of all.
        catalog: the base's ``Products`` by key, when it has them.

    Returns:
        A ``CustomerData``; unreadable values become empty and are listed in
        ``problems``, never raised.
    """
    with no_gc():
        return _build(raw, catalog)


class _Columns:
    """The frame's columns, filled part after part."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.stores: list[str] = []
        self.names: list[str] = []
        self.phones_raw: list[str] = []
        self.phones: list[str | None] = []
        self.recents: list[list[str]] = []
        self.histories: list[list[str]] = []
        self.created: list[object] = []
        self.last: list[object] = []
        self.opt_out: list[bool] = []
        self.problems: list[list[str]] = []
        self.recent_keys: list[str] = []
        self.history_keys: list[str] = []
        self.titles: dict[str, str] = {}
        self.reader = _ListReader()

    def read(self, raw: pd.DataFrame) -> None:
        """Append the records of ``raw``."""
        n = len(raw)
        columns = {
            name: [_none_if_missing(value) for value in raw[name].tolist()] if name in raw else [None] * n
            for name in RAW_COLUMNS
        }
        phones_raw = [
            value if isinstance(value, str) else ("" if value is None else str(value))
            for value in columns["phone"]
        ]
        phones = _normalize_phones(phones_raw)
        reader, titles = self.reader, self.titles
        for i in range(n):
            problems: list[str] = []
            recent, r_keys, r_set = reader.read(columns["interests"][i], "interests", problems)
            history, h_keys, h_set = reader.read(columns["interests_all"][i], "interests_all", problems)
            if len(recent) > RECENT_LIMIT:
                problems.append(OVER_LIMIT)
            if not r_set <= h_set:
                history = repaired_history(recent, history)
                h_keys = [product_key(item) for item in history]
                problems.append(LEGACY)
            if history and max(map(len, history)) > LONG_ITEM:
                problems.append(LONG)
            for key, item in zip(h_keys, history, strict=True):
                if key not in titles:
                    titles[key] = item
            self.recent_keys.extend(r_keys)
            self.history_keys.extend(h_keys)
            if phones[i] is None:
                problems.append(BAD_PHONE if phones_raw[i].strip() else NO_PHONE)
            self.recents.append(recent)
            self.histories.append(history)
            self.created.append(_read_time(columns["created_at"][i], "created_at", problems))
            self.last.append(_read_time(columns["last_interaction"][i], "last_interaction", problems))
            self.problems.append(problems)
        self.ids.extend(str(value) for value in columns["id"])
        self.stores.extend(str(value or "") for value in columns["store"])
        self.names.extend(" ".join(name.split()) if isinstance(name, str) else "" for name in columns["name"])
        self.phones_raw.extend(phones_raw)
        self.phones.extend(phones)
        self.opt_out.extend(_flag(value) for value in columns["opt_out"])


def _build(
    raw: pd.DataFrame | Iterable[pd.DataFrame], catalog: Mapping[str, Resolution] | None
) -> CustomerData:
    built = _Columns()
    parts = iter([raw] if isinstance(raw, pd.DataFrame) else raw)
    del raw
    for part in parts:
        built.read(part)
        del part  # this part goes before the next one is read
    phones, histories = built.phones, built.histories
    customers = pd.DataFrame({
        "id": built.ids,
        "store": built.stores,
        "name": built.names,
        "phone_raw": built.phones_raw,
        "phone": phones,
        "phone_key": [phone_key(phone) for phone in phones],
        "recent": built.recents,
        "history": histories,
        "depth": np.array([len(h) for h in histories], dtype=np.int64),
        "created_at": pd.to_datetime(pd.Series(built.created, dtype=object), utc=True),
        "last_interaction": pd.to_datetime(pd.Series(built.last, dtype=object), utc=True),
        "opt_out": np.array(built.opt_out, dtype=bool),
        "problems": built.problems,
    })
    _flag_duplicate_phones(customers)
    products = resolve_products(list(built.titles.values()), catalog)
    return CustomerData(
        customers=customers,
        recent_items=_long_table(built.recents, built.recent_keys),
        history_items=_long_table(histories, built.history_keys),
        products=products,
    )


def _none_if_missing(value: object) -> object:
    # A text column with gaps reads its gaps as NaN (pandas' string dtype), not None: a
    # missing phone or date is missing, not unreadable.
    if type(value) is float:
        return None if value != value else value
    return None if value is pd.NA or value is pd.NaT else value


def _flag(value: object) -> bool:
    return bool(value) if isinstance(value, bool | int | np.integer) else value in ("true", "1")


class _ListReader:
    """Reads interest fields, remembering per distinct item whether it is already clean.

    Most items of a base repeat (a catalog of products), so the per-item work
    (cleaning, key) is done once per distinct text, not once per mention.
    """

    def __init__(self) -> None:
        # item -> its key when the item is clean as it stands (else None).
        self._clean: dict[object, str | None] = {}
        # clean item -> the first object seen with that text: the frame holds each distinct
        # text once, not once per mention (at 100,000 customers, a hundred MB less).
        self._same: dict[str, str] = {}

    def _learn(self, value: list) -> list[str | None]:
        keys = []
        for item in value:
            try:
                key = self._clean.get(item, False)
            except TypeError:  # an unhashable item (a list in a list): never clean
                keys.append(None)
                continue
            if key is False:
                key = None
                if type(item) is str and split_raw([item]) == [item]:
                    # An item made only of combining marks has an empty key: the slow path drops it.
                    key = product_key(item) or None
                self._clean[item] = key
                if key is not None:
                    self._same[item] = item
            keys.append(key)
        return keys

    def read(
        self, value: object, field: str, problems: list[str]
    ) -> tuple[list[str], list[str], set[str]]:
        """The items of one field, their keys and the set of keys; problems go to ``problems``."""
        if value is None:
            return [], [], set()
        if type(value) is list:
            clean = self._clean
            try:
                keys = [clean[item] for item in value]
            except (KeyError, TypeError):
                keys = self._learn(value)
            if None not in keys:
                distinct = set(keys)
                if len(distinct) == len(keys):
                    return list(map(self._same.__getitem__, value)), keys, distinct
        items = _read_list(value, field, problems)
        keys = [product_key(item) for item in items]
        return items, keys, set(keys)


def _normalize_phones(raw: list[str]) -> list[str | None]:
    """``normalize_phone`` of each text, with a fast path for Brazilian numbers already in E.164.

    For ``+55`` and 10 or 11 national digits (no leading 0, not the ``90`` carrier prefix),
    ``normalize_phone`` returns the text itself or None, and which one depends only on the
    first four national digits and the length: every pattern of the Brazilian metadata
    (area code, then the first digits of the subscriber number, then any digits) stops there.
    ``tests/test_frame.py`` checks this against ``normalize_phone`` over every area code.
    """
    verdicts: dict[tuple[str, int], bool] = {}
    out: list[str | None] = []
    for text in raw:
        if (
            len(text) in (13, 14) and text.startswith("+55") and text[3] != "0"
            and not text.startswith("+5590") and text[1:].isdigit() and text.isascii()
        ):
            shape = (text[3:7], len(text))
            verdict = verdicts.get(shape)
            if verdict is None:
                verdict = verdicts[shape] = normalize_phone(text) == text
            if verdict:
                out.append(text)
                continue
        out.append(normalize_phone(text) if text.strip() else None)
    return out


def _read_time(value: object, field: str, problems: list[str]) -> object:
    if value is None or value == "":
        return None
    if type(value) is str:
        # The common case (ISO 8601 as Airtable writes it) without parse_time's detour.
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        # Outside 1900–2200 the slow path refuses it (and pandas could not hold it in nanoseconds).
        if moment is not None and moment.year in DATE_YEARS:
            if moment.tzinfo is None:
                return moment.replace(tzinfo=UTC)
            return moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    moment = parse_time(value)
    if moment is None:
        problems.append(field_problem(BAD_DATE, field))
    return moment


def _long_table(lists: list[list[str]], keys: list[str]) -> pd.DataFrame:
    # int32: half the memory for millions of items; whoever multiplies a cid widens it first.
    lengths = np.fromiter((len(items) for items in lists), dtype=np.int64, count=len(lists))
    cid = np.repeat(np.arange(len(lists), dtype=np.int32), lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    pos = (np.arange(lengths.sum()) - starts).astype(np.int32)
    del starts
    return pd.DataFrame({"cid": cid, "pos": pos, "key": _categorical(keys)})


def _categorical(keys: list[str]) -> pd.Categorical:
    """``pd.Categorical(keys)`` (categories sorted) through a dictionary of the few distinct keys:
    at a million items, without pandas' hash table and copies beside the list (70 MB less at the peak)."""
    dtype = pd.Categorical(sorted(set(keys))).dtype  # the categories' own type, as pandas infers it
    code_of = {key: code for code, key in enumerate(dtype.categories)}
    codes = np.fromiter(map(code_of.__getitem__, keys), dtype=np.int64, count=len(keys))
    return pd.Categorical.from_codes(codes, dtype=dtype)


def _flag_duplicate_phones(customers: pd.DataFrame) -> None:
    has_key = customers["phone_key"].notna()
    grouped = customers[has_key].groupby(["store", "phone_key"])["phone"]
    sizes = grouped.transform("size")
    distinct = grouped.transform("nunique")
    for idx in sizes[sizes > 1].index:
        reason = NINTH_DIGIT if distinct[idx] > 1 else DUPLICATE
        customers.at[idx, "problems"] = [*customers.at[idx, "problems"], reason]


def with_customer(
    data: CustomerData, customer: Customer, catalog: dict[str, Resolution] | None = None
) -> CustomerData:
    """``data`` with one saved customer put in, as a full rebuild of the store would read it.

    After an in-store note only one record changed; reading every customer again costs
    seconds at 100,000. The customer's old row (same id), if any, goes and the saved
    record comes last, where the store's ``INSERT OR REPLACE`` puts it too.

    Args:
        data: the frame of every store before the write.
        customer: the customer as ``record`` returned it.
        catalog: the base's products, to resolve a title the frame does not know yet.

    Returns:
        A new ``CustomerData``; ``data`` is not changed.
    """
    one = build(pd.DataFrame([raw_of(customer)]), catalog)
    old = data.customers
    keep = (old["id"] != customer.id).to_numpy()
    kept_ids = np.flatnonzero(keep)
    row = one.customers
    twins = [p for i in np.flatnonzero(~keep) for p in old.at[i, "problems"] if p in (DUPLICATE, NINTH_DIGIT)]
    if twins:
        row = row.copy()
        row.at[0, "problems"] = [*row.at[0, "problems"], *dict.fromkeys(twins)]
    customers = pd.concat([old.iloc[kept_ids], row], ignore_index=True)
    renumber = np.full(len(old), -1, dtype=np.int32)
    renumber[kept_ids] = np.arange(len(kept_ids))
    last = len(kept_ids)

    def long(items: pd.DataFrame, added: pd.DataFrame) -> pd.DataFrame:
        kept = items[keep[items["cid"].to_numpy()]]
        keys = pd.api.types.union_categoricals(
            [pd.Categorical(kept["key"]), pd.Categorical(added["key"])], ignore_order=True)
        return pd.DataFrame({
            "cid": np.concatenate([renumber[kept["cid"].to_numpy()],
                                   np.full(len(added), last, dtype=np.int32)]),
            "pos": np.concatenate([kept["pos"].to_numpy(), added["pos"].to_numpy()]),
            "key": keys,
        })

    new_products = one.products[~one.products.index.isin(data.products.index)]
    products = pd.concat([data.products, new_products]) if len(new_products) else data.products
    return CustomerData(
        customers=customers,
        recent_items=long(data.recent_items, one.recent_items),
        history_items=long(data.history_items, one.history_items),
        products=products,
    )
