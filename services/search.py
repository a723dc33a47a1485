"""Finding a customer: by phone in any format, or by part of the name."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from operator import methodcaller

import numpy as np
import pandas as pd

from services.frame import CustomerData
from services.interests import normalize_phone, phone_key, product_key, require_phone
from services.store.base import CustomerRepository

MIN_PHONE_DIGITS = 4
SEARCH_LIMIT = 50
_DIGITS = re.compile(r"\D")
_LETTERS = re.compile(r"[^\W\d_]")

SEARCH_COLUMNS = ("cid", "id", "name", "phone", "phone_raw", "store", "last_interaction", "depth")


class InvalidQuery(ValueError):
    """A search that cannot find anyone: empty, or too short to be a phone or a name."""


# --- Search ----------------------------------------------------------------------


@dataclass(frozen=True)
class SearchIndex:
    """The search keys of a customer frame, computed once per data version.

    A name is searched word by word: a query word (no spaces) is part of a name exactly when
    it is part of one of the name's words, so the index keeps each distinct name word once and,
    for each, the distinct names holding it; a query looks through the words, not the rows.

    Attributes:
        keys: the distinct names as product keys (no accents, case-folded), object array.
        name_codes: each customer's position in ``keys``.
        words: the distinct words of ``keys`` (split on the single space a key holds).
        word_starts: the names holding word ``w`` are ``word_names[word_starts[w]:word_starts[w + 1]]``.
        word_names: positions in ``keys``, grouped by word.
        phone_keys: each customer's phone key (ninth digit dropped), None when unreadable.
        digits: each customer's phone digits as written (E.164 when readable), for partial numbers.
        key_digits: the digits of each phone key, so a partial number matches with or without
            the ninth digit.
    """

    keys: np.ndarray
    name_codes: np.ndarray
    words: pd.Series
    word_starts: np.ndarray
    word_names: np.ndarray
    phone_keys: pd.Series
    digits: pd.Series
    key_digits: pd.Series

    @classmethod
    def of(cls, data: CustomerData) -> SearchIndex:
        """The index of ``data`` (about a second for 500,000 customers; cache it)."""
        customers = data.customers
        phones = customers["phone"].where(customers["phone"].notna(), customers["phone_raw"])
        name_codes, names = pd.factorize(customers["name"].fillna(""))
        keys = np.array([product_key(name) for name in names.to_numpy(dtype=object)], dtype=object)
        word_counts = np.fromiter(map(methodcaller("count", " "), keys), dtype=np.int64, count=len(keys)) + 1
        owners = np.repeat(np.arange(len(keys), dtype=np.int64), word_counts)
        spelled = " ".join(keys).split(" ") if len(keys) else []
        word_codes, words = pd.factorize(np.array(spelled, dtype=object))
        order = np.argsort(word_codes)
        return cls(
            keys=keys,
            name_codes=name_codes,
            words=pd.Series(words, dtype=object).astype(str),
            word_starts=np.searchsorted(word_codes[order], np.arange(len(words) + 1)),
            word_names=owners[order],
            phone_keys=customers["phone_key"],
            digits=phones.fillna("").astype(str).str.replace(r"\D", "", regex=True),
            key_digits=customers["phone_key"].fillna("").astype(str).str.replace(r"\D", "", regex=True),
        )

    def name_keys(self, rows: np.ndarray) -> np.ndarray:
        """The names of customers ``rows`` as product keys (object array)."""
        return self.keys[self.name_codes[rows]]

    def name_mask(self, words: list[str]) -> np.ndarray:
        """Which customers' names hold every one of ``words`` (no spaces, product keys)."""
        held = np.ones(len(self.keys), dtype=bool)
        for word in words:
            matching = np.flatnonzero(self.words.str.contains(word, regex=False).to_numpy())
            holding = np.zeros(len(self.keys), dtype=bool)
            if len(matching):
                holding[np.concatenate([
                    self.word_names[self.word_starts[w]:self.word_starts[w + 1]] for w in matching
                ])] = True
            held &= holding
        return held[self.name_codes]


def is_phone_query(query: str) -> bool:
    """True when the text reads as a phone number (digits and punctuation, no letters).

    Example: ``is_phone_query("(11) 9 8765-4321")`` is true; ``is_phone_query("Ana")`` is not.
    """
    return not _LETTERS.search(query) and len(_DIGITS.sub("", query)) >= MIN_PHONE_DIGITS


