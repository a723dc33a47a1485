"""Visit prep without a screen: finding a customer, the profile with talking points, in-store notes."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from services.access import require_stores
from services.catalog import (
    CATEGORY_LABELS,
    JEWELRY,
    TIER_ORDER,
    WATCH,
    Resolution,
    brand_tier,
    resolve_title,
)
from services.frame import DUPLICATE, NINTH_DIGIT, CustomerData, build
from services.interests import (
    DEPTH_LABELS,
    RECENT_LIMIT,
    Customer,
    InvalidBatch,
    depth_segment,
    iso,
    normalize_phone,
    phone_key,
    product_key,
    split_raw,
)
from services.store.base import CustomerRepository

QUIET_DAYS = 7
INACTIVE_DAYS = 60
MIN_PHONE_DIGITS = 4
SEARCH_LIMIT = 50
MAX_POINTS = 4
_DIGITS = re.compile(r"\D")
_LETTERS = re.compile(r"[^\W\d_]")

SEARCH_COLUMNS = ("cid", "id", "name", "phone", "phone_raw", "store", "last_interaction", "depth")


class InvalidQuery(ValueError):
    """A search that cannot find anyone: empty, or too short to be a phone or a name."""


# --- Search ----------------------------------------------------------------------


@dataclass(frozen=True)
class SearchIndex:
    """The search keys of a customer frame, computed once per data version.

    Attributes:
        name_keys: each customer's name as a product key (no accents, case-folded).
        phone_keys: each customer's phone key (ninth digit dropped), None when unreadable.
        digits: each customer's phone digits as written (E.164 when readable), for partial numbers.
        key_digits: the digits of each phone key, so a partial number matches with or without
            the ninth digit.
    """

    name_keys: pd.Series
    phone_keys: pd.Series
    digits: pd.Series
    key_digits: pd.Series

    @classmethod
    def of(cls, data: CustomerData) -> SearchIndex:
        """The index of ``data`` (about a second per 100,000 customers; cache it)."""
        customers = data.customers
        phones = customers["phone"].where(customers["phone"].notna(), customers["phone_raw"])
        return cls(
            name_keys=customers["name"].fillna("").map(product_key).astype(str),
            phone_keys=customers["phone_key"],
            digits=phones.fillna("").astype(str).str.replace(r"\D", "", regex=True),
            key_digits=customers["phone_key"].fillna("").astype(str).str.replace(r"\D", "", regex=True),
        )


def is_phone_query(query: str) -> bool:
    """True when the text reads as a phone number (digits and punctuation, no letters).

    Example: ``is_phone_query("(11) 9 8765-4321")`` is true; ``is_phone_query("Ana")`` is not.
    """
    return not _LETTERS.search(query) and len(_DIGITS.sub("", query)) >= MIN_PHONE_DIGITS


def search(
    data: CustomerData,
    query: str,
    *,
    stores: Collection[str] | None = None,
    index: SearchIndex | None = None,
    limit: int | None = SEARCH_LIMIT,
) -> pd.DataFrame:
    """The customers a phone or a name points to, the most recently active first.

    A phone matches in any format (spaces, dashes, parentheses, with or without
    +55, with or without the ninth digit); a partial number matches the end of
    the phone. A name matches when every word of the query is part of it,
    ignoring accents and case ("joao silva" finds "João da Silva").

    Args:
        data: the customer frame, already scoped to the user's stores.
        query: what the user typed.
        stores: when given, only customers of these stores (the access boundary).
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
        mask = np.ones(len(index.name_keys), dtype=bool)
        for word in words:
            mask &= index.name_keys.str.contains(word, regex=False).to_numpy()
    if stores is not None:
        mask &= data.customers["store"].isin(set(stores)).to_numpy()
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


# --- Profile ---------------------------------------------------------------------


@dataclass(frozen=True)
class Interest:
    """One product a customer asked about, resolved to its brand and category."""

    title: str
    brand: str | None
    category: str

    @property
    def label(self) -> str:
        """The product with its brand, as a chip shows it: ``"Submariner · Rolex"``."""
        return f"{self.title} · {self.brand}" if self.brand else self.title


@dataclass(frozen=True)
class Share:
    """How many items of a list belong to one brand or category."""

    name: str
    count: int
    total: int

    @property
    def fraction(self) -> float:
        """``count / total`` (0 for an empty list)."""
        return self.count / self.total if self.total else 0.0


