"""The demo database: three stores, customers with personas, journeys replayed through the recording rule."""

from __future__ import annotations

import bisect
import random
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from faker.providers.person.pt_BR import Provider as BrazilianNames

from services import demo_campaigns
from services.catalog import DEMO_CATALOG
from services.demo_data import (
    ANY,
    BAD_DATE,
    BAD_DATES,
    BAD_PHONE,
    BLANK_NAME,
    BOOKING_SHARE,
    DUPLICATE,
    HORIZON_DAYS,
    HOT,
    HOT_DAYS,
    LEGACY,
    LONG_TEXT,
    MESSY_SHARES,
    NINTH_DIGIT,
    NO_INTEREST_SHARE,
    ODD_PHONE,
    OPT_OUT_SHARE,
    OVER_FIVE,
    PERSONAS,
    REPEATED,
    STORES,
    UNREADABLE_PHONES,
    DemoStore,
    Persona,
)
from services.interests import iso, product_key, record_batch
from services.store.sqlite import SqliteStore
from services.timeline import COMPRA, CONVERSA, INTERESSE, LOJA, RETORNO, VISITA, WHATSAPP, Event

# Share of conversations followed by a visit to the store, of visits with a purchase, and of
# gaps between conversations with a reply that asked about nothing.
VISIT_SHARE = 0.12
PURCHASE_SHARE = 0.3
REPLY_SHARE = 0.35
PRICES = {title: price for title, _brand, _category, price in DEMO_CATALOG}

T = TypeVar("T")



@dataclass(frozen=True)
class DemoSummary:
    """What ``generate`` wrote, and which records it made messy on purpose (for tests and notes)."""

    customers: int
    stores: tuple[str, ...]
    products: int
    with_interests: int
    opted_out: int
    seed: int
    messy: Mapping[str, tuple[str, ...]] = field(repr=False)
    # Clean records whose journey mentioned a product again (so interests != interests_all[-5:]).
    rementioned: frozenset[str] = field(repr=False)
    # Past campaigns saved with the demo (``services.demo_campaigns``).
    campaigns: int = 0

    @property
    def messy_ids(self) -> frozenset[str]:
        """Every record made messy on purpose."""
        return frozenset(i for ids in self.messy.values() for i in ids)

    def line(self) -> str:
        """The one-line summary the CLI prints."""
        coverage = self.with_interests / self.customers if self.customers else 0.0
        share = f"{coverage:.1%}".replace(".", ",")
        return (
            f"Demo: {self.customers} clientes em {len(self.stores)} lojas ({', '.join(self.stores)}),"
            f" {self.products} produtos, cobertura {share},"
            f" {len(self.messy_ids)} registros problemáticos, {self.opted_out} opt-out (seed {self.seed})."
        )


class _Pool:
    """Weighted titles, sampled by bisecting the cumulative weights (fast at 100,000 customers)."""

    def __init__(self, weights: Mapping[str, float]) -> None:
        self.titles = list(weights)
        self.cumulative: list[float] = []
        total = 0.0
        for title in self.titles:
            total += weights[title]
            self.cumulative.append(total)
        self.total = total

    def draw(self, rng: random.Random) -> str:
        return self.titles[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


@dataclass
class _Record:
    id: str
    store: DemoStore
    phone: str
    name: str
    persona: Persona
    recent: list[str] = field(default_factory=list)
    history: list[str] = field(default_factory=list)
    created: datetime | None = None
    last: datetime | None = None
    opt_out: bool = False
    rementioned: bool = False
    raw: dict[str, object] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)


