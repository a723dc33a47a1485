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

from services.catalog import DEMO_CATALOG
from services.interests import iso, product_key, record_batch
from services.store.sqlite import SqliteStore

T = TypeVar("T")
HORIZON_DAYS = 365
HOT_DAYS = 60
NO_INTEREST_SHARE = 0.11
OPT_OUT_SHARE = 0.03
BOOKING_SHARE = 0.15


@dataclass(frozen=True)
class DemoStore:
    """A store of the demo, with the area code of its customers' phones."""

    name: str
    city: str
    area_code: str
    share: float
    # Shares of customers whose last message is within 14 days, 14–60 days, older.
    recency: tuple[float, float, float]


STORES: tuple[DemoStore, ...] = (
    DemoStore("Vitrine Jardins", "São Paulo", "11", 0.45, (0.50, 0.25, 0.25)),
    DemoStore("Vitrine Leblon", "Rio de Janeiro", "21", 0.35, (0.42, 0.26, 0.32)),
    DemoStore("Vitrine Savassi", "Belo Horizonte", "31", 0.20, (0.32, 0.28, 0.40)),
)

# --- Product pools (titles of DEMO_CATALOG with relative weights) ----------------

ROLEX_SPORT = {
    "Submariner": 5, "GMT-Master II": 4, "Daytona": 4, "Explorer": 2, "Sea-Dweller": 1.5,
    "Yacht-Master 40": 1.5, "Datejust": 1.5, "Black Bay 58": 0.7, "Pelagos": 0.5,
}
ROLEX_CLASSIC = {
    "Datejust": 5, "Day-Date 40": 3, "Oyster Perpetual 41": 3, "Daytona": 2, "Submariner": 2,
    "GMT-Master II": 1,
}
PATEK = {
    "Aquanaut": 4, "Calatrava": 3, "Grand Complications": 1.5,
    "Twenty-4": 1.5, "Golden Ellipse": 1,
}
HAUTE = {
    "Royal Oak Offshore": 3, "Code 11.59": 1.5, "Overseas": 2.5, "Patrimony": 1.5,
    "Aquanaut": 2, "Calatrava": 1,
}
CARTIER_CROSS = {
    "Santos de Cartier": 4, "Cartier Love": 4, "Juste un Clou": 3, "Tank Must": 2, "Ballon Bleu": 2,
    "Panthère de Cartier": 1,
}
GIFT = {
    "Anel Diamante": 5, "Colar de Pérolas": 3, "Brinco de Esmeralda": 3, "Aliança Ouro 18k": 3,
    "Pulseira Riviera": 2, "Pingente Coração": 4, "Return to Tiffany": 3, "Tiffany T": 2,
    "Trinity": 2, "B.zero1": 1.5,
}
JEWELRY = {
    "Cartier Love": 5, "Juste un Clou": 4, "Panthère de Cartier": 2, "Trinity": 2, "Serpenti": 4,
    "B.zero1": 3, "Tiffany T": 3, "HardWear": 2.5, "Vintage Alhambra": 4, "Frivole": 2,
    "Anel Diamante": 1.5, "Pulseira Riviera": 1, "Return to Tiffany": 1,
}
CARTIER_WATCHES = {"Santos de Cartier": 4, "Tank Must": 4, "Ballon Bleu": 3, "Octo Finissimo": 1}
ENTRY = {
    "Speedmaster Moonwatch": 5, "Seamaster Diver 300M": 4, "Aqua Terra": 2, "Constellation": 1,
    "Carrera": 4, "Monaco": 2.5, "Aquaracer": 3, "Black Bay 58": 3, "Pelagos": 1.5,
    "HydroConquest": 2,
}
LUXURY_WATCH = {
    "Submariner": 4, "Datejust": 3, "GMT-Master II": 2, "Explorer": 2, "Portugieser": 3,
    "Big Pilot": 2, "Navitimer": 3, "Chronomat": 1.5, "Superocean": 1, "Santos de Cartier": 1.5,
    "Octo Finissimo": 1,
}
ANY = {title: 1.0 for title, _brand, _category, _price in DEMO_CATALOG}
for _title in ("Nautilus 5711", "Royal Oak"):
    ANY[_title] = 0.02