@dataclass(frozen=True)
class Profile:
    """Everything a salesperson reads before a visit.

    Attributes:
        recent: the items of ``interests``, most recent first.
        history: the history in order of first mention (oldest first).
        recent_brands, history_brands: brands by number of items, most frequent first.
        recent_categories, history_categories: categories (``watch``, ``jewelry``, ``unknown``) likewise.
        days_since: whole days since the last interaction (None when unknown).
        talking_points: two to four sentences in Portuguese drawn from the data.
    """

    id: str
    store: str
    name: str
    phone: str | None
    phone_raw: str
    created_at: pd.Timestamp | None
    last_interaction: pd.Timestamp | None
    days_since: int | None
    depth: int
    depth_segment: str
    opt_out: bool
    recent: tuple[Interest, ...]
    history: tuple[Interest, ...]
    recent_brands: tuple[Share, ...]
    history_brands: tuple[Share, ...]
    recent_categories: tuple[Share, ...]
    history_categories: tuple[Share, ...]
    talking_points: tuple[str, ...]
    problems: tuple[str, ...] = ()

    @property
    def whatsapp_url(self) -> str | None:
        """``https://wa.me/<digits>`` for a readable phone, else None."""
        return f"https://wa.me/{self.phone[1:]}" if self.phone else None

    @property
    def depth_label(self) -> str:
        """The depth segment in Portuguese."""
        return DEPTH_LABELS[self.depth_segment]


def profile(
    data: CustomerData,
    cid: int,
    now: datetime,
    catalog: dict[str, Resolution] | None = None,
) -> Profile:
    """The profile of the customer in row ``cid`` of ``data``.

    Args:
        data: the customer frame.
        cid: the customer's row (``search(...)["cid"]``).
        now: the reference time ("há 12 dias" is counted from it).
        catalog: the base's products, to resolve a title the frame does not know yet.

    Returns:
        A ``Profile``; for the SPEC's Month 3 customer the first talking point is
        ``"Foco recente: Patek Philippe (5 de 5)"``.
    """
    row = data.customers.iloc[int(cid)]
    resolve = _resolver(data.products, catalog)
    recent = [resolve(title) for title in reversed(row["recent"])]
    history = [resolve(title) for title in row["history"]]
    last = None if pd.isna(row["last_interaction"]) else pd.Timestamp(row["last_interaction"])
    created = None if pd.isna(row["created_at"]) else pd.Timestamp(row["created_at"])
    days = None if last is None else max(0, (pd.Timestamp(now) - last).days)
    depth = int(row["depth"])
    recent_brands = _shares([i.brand for i in recent if i.brand], len(recent))
    history_brands = _shares([i.brand for i in history if i.brand], len(history))
    recent_categories = _shares([i.category for i in recent], len(recent))
    history_categories = _shares([i.category for i in history], len(history))
    points = talking_points(
        recent=recent, history=history, days_since=days, opt_out=bool(row["opt_out"]),
        recent_brands=recent_brands, history_brands=history_brands,
        recent_categories=recent_categories, history_categories=history_categories,
    )
    return Profile(
        id=str(row["id"]),
        store=str(row["store"]),
        name=str(row["name"] or ""),
        phone=row["phone"] if isinstance(row["phone"], str) and row["phone"] else None,
        phone_raw=str(row["phone_raw"] or ""),
        created_at=created,
        last_interaction=last,
        days_since=days,
        depth=depth,
        depth_segment=depth_segment(depth),
        opt_out=bool(row["opt_out"]),
        recent=tuple(recent),
        history=tuple(history),
        recent_brands=recent_brands,
        history_brands=history_brands,
        recent_categories=recent_categories,
        history_categories=history_categories,
        talking_points=tuple(points),
        problems=tuple(row["problems"] or ()),
    )


def _resolver(products: pd.DataFrame, catalog: dict[str, Resolution] | None):
    def resolve(title: str) -> Interest:
        key = product_key(title)
        if key in products.index:
            found = products.loc[key]
            brand = found["brand"] if isinstance(found["brand"], str) and found["brand"] else None
            return Interest(title, brand, str(found["category"]))
        resolution = resolve_title(title, catalog)
        return Interest(title, resolution.brand, resolution.category)

    return resolve


def _shares(names: Sequence[str], total: int) -> tuple[Share, ...]:
    counts = Counter(names)
    # Most frequent first; ties keep the order of first appearance.
    order = {name: i for i, name in reversed(list(enumerate(names)))}
    ranked = sorted(counts, key=lambda name: (-counts[name], order[name]))
    return tuple(Share(name, counts[name], total) for name in ranked)


def join_pt(names: Sequence[str]) -> str:
    """Names as a Portuguese list: ``"A"``, ``"A e B"``, ``"A, B e C"``."""
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " e " + names[-1]