class _Generator:
    def __init__(self, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)
        # The timeline draws from its own generator: the same seed gives the same customers
        # as before the timeline existed.
        self.timeline_rng = random.Random(f"timeline-{seed}")
        self.now = now.astimezone(UTC).replace(microsecond=0)
        self.horizon = self.now - timedelta(days=HORIZON_DAYS)
        self.hot_since = self.now - timedelta(days=HOT_DAYS)
        self.pools: dict[int, _Pool] = {}
        self.any_pool = self.pool(ANY)
        self.hot_pool = self.pool(HOT)
        self.phones: set[str] = set()
        self.ids: set[str] = set()
        self.persona_cumulative = _cumulative([p.weight for p in PERSONAS])
        self.store_cumulative = _cumulative([s.share for s in STORES])

    def pool(self, weights: Mapping[str, float]) -> _Pool:
        key = id(weights)
        if key not in self.pools:
            self.pools[key] = _Pool(weights)
        return self.pools[key]

    # --- identities -------------------------------------------------------------

    def record_id(self) -> str:
        alphabet = string.ascii_letters + string.digits
        while True:
            candidate = "rec" + "".join(self.rng.choices(alphabet, k=14))
            if candidate not in self.ids:
                self.ids.add(candidate)
                return candidate

    def phone(self, store: DemoStore) -> str:
        # A mobile: 9, then a digit 6–9, so the number also exists without the ninth digit.
        while True:
            number = f"+55{store.area_code}9{self.rng.randint(6, 9)}{self.rng.randrange(10_000_000):07d}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def name(self) -> str:
        # Faker's pt_BR name lists, drawn with our own seeded generator (fast and reproducible).
        rng = self.rng
        firsts = BrazilianNames.first_names_female if rng.random() < 0.5 else BrazilianNames.first_names_male
        last = rng.choice(BrazilianNames.last_names)
        if rng.random() < 0.4:
            last = f"{rng.choice(BrazilianNames.last_names)} {last}"
        return f"{rng.choice(firsts)} {last}"

    def choose(self, cumulative: Sequence[float], items: Sequence[T]) -> T:
        return items[bisect.bisect_right(cumulative, self.rng.random() * cumulative[-1])]

    # --- journeys -----------------------------------------------------------------

    def customer(self) -> _Record:
        store = self.choose(self.store_cumulative, STORES)
        persona = self.choose(self.persona_cumulative, PERSONAS)
        record = _Record(self.record_id(), store, self.phone(store), self.name(), persona)
        last = self.now - timedelta(seconds=int(self.recency_days(store) * 86_400))
        if self.rng.random() < NO_INTEREST_SHARE:
            # A greeting and nothing asked: the assistant recorded no product.
            record.created = record.last = last
            return record
        self.journey(record, last)
        return record

    def recency_days(self, store: DemoStore) -> float:
        within, middle, _older = store.recency
        draw = self.rng.random()
        if draw < within:
            return self.rng.uniform(0, 14)
        if draw < within + middle:
            return self.rng.uniform(14, 60)
        return self.rng.uniform(60, HORIZON_DAYS - 1)

    def journey(self, record: _Record, last: datetime, events: int | None = None) -> None:
        persona = record.persona
        rng = self.rng
        count = events or rng.randint(*persona.events)
        pools = [persona.phases[min(i * len(persona.phases) // count, len(persona.phases) - 1)]
                 for i in range(count)]
        if persona.cross_sell is not None and count >= 2 and rng.random() < persona.cross_share:
            pools.insert(rng.randint(count // 2 + 1, count), persona.cross_sell)
        times = self.times(len(pools), last)
        for i, (at, weights) in enumerate(zip(times, pools, strict=True)):
            batch = self.batch(record, self.pool(weights), hot=i == len(times) - 1 and at >= self.hot_since)
            known = len(record.history)
            self.dated(record, batch, at)
            record.recent, record.history = record_batch(record.recent, record.history, batch)
            # Batch titles are distinct catalog titles: fewer new items means one came back.
            record.rementioned |= len(record.history) - known < len(batch)
        record.created, record.last = times[0], times[-1]
        self.replies(record, times)

    # --- the timeline (SPEC §11) ---------------------------------------------------

    def dated(self, record: _Record, batch: list[str], at: datetime) -> None:
        """The events of one conversation: new products, products asked again; now and then a
        visit to the store a few days later, and a purchase at some of those visits."""
        rng = self.timeline_rng
        known = set(record.history)
        new = tuple(title for title in batch if title not in known)
        again = tuple(title for title in batch if title in known)
        store = record.store.name
        for kind, items in ((INTERESSE, new), (RETORNO, again)):
            if items:
                record.events.append(Event(record.id, store, at, WHATSAPP, kind, items))
        if rng.random() >= VISIT_SHARE:
            return
        visit = at + timedelta(days=rng.uniform(1, 10))
        if visit >= self.now:
            return
        record.events.append(Event(record.id, store, visit, LOJA, VISITA, (batch[0],)))
        price = PRICES.get(batch[0])
        if price and rng.random() < PURCHASE_SHARE:
            bought = visit + timedelta(minutes=rng.randint(20, 90))
            record.events.append(Event(record.id, store, bought, LOJA, COMPRA, (batch[0],), float(price)))

    def replies(self, record: _Record, times: list[datetime]) -> None:
        """Replies with no product between conversations (``conversa``): never after the last one."""
        for start, end in zip(times, times[1:], strict=False):
            if end > start and self.timeline_rng.random() < REPLY_SHARE:
                moment = start + (end - start) * self.timeline_rng.uniform(0.1, 0.9)
                record.events.append(Event(record.id, record.store.name, moment, WHATSAPP, CONVERSA))

    def times(self, count: int, last: datetime) -> list[datetime]:
        if count == 1:
            return [last]
        room = (last - self.horizon).total_seconds()
        span = int(room * self.rng.uniform(0.05, 1.0))
        created = last - timedelta(seconds=span)
        middle = sorted(self.rng.randrange(span + 1) for _ in range(count - 2))
        return [created, *(created + timedelta(seconds=s) for s in middle), last]

    def batch(self, record: _Record, pool: _Pool, hot: bool) -> list[str]:
        rng = self.rng
        if record.recent and rng.random() < BOOKING_SHARE:
            # A booking: one product, usually one just talked about.
            if rng.random() < 0.6:
                return [rng.choice(record.recent)]
            return [self.draw(record, pool, set())]
        size = min(1 + sum(rng.random() < p for p in (0.8, 0.55)), record.persona.max_batch)
        chosen: list[str] = []
        taken: set[str] = set()
        while len(chosen) < size:
            title = self.draw(record, pool, taken)
            chosen.append(title)
            taken.add(title)
        if hot and rng.random() < record.persona.hot_share:
            title = self.hot_pool.draw(rng)
            if title not in taken:
                chosen[-1] = title
        return chosen

    def draw(self, record: _Record, pool: _Pool, taken: set[str]) -> str:
        # The assistant's top 3 are mostly new products; an old one comes back now and then.
        known = set(record.history)
        for attempt in range(12):
            source = pool if attempt < 8 else self.any_pool
            title = source.draw(self.rng)
            if title in taken:
                continue
            if title not in known or self.rng.random() < 0.2:
                return title
        return next(t for t in self.any_pool.titles if t not in taken)

    # --- raw rows and mess ----------------------------------------------------------

    def raw(self, record: _Record) -> dict[str, object]:
        return {
            "id": record.id,
            "store": record.store.name,
            "phone": record.phone,
            "name": record.name,
            "interests": list(record.recent) if record.history else None,
            "interests_all": list(record.history) if record.history else None,
            "created_at": iso(record.created),
            "last_interaction": iso(record.last),
            "opt_out": record.opt_out,
            "modified_at": iso(record.last),
        }

    def duplicate(self, original: _Record, kind: str) -> _Record:
        # The same person again: an older WhatsApp account without the ninth digit, or an
        # import that created the record twice; it has its own short conversation.
        phone = original.phone[:5] + original.phone[6:] if kind == NINTH_DIGIT else original.phone
        twin = _Record(self.record_id(), original.store, phone, original.name, original.persona)
        last = self.now - timedelta(seconds=int(self.recency_days(original.store) * 86_400))
        self.journey(twin, last, events=self.rng.randint(1, 2))
        twin.raw = self.raw(twin)
        return twin

    def mess(self, records: list[_Record], kind: str, count: int) -> list[str]:
        rng = self.rng
        eligible = [r for r in records if _eligible(r, kind)]
        chosen = rng.sample(eligible, min(count, len(eligible)))
        for record in chosen:
            raw = record.raw
            if kind == BLANK_NAME:
                raw["name"] = rng.choice(("", " ", None))
            elif kind == ODD_PHONE:
                raw["phone"] = _odd_format(record.phone, rng.randrange(4))
            elif kind == BAD_PHONE:
                raw["phone"] = rng.choice(UNREADABLE_PHONES)
            elif kind == LONG_TEXT:
                sep = rng.choice((", ", "\n", ",\n"))
                raw["interests"] = sep.join(record.recent)
                raw["interests_all"] = sep.join(record.history)
            elif kind == LEGACY:
                raw["interests_all"] = rng.choice(([], None))
            elif kind == OVER_FIVE:
                raw["interests"] = record.history[-rng.randint(6, min(8, len(record.history))):]
            elif kind == REPEATED:
                raw["interests"], raw["interests_all"] = _repeated(record, rng)
            elif kind == BAD_DATE:
                field_name, value = rng.choice(BAD_DATES)
                raw[field_name] = value
        return [r.id for r in chosen]


def _cumulative(weights: Sequence[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def _eligible(record: _Record, kind: str) -> bool:
    if kind in (LONG_TEXT, LEGACY, REPEATED):
        return bool(record.recent)
    if kind == OVER_FIVE:
        return len(record.history) >= 6
    return True


def _odd_format(e164: str, variant: int) -> str:
    area, number = e164[3:5], e164[5:]
    return (
        f"({area}) {number[:5]}-{number[5:]}",
        f"{area} {number[1:5]} {number[5:]}",
        f"55{area}{number}",
        f"+55 ({area}) {number[0]} {number[1:5]}-{number[5:]}",
    )[variant]


def _repeated(record: _Record, rng: random.Random) -> tuple[list[str], list[str]]:
    recent, history = list(record.recent), list(record.history)
    if rng.random() < 0.5:
        again = rng.choice(recent)
        recent.insert(rng.randrange(len(recent) + 1), again.upper() if rng.random() < 0.5 else again)
        history.append(again.lower())
    else:
        recent.insert(rng.randrange(len(recent) + 1), rng.choice(("", "  ")))
        history.insert(rng.randrange(len(history) + 1), "")
    return recent, history


def generate(store: SqliteStore, customers: int = 6000, seed: int = 7, *, now: datetime) -> DemoSummary:
    """Replace the store's content with the demo: stores, catalog, customers and their journeys.

    Every journey is a series of conversations (the assistant's top 3) and bookings (1
    product) over the 12 months before ``now``, replayed through the recording rule;
    then a few percent of records are made messy the way real bases are. A few past
    campaigns (``services.demo_campaigns``) are saved, their outcomes in the timeline;
    the campaigns of a demo rebuilt are replaced.

    Args:
        store: the SQLite store to fill (its customers, stores and products are replaced).
        customers: how many customer records to write (duplicates included).
        seed: the same seed (and ``now``) gives the same database, byte for byte in content.
        now: the reference time; every event falls in the year before it.

    Returns:
        A ``DemoSummary``. Example: ``generate(store, 300, now=now).customers == 300``
    """
    if customers < 1:
        raise ValueError("O número de clientes deve ser pelo menos 1.")
    gen = _Generator(seed, now)
    duplicates = {
        kind: max(1, round(MESSY_SHARES[kind] * customers)) if customers >= 20 else 0
        for kind in (NINTH_DIGIT, DUPLICATE)
    }
    records = [gen.customer() for _ in range(customers - sum(duplicates.values()))]
    for record in records:
        record.raw = gen.raw(record)
    messy: dict[str, list[str]] = {}
    with_history = [r for r in records if r.history]
    for kind, count in duplicates.items():
        originals = gen.rng.sample(with_history, min(count, len(with_history)))
        twins = [gen.duplicate(original, kind) for original in originals]
        records.extend(twins)
        messy[kind] = [t.id for t in twins]
    taken = {i for ids in messy.values() for i in ids}
    singles = [r for r in records if r.id not in taken]
    for kind, share in MESSY_SHARES.items():
        if kind in duplicates:
            continue
        free = [r for r in singles if r.id not in taken]
        messy[kind] = gen.mess(free, kind, max(1, round(share * customers)))
        taken.update(messy[kind])
    # Opting out is independent of the mess: any customer may have asked to stop.
    for record in gen.rng.sample(records, max(1, round(OPT_OUT_SHARE * len(records)))):
        record.raw["opt_out"] = record.opt_out = True

    records.sort(key=lambda r: (r.created or gen.now, r.id))
    journeys = sorted((event for record in records for event in record.events), key=lambda e: e.at)
    # Past campaigns, their members chosen among these customers, their outcomes drawn apart.
    campaigns, outcomes = demo_campaigns.of_demo([r.raw for r in records], journeys, gen.now, seed)
    was_demo = store.get_meta("source") in (None, "demo")
    # One transaction swaps the whole content, timeline included, so a reader never sees a
    # half-built demo.
    store.replace_mirror(
        [r.raw for r in records],
        stores=[(demo_store.name, None) for demo_store in STORES],
        products=[
            (product_key(title), title, brand or None, category, price)
            for title, brand, category, price in DEMO_CATALOG
        ],
        meta={"source": "demo", "demo_seed": str(seed), "demo_now": iso(gen.now)},
        events=sorted([*journeys, *outcomes], key=lambda e: e.at),
    )
    if was_demo:  # never another file's campaigns (generate is only ever given a demo file)
        demo_campaigns.save(store.path, campaigns)
    messy_ids = {i for ids in messy.values() for i in ids}
    return DemoSummary(
        customers=len(records),
        stores=tuple(s.name for s in STORES),
        products=len(DEMO_CATALOG),
        with_interests=sum(1 for r in records if r.history),
        opted_out=sum(1 for r in records if r.raw["opt_out"]),
        seed=seed,
        messy={kind: tuple(ids) for kind, ids in messy.items()},
        rementioned=frozenset(r.id for r in records if r.rementioned and r.id not in messy_ids),
        campaigns=len(campaigns) if was_demo else 0,
    )


def ensure_demo(path: str | Path, now: datetime, customers: int = 6000, seed: int = 7) -> SqliteStore:
    """The SQLite store at ``path``, filled with the demo on first run only.

    A file that already holds customers, or that mirrors an Airtable base, is left as it is.
    """
    store = SqliteStore(path)
    if store.is_empty() and store.get_meta("source") in (None, "demo"):
        generate(store, customers, seed, now=now)
    return store