def search(
    data: CustomerData,
    query: str,
    *,
    index: SearchIndex | None = None,
    limit: int | None = SEARCH_LIMIT,
) -> pd.DataFrame:
    """The customers a phone or a name points to, the most recently active first.

    A phone matches in any format (spaces, dashes, parentheses, with or without
    +55, with or without the ninth digit); a partial number matches the end of
    the phone. A name matches when every word of the query is part of it,
    ignoring accents and case ("joao silva" finds "João da Silva").

    Args:
        data: the customer frame, already scoped to the stores chosen (``access.scoped``).
        query: what the user typed.
        index: ``SearchIndex.of(data)``, when the caller keeps one; built here otherwise.
        limit: at most this many rows (None: all).

    Returns:
        Columns ``SEARCH_COLUMNS``; ``cid`` is the customer's row in ``data``.

    Raises:
        InvalidQuery: when the text is empty, or neither a name nor a phone.
    """
    text = " ".join(str(query or "").split())
    if not text:
        raise InvalidQuery("Digite um telefone ou um nome.")
    index = index or SearchIndex.of(data)
    if is_phone_query(text):
        mask = _phone_mask(text, index).copy()
    elif not _LETTERS.search(text):
        raise InvalidQuery("Digite pelo menos quatro dígitos do telefone ou duas letras do nome.")
    else:
        words = product_key(text).split()
        if not words or len("".join(words)) < 2:
            raise InvalidQuery("Digite pelo menos duas letras do nome ou quatro dígitos do telefone.")
        mask = index.name_mask(words)
    found = data.customers.loc[mask, list(SEARCH_COLUMNS[1:])].copy()
    found.insert(0, "cid", np.flatnonzero(mask))
    found = found.sort_values(["last_interaction", "cid"], ascending=[False, True], na_position="last")
    if limit is not None:
        found = found.head(limit)
    return found.reset_index(drop=True)


def _phone_mask(text: str, index: SearchIndex) -> np.ndarray:
    e164 = normalize_phone(text)
    if e164 is not None:
        exact = (index.phone_keys == phone_key(e164)).to_numpy()
        if exact.any():
            return exact
    # A partial number: the last digits, with or without the ninth digit.
    digits = _DIGITS.sub("", text)
    mask = index.digits.str.endswith(digits).to_numpy() | index.key_digits.str.endswith(digits).to_numpy()
    if len(digits) >= 9 and digits[-9] == "9" and digits[-8] in "6789":
        without_ninth = digits[:-9] + digits[-8:]
        mask |= index.key_digits.str.endswith(without_ninth).to_numpy()
    return mask


# --- People: one customer, however many records -----------------------------------


def _person_codes(data: CustomerData) -> np.ndarray:
    """One code per person: the records of a store sharing a phone key (the same phone, with
    or without the ninth digit) share it; a record without a readable phone is alone."""
    customers = data.customers
    keyed = customers["phone_key"].notna().to_numpy()
    codes = np.arange(len(customers), dtype=np.int64) + len(customers)
    if keyed.any():
        pairs = customers["store"].astype(str) + "\n" + customers["phone_key"].astype(str)
        shared, _ = pd.factorize(pairs[keyed])
        codes[keyed] = shared
    return codes


def person_rows(data: CustomerData, cid: int) -> tuple[int, ...]:
    """Every row of ``data`` that is the same person as row ``cid`` (itself included), in order.

    Example: a store holding ``+5511987654321`` and ``+551187654321`` gives both rows for either.
    """
    codes = data.derived("search.person_codes", _person_codes)
    return tuple(int(i) for i in np.flatnonzero(codes == codes[int(cid)]))


@dataclass(frozen=True)
class Lookup:
    """What a search found, one row per person.

    Attributes:
        people: ``SEARCH_COLUMNS`` of the most recent record of each person, the most
            recently active first.
        exact: whether the query was a whole phone or a whole name that ``people`` holds.
        opened: the row (``cid``) to open at once: the one person an exact phone or name
            points to, or the only person found; None when the user must choose.
    """

    people: pd.DataFrame
    exact: bool
    opened: int | None


def lookup(data: CustomerData, query: str, *, index: SearchIndex | None = None) -> Lookup:
    """The people a query points to, and which one to open without asking.

    An exact phone (any format, with or without the ninth digit) or an exact whole name
    (accents and case aside) opens its customer when only one person has it; a partial
    query opens a card only when it finds one person, never the most recent of several.

    Args:
        data: the customer frame of the chosen stores.
        query: what the user typed.
        index: ``SearchIndex.of(data)``, when the caller keeps one.

    Returns:
        A ``Lookup``.

    Raises:
        InvalidQuery: as ``search``.
    """
    index = index or SearchIndex.of(data)
    found = search(data, query, index=index, limit=None)
    codes = data.derived("search.person_codes", _person_codes)
    people = found[~pd.Series(codes[found["cid"].to_numpy()]).duplicated().to_numpy()]
    people = people.reset_index(drop=True)
    text = " ".join(str(query).split())
    cids = people["cid"].to_numpy()
    if is_phone_query(text):
        e164 = normalize_phone(text)
        key = phone_key(e164) if e164 else None
        exact = (data.customers["phone_key"].to_numpy(dtype=object)[cids] == key) if key else \
            np.zeros(len(cids), dtype=bool)
    else:
        exact = index.name_keys(cids) == product_key(text)
    hits = cids[exact]
    if len(hits) == 1:
        opened: int | None = int(hits[0])
    elif len(cids) == 1 and not len(hits):
        opened = int(cids[0])
    else:
        opened = None
    return Lookup(people=people, exact=bool(len(hits)), opened=opened)


def phone_store(
    repository: CustomerRepository, phone: str, stores: Collection[str]
) -> str | None:
    """The first of ``stores`` that holds a customer with ``phone`` (ninth digit or not).

    For telling a user that a number already belongs to a customer elsewhere without
    reading that customer: callers show the store only when the user may see it.

    Args:
        repository: where customers live.
        phone: the number typed, any format.
        stores: where to look, in order.

    Returns:
        The store's name, or None.
    """
    e164 = require_phone(phone)
    return next((store for store in stores if repository.find(store, e164) is not None), None)