def talking_points(
    *,
    recent: Sequence[Interest],
    history: Sequence[Interest],
    days_since: int | None,
    opt_out: bool,
    recent_brands: Sequence[Share],
    history_brands: Sequence[Share],
    recent_categories: Sequence[Share],
    history_categories: Sequence[Share],
) -> list[str]:
    """Two to four sentences for the conversation, most useful first.

    Args:
        recent: the items of ``interests``, most recent first.
        history: the history, oldest first.
        days_since: days since the last interaction.
        opt_out: the customer asked not to receive messages.
        recent_brands, history_brands, recent_categories, history_categories: as in ``Profile``.

    Returns:
        Sentences such as ``"Foco recente: Patek Philippe (4 de 5)"``,
        ``"Subiu de Rolex para Patek Philippe"``, ``"Também pergunta por joias: Anel Diamante"``.
    """
    points: list[str] = []
    if opt_out:
        points.append("Pediu para não receber mensagens: não incluir em campanhas")
    if not history:
        points.append("Nenhum interesse registrado ainda: pergunte o que procura")
    candidates = [
        _focus(recent, recent_brands, recent_categories),
        _asked_again(recent, history),
        _upgrade(history) or _shift(recent_brands, history_brands),
        _also_asks(history, history_categories),
        _contact(days_since, notable_only=True),
        _long_term(recent_brands, history_brands, len(history)),
        _early(len(history)),
    ]
    points.extend(point for point in candidates if point)
    points = points[:MAX_POINTS]
    if len(points) < 2:
        plain = _contact(days_since, notable_only=False)
        if plain and plain not in points:
            points.append(plain)
    return points


def _early(depth: int) -> str | None:
    if 0 < depth < 3:
        return f"Ainda no começo: {depth} {_plural(depth, 'interesse registrado', 'interesses registrados')}"
    return None


def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def _focus(
    recent: Sequence[Interest], brands: Sequence[Share], categories: Sequence[Share]
) -> str | None:
    if not recent:
        return None
    n = len(recent)
    if brands and brands[0].count >= 2 and brands[0].count * 2 >= n:
        return f"Foco recente: {brands[0].name} ({brands[0].count} de {n})"
    if len(brands) >= 2:
        return f"Interesses recentes variados: {join_pt([b.name for b in brands[:3]])}"
    top = categories[0] if categories else None
    if top and top.name in (WATCH, JEWELRY) and top.count >= 2 and top.count * 2 > n:
        label = "joias" if top.name == JEWELRY else "relógios"
        return f"Foco recente em {label} ({top.count} de {n})"
    return f"Último interesse: {recent[0].label}"


def _brand_path(history: Sequence[Interest]) -> list[str]:
    path: list[str] = []
    for item in history:
        if item.brand and (not path or path[-1] != item.brand):
            path.append(item.brand)
    return path


def _upgrade(history: Sequence[Interest]) -> str | None:
    """``"Subiu de Rolex para Patek Philippe"`` when a later brand sits in a higher price tier."""
    ranked = [(brand, TIER_ORDER.get(brand_tier(brand) or "", 0)) for brand in _brand_path(history)]
    ranked = [(brand, rank) for brand, rank in ranked if rank]
    for i, (start, low) in enumerate(ranked):
        later = [(brand, rank) for brand, rank in ranked[i + 1:] if rank > low]
        if later:
            top = max(rank for _, rank in later)
            target = next(brand for brand, rank in later if rank == top)
            return f"Subiu de {start} para {target}"
    return None


def _shift(recent_brands: Sequence[Share], history_brands: Sequence[Share]) -> str | None:
    if not recent_brands or not history_brands:
        return None
    now_brand, before = recent_brands[0], history_brands[0]
    if now_brand.name != before.name and now_brand.count >= 2 and before.count > now_brand.count:
        return f"Mudou de foco: antes {before.name}, agora {now_brand.name}"
    return None


def _also_asks(history: Sequence[Interest], categories: Sequence[Share]) -> str | None:
    counted = {share.name: share.count for share in categories}
    watches, jewels = counted.get(WATCH, 0), counted.get(JEWELRY, 0)
    if watches and jewels:
        minor = JEWELRY if watches >= jewels else WATCH
        label = "joias" if minor == JEWELRY else "relógios"
        examples = [item.title for item in reversed(history) if item.category == minor][:2]
        return f"Também pergunta por {label}: {join_pt(examples)}"
    return None