# Recently hot (a waiting list opened): almost never asked about before, then in the last
# conversation of many customers within HOT_DAYS, so their share of `interests` beats their
# share of `interests_all` by the SPEC's 1.5 (the most any product can reach is about 1.6).
HOT = {"Nautilus 5711": 3, "Royal Oak": 2}


@dataclass(frozen=True)
class Persona:
    """A kind of customer: how many conversations, which pools in journey order, the cross-sell."""

    name: str
    weight: float
    events: tuple[int, int]
    phases: tuple[Mapping[str, float], ...]
    cross_sell: Mapping[str, float] | None = None
    cross_share: float = 0.0
    hot_share: float = 0.0
    max_batch: int = 3


PERSONAS: tuple[Persona, ...] = (
    Persona("rolex_sport", 0.22, (2, 6), (ROLEX_SPORT,), CARTIER_CROSS, 0.40, 0.40),
    Persona("patek_climber", 0.09, (3, 7), (ROLEX_CLASSIC, PATEK, PATEK), HAUTE, 0.25, 0.50),
    Persona("haute_collector", 0.05, (2, 7), (HAUTE, PATEK), CARTIER_CROSS, 0.20, 0.50),
    Persona("gift_buyer", 0.15, (1, 3), (GIFT,), None, 0.0, 0.0),
    Persona("jewelry_lover", 0.17, (2, 7), (JEWELRY,), CARTIER_WATCHES, 0.20, 0.10),
    Persona("upgrader", 0.15, (2, 6), (ENTRY, LUXURY_WATCH), CARTIER_CROSS, 0.10, 0.25),
    Persona("browser", 0.07, (2, 8), (ANY,), None, 0.0, 0.25),
    Persona("one_off", 0.10, (1, 1), (ANY,), None, 0.0, 0.0, max_batch=2),
)

# --- Messy records (SPEC §9): kind → share of records --------------------------------

BLANK_NAME = "blank_name"
ODD_PHONE = "odd_phone"
BAD_PHONE = "bad_phone"
NINTH_DIGIT = "ninth_digit_duplicate"
DUPLICATE = "exact_duplicate"
LONG_TEXT = "long_text"
LEGACY = "legacy"
OVER_FIVE = "over_five"
REPEATED = "repeated_items"
BAD_DATE = "bad_date"
MESSY_SHARES: dict[str, float] = {
    BLANK_NAME: 0.012, ODD_PHONE: 0.012, BAD_PHONE: 0.004, NINTH_DIGIT: 0.005, DUPLICATE: 0.004,
    LONG_TEXT: 0.015, LEGACY: 0.010, OVER_FIVE: 0.004, REPEATED: 0.006, BAD_DATE: 0.004,
}
UNREADABLE_PHONES = ("n/d", "123", "0000", "sem telefone")
BAD_DATES = (("created_at", "31/02/2025"), ("last_interaction", "ontem"), ("created_at", "2025-13-45"))


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


class _Generator:
    def __init__(self, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)
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
            record.recent, record.history = record_batch(record.recent, record.history, batch)
            # Batch titles are distinct catalog titles: fewer new items means one came back.
            record.rementioned |= len(record.history) - known < len(batch)
        record.created, record.last = times[0], times[-1]

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
    then a few percent of records are made messy the way real bases are.

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
    # One transaction swaps the whole content, so a reader never sees a half-built demo.
    store.replace_mirror(
        [r.raw for r in records],
        stores=[(demo_store.name, None) for demo_store in STORES],
        products=[
            (product_key(title), title, brand or None, category, price)
            for title, brand, category, price in DEMO_CATALOG
        ],
        meta={"source": "demo", "demo_seed": str(seed), "demo_now": iso(gen.now)},
    )
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
    )


def ensure_demo(path: str | Path, now: datetime, customers: int = 6000, seed: int = 7) -> SqliteStore:
    """The SQLite store at ``path``, filled with the demo on first run only.

    A file that already holds customers, or that mirrors an Airtable base, is left as it is.
    """
    store = SqliteStore(path)
    if store.is_empty() and store.get_meta("source") in (None, "demo"):
        generate(store, customers, seed, now=now)
    return store
