"""The customer card without a screen: recent focus, long-term preferences, talking points."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from services.catalog import (
    CATEGORY_LABELS,
    JEWELRY,
    TIER_ORDER,
    WATCH,
    Resolution,
    brand_tier,
    resolve_title,
)
from services.frame import DUPLICATE, NINTH_DIGIT, CustomerData
from services.interests import (
    DEPTH_LABELS,
    RECENT_LIMIT,
    Customer,
    depth_segment,
    product_key,
)
from services.search import person_rows
from services.twins import merge_customers
from services.wording import days_ago, join_pt

QUIET_DAYS = 7
INACTIVE_DAYS = 60
MAX_POINTS = 4

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
        records: the ids of the customer's records; more than one when the store holds the
            same phone twice (with and without the ninth digit): the card reads them as one.
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
    records: tuple[str, ...] = ()

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
    record, ids, problems = _record(data, int(cid))
    resolve = _resolver(data.products, catalog)
    recent = [resolve(title) for title in reversed(record.interests)]
    history = [resolve(title) for title in record.interests_all]
    last = None if record.last_interaction is None else pd.Timestamp(record.last_interaction)
    created = None if record.created_at is None else pd.Timestamp(record.created_at)
    days = None if last is None else max(0, (pd.Timestamp(now) - last).days)
    depth = len(history)
    recent_brands = _shares([i.brand for i in recent if i.brand], len(recent))
    history_brands = _shares([i.brand for i in history if i.brand], len(history))
    recent_categories = _shares([i.category for i in recent], len(recent))
    history_categories = _shares([i.category for i in history], len(history))
    points = talking_points(
        recent=recent, history=history, days_since=days, opt_out=record.opt_out,
        recent_brands=recent_brands, history_brands=history_brands,
        recent_categories=recent_categories, history_categories=history_categories,
    )
    phone = record.phone if record.phone.startswith("+") else None
    return Profile(
        id=record.id,
        store=record.store,
        name=record.name,
        phone=phone,
        phone_raw=str(data.customers.at[int(cid), "phone_raw"] or "") if len(ids) == 1 else record.phone,
        created_at=created,
        last_interaction=last,
        days_since=days,
        depth=depth,
        depth_segment=depth_segment(depth),
        opt_out=record.opt_out,
        recent=tuple(recent),
        history=tuple(history),
        recent_brands=recent_brands,
        history_brands=history_brands,
        recent_categories=recent_categories,
        history_categories=history_categories,
        talking_points=tuple(points),
        problems=problems,
        records=ids,
    )


def _row_customer(data: CustomerData, cid: int) -> Customer:
    row = data.customers.iloc[cid]

    def moment(value: object) -> pd.Timestamp | None:
        return None if pd.isna(value) else pd.Timestamp(value)

    phone = row["phone"] if isinstance(row["phone"], str) and row["phone"] else ""
    return Customer(
        id=str(row["id"]), store=str(row["store"]), phone=phone, name=str(row["name"] or ""),
        interests=list(row["recent"]), interests_all=list(row["history"]),
        created_at=moment(row["created_at"]), last_interaction=moment(row["last_interaction"]),
        opt_out=bool(row["opt_out"]),
    )


def _record(data: CustomerData, cid: int) -> tuple[Customer, tuple[str, ...], tuple[str, ...]]:
    """The customer of row ``cid`` with the other records of the same phone, read as one
    (``twins.merge_customers``: the older record's history, then the newer's); their
    ids; the data problems of them all (the duplicate itself is said on the card)."""
    rows = person_rows(data, cid)
    records = [_row_customer(data, i) for i in rows]
    problems = [p for i in rows for p in data.customers.at[i, "problems"] or ()]
    if len(records) == 1:
        return records[0], (records[0].id,), tuple(problems)
    merged = merge_customers(records)
    others = [r.id for r in records if r.id != merged.id]
    kept = tuple(p for p in dict.fromkeys(problems) if p not in (DUPLICATE, NINTH_DIGIT))
    return merged, (merged.id, *others), kept


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
        ``"Subiu de faixa de preço: de Rolex para Patek Philippe"``,
        ``"Também pergunta por joias: Anel Diamante"``.
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
    """``"Subiu de faixa de preço: de Rolex para Patek Philippe"`` when a later brand sits in a
    higher price tier."""
    ranked = [(brand, TIER_ORDER.get(brand_tier(brand) or "", 0)) for brand in _brand_path(history)]
    ranked = [(brand, rank) for brand, rank in ranked if rank]
    for i, (start, low) in enumerate(ranked):
        later = [(brand, rank) for brand, rank in ranked[i + 1:] if rank > low]
        if later:
            top = max(rank for _, rank in later)
            target = next(brand for brand, rank in later if rank == top)
            return f"Subiu de faixa de preço: de {start} para {target}"
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
    when = days_ago(days)
    if days < QUIET_DAYS:
        return f"Em conversa: último contato {when}"
    if days >= INACTIVE_DAYS:
        return f"Sem contato {days_ago(days)}: bom momento para retomar"
    return None if notable_only else f"Último contato {when}"


def category_label(category: str) -> str:
    """``watch`` → ``relógio`` (as tables show it)."""
    return CATEGORY_LABELS.get(category, category)
