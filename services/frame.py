"""The one customer frame every rule reads, built once per data version from raw records."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from services.catalog import Resolution, resolve_products
from services.interests import (
    RECENT_LIMIT,
    dedupe,
    normalize_phone,
    parse_time,
    phone_key,
    product_key,
    split_raw,
)

RAW_COLUMNS = (
    "id", "store", "phone", "name", "interests", "interests_all",
    "created_at", "last_interaction", "opt_out",
)
LONG_ITEM = 120

# Data-quality reasons, as the panel shows them.
BAD_PHONE = "telefone ilegível"
NO_PHONE = "sem telefone"
BAD_DATE = "data ilegível em {field}"
BAD_TYPE = "tipo inesperado em {field}"
REPEATED = "itens repetidos em {field}"
BLANK_ITEMS = "itens vazios em {field}"
OVER_LIMIT = "mais de 5 itens em interests"
LEGACY = "interests_all sem itens de interests (lido com reparo)"
LONG = "item com mais de 120 caracteres"
DUPLICATE = "telefone duplicado na loja"
NINTH_DIGIT = "mesmo telefone com e sem o nono dígito"


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
    renumber = np.full(len(data.customers), -1, dtype=np.int64)
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
        problems.append(BAD_TYPE.format(field=field))
        return []
    raw = split_raw(value)
    items = dedupe(raw)
    if len(items) < len(raw):
        problems.append(REPEATED.format(field=field))
    if isinstance(value, str) and value.strip() and not raw:
        problems.append(BLANK_ITEMS.format(field=field))
    elif isinstance(value, list | tuple) and any(
        not isinstance(v, str) or not v.strip() for v in value
    ):
        problems.append(BLANK_ITEMS.format(field=field))
    return items


def _read_time(value: object, field: str, problems: list[str]) -> object:
    if value is None or value == "":
        return None
    moment = parse_time(value)
    if moment is None:
        problems.append(BAD_DATE.format(field=field))
    return moment


def build(raw: pd.DataFrame, catalog: Mapping[str, Resolution] | None = None) -> CustomerData:
    """The customer frame of raw records, whatever they hold.

    Args:
        raw: one row per record with the ``RAW_COLUMNS`` (field values as read
            from the source: lists, strings, anything).
        catalog: the base's ``Products`` by key, when it has them.

    Returns:
        A ``CustomerData``; unreadable values become empty and are listed in
        ``problems``, never raised.
    """
    n = len(raw)
    ids, stores, names, phones_raw, phones, keys = [], [], [], [], [], []
    recents, histories, created, last, opt_out, problems_col = [], [], [], [], [], []
    titles: dict[str, str] = {}
    columns = {name: raw[name].tolist() if name in raw else [None] * n for name in RAW_COLUMNS}
    for i in range(n):
        problems: list[str] = []
        recent = _read_list(columns["interests"][i], "interests", problems)
        stored_history = _read_list(columns["interests_all"][i], "interests_all", problems)
        if len(recent) > RECENT_LIMIT:
            problems.append(OVER_LIMIT)
        history = dedupe([*stored_history, *recent])
        if len(history) > len(stored_history):
            problems.append(LEGACY)
        if any(len(item) > LONG_ITEM for item in history):
            problems.append(LONG)
        for item in history:
            titles.setdefault(product_key(item), item)
        phone_raw = columns["phone"][i]
        phone_raw = phone_raw if isinstance(phone_raw, str) else ("" if phone_raw is None else str(phone_raw))
        phone = normalize_phone(phone_raw) if phone_raw.strip() else None
        if phone is None:
            problems.append(BAD_PHONE if phone_raw.strip() else NO_PHONE)
        name = columns["name"][i]
        ids.append(str(columns["id"][i]))
        stores.append(str(columns["store"][i] or ""))
        names.append(" ".join(name.split()) if isinstance(name, str) else "")
        phones_raw.append(phone_raw)
        phones.append(phone)
        keys.append(phone_key(phone))
        recents.append(recent)
        histories.append(history)
        created.append(_read_time(columns["created_at"][i], "created_at", problems))
        last.append(_read_time(columns["last_interaction"][i], "last_interaction", problems))
        flag = columns["opt_out"][i]
        opt_out.append(bool(flag) if isinstance(flag, bool | int | np.integer) else flag in ("true", "1"))
        problems_col.append(problems)

    customers = pd.DataFrame({
        "id": ids,
        "store": stores,
        "name": names,
        "phone_raw": phones_raw,
        "phone": phones,
        "phone_key": keys,
        "recent": recents,
        "history": histories,
        "depth": np.array([len(h) for h in histories], dtype=np.int64),
        "created_at": pd.to_datetime(pd.Series(created, dtype=object), utc=True),
        "last_interaction": pd.to_datetime(pd.Series(last, dtype=object), utc=True),
        "opt_out": np.array(opt_out, dtype=bool),
        "problems": problems_col,
    })
    _flag_duplicate_phones(customers)
    products = resolve_products(list(titles.values()), catalog)
    return CustomerData(
        customers=customers,
        recent_items=_explode(customers["recent"]),
        history_items=_explode(customers["history"]),
        products=products,
    )


def _explode(lists: pd.Series) -> pd.DataFrame:
    lengths = lists.map(len).to_numpy(dtype=np.int64)
    cid = np.repeat(np.arange(len(lists)), lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    pos = np.arange(lengths.sum()) - starts
    keys = [product_key(item) for items in lists for item in items]
    return pd.DataFrame({"cid": cid, "pos": pos, "key": pd.Categorical(keys)})


def _flag_duplicate_phones(customers: pd.DataFrame) -> None:
    has_key = customers["phone_key"].notna()
    grouped = customers[has_key].groupby(["store", "phone_key"])["phone"]
    sizes = grouped.transform("size")
    distinct = grouped.transform("nunique")
    for idx in sizes[sizes > 1].index:
        reason = NINTH_DIGIT if distinct[idx] > 1 else DUPLICATE
        customers.at[idx, "problems"] = [*customers.at[idx, "problems"], reason]