def _long_term(
    recent_brands: Sequence[Share], history_brands: Sequence[Share], total: int
) -> str | None:
    if not history_brands or total <= RECENT_LIMIT:
        return None
    top = history_brands[0]
    if top.count < 2:
        return None
    if recent_brands and recent_brands[0].name == top.name:
        if top.count * 2 >= total:
            return f"Fiel a {top.name}: {top.count} de {total} no histórico"
        return None
    return f"Preferência de longo prazo: {top.name} ({top.count} de {total} no histórico)"


def _asked_again(recent: Sequence[Interest], history: Sequence[Interest]) -> str | None:
    """A recent item first asked about long before: it came back to the top of ``interests``."""
    position = {product_key(item.title): i for i, item in enumerate(history)}
    oldest_first = [position.get(product_key(item.title), -1) for item in reversed(recent)]
    window_start = len(history) - len(recent)
    for j in range(len(oldest_first) - 1, -1, -1):
        pos = oldest_first[j]
        if pos < 0:
            continue
        earlier = oldest_first[:j]
        if pos < window_start or any(p > pos for p in earlier):
            return f"Voltou a perguntar por {recent[len(recent) - 1 - j].title}"
    return None


def _contact(days: int | None, *, notable_only: bool) -> str | None:
    if days is None:
        return None if notable_only else "Sem data de último contato registrada"
    when = "hoje" if days == 0 else "ontem" if days == 1 else f"há {days} dias"
    if days < QUIET_DAYS:
        return f"Em conversa: último contato {when}"
    if days >= INACTIVE_DAYS:
        return f"Sem contato há {days} dias: bom momento para retomar"
    return None if notable_only else f"Último contato {when}"


def category_label(category: str) -> str:
    """``watch`` → ``relógio`` (as tables show it)."""
    return CATEGORY_LABELS.get(category, category)


# --- Recording ---------------------------------------------------------------------


def parse_batch(text: str) -> list[str]:
    """The products a salesperson typed, one per comma or line.

    Example: ``parse_batch("Submariner, Daytona\\nDatejust") == ["Submariner", "Daytona", "Datejust"]``
    """
    return split_raw(text)


def record_interest(
    repository: CustomerRepository,
    allowed: Collection[str],
    store: str,
    phone: str,
    products: Sequence[str] | str,
    at: datetime,
    name: str | None = None,
) -> Customer:
    """Record an in-store interest through the recording rule (SPEC §3).

    Args:
        repository: where customers live.
        allowed: the stores the user may see; a store outside them is refused.
        store: the customer's store.
        phone: the customer's phone, any format (a new phone creates the customer).
        products: the products, in order, or the text typed (split on commas and lines).
        at: the time of the event.
        name: the customer's name, when the salesperson fills it in.

    Returns:
        The customer as saved.

    Raises:
        AccessDenied: ``store`` is not one of ``allowed``.
        InvalidBatch: no product after cleaning.
        InvalidPhone: the phone cannot be read.
        StoreError: the write failed (nothing was saved).
    """
    require_stores([store], allowed)
    batch = parse_batch(products) if isinstance(products, str) else [p for p in products if p]
    if not split_raw(list(batch)):
        raise InvalidBatch("Informe pelo menos um produto.")
    return repository.record(store, phone, batch, at, name=name)


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
    one = build(pd.DataFrame([{
        "id": customer.id, "store": customer.store, "phone": customer.phone, "name": customer.name,
        "interests": list(customer.interests), "interests_all": list(customer.interests_all),
        "created_at": iso(customer.created_at), "last_interaction": iso(customer.last_interaction),
        "opt_out": customer.opt_out,
    }]), catalog)
    old = data.customers
    keep = (old["id"] != customer.id).to_numpy()
    kept_ids = np.flatnonzero(keep)
    row = one.customers
    twins = [p for i in np.flatnonzero(~keep) for p in old.at[i, "problems"] if p in (DUPLICATE, NINTH_DIGIT)]
    if twins:
        row = row.copy()
        row.at[0, "problems"] = [*row.at[0, "problems"], *dict.fromkeys(twins)]
    customers = pd.concat([old.iloc[kept_ids], row], ignore_index=True)
    renumber = np.full(len(old), -1, dtype=np.int64)
    renumber[kept_ids] = np.arange(len(kept_ids))
    last = len(kept_ids)

    def long(items: pd.DataFrame, added: pd.DataFrame) -> pd.DataFrame:
        kept = items[keep[items["cid"].to_numpy()]]
        keys = pd.api.types.union_categoricals(
            [pd.Categorical(kept["key"]), pd.Categorical(added["key"])], ignore_order=True)
        return pd.DataFrame({
            "cid": np.concatenate([renumber[kept["cid"].to_numpy()], np.full(len(added), last)]),
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
