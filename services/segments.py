"""Campaign targeting: segments, tiers, presets, messages and list exports (SPEC §5)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from numbers import Integral
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from services import xlsx
from services.catalog import terms_mask
from services.frame import CustomerData
from services.interests import DEPTH_SEGMENTS, product_key

Scope = Literal["recent", "all"]
SCOPES: tuple[str, ...] = ("recent", "all")
PRIMARY = "primary"
SECONDARY = "secondary"
TIERS: tuple[str, ...] = (PRIMARY, SECONDARY)

COLUMNS: tuple[str, ...] = (
    "tier", "name", "phone", "store", "matched", "brands",
    "last_interaction", "days_since", "depth", "message",
)
PLACEHOLDERS: tuple[str, ...] = ("first_name", "name", "product", "brand", "brands", "store")

# The order is the order of precedence: a customer is counted once, under the first.
# ``duplicate_phone`` comes last: of the records of one store that share a WhatsApp number
# (the same phone key) and pass every other rule, only the best stays on the list.
EXCLUSION_REASONS: tuple[str, ...] = (
    "opted_out", "invalid_phone", "recently_active", "other_store", "duplicate_phone",
)
EXCLUSION_LABELS: Mapping[str, str] = {
    "opted_out": "pediram para não receber mensagens",
    "invalid_phone": "sem telefone válido",
    "recently_active": "em conversa (dentro da janela de silêncio)",
    "other_store": "de outra loja",
    "duplicate_phone": "mesmo WhatsApp de outro cliente da lista",
}
TIER_LABELS: Mapping[str, str] = {PRIMARY: "principal", SECONDARY: "secundário"}

E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_E164_PATTERN = r"\+[1-9]\d{7,14}"
_DAY_NS = 86_400 * 10**9
# Rows × brands cells counted at once: bounds memory with a large Products table. Small
# blocks stay in cache: at 100,000 customers 250,000 cells take 150 ms and 55 MB, 4,000,000 600 ms and 110 MB.
_BRAND_BLOCK_CELLS = 250_000


class InvalidSegment(ValueError):
    """A segment whose rules contradict each other or make no sense."""


def _whole(value: object, label: str, *, optional: bool) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise InvalidSegment(f"{label} deve ser um número inteiro de dias ou itens.")
    if int(value) < 0:
        raise InvalidSegment(f"{label} não pode ser menor que zero.")
    return int(value)


@dataclass(frozen=True)
class Segment:
    """Who a campaign is for (SPEC §5).

    Attributes:
        terms: search terms, any-of; none means everyone passing the filters.
        scope: ``"recent"`` (``interests`` only) or ``"all"`` (``interests`` then history).
        quiet_days: leave out customers whose last interaction is within this many days; 0 is off.
        inactive_days: only customers whose last interaction is at least this many days ago.
        min_depth: smallest history length kept (inclusive).
        max_depth: largest history length kept (inclusive).
        stores: the stores of the campaign; empty means every store of the data given.

    Example: ``Segment(("Submariner",), scope="all")``.
    """

    terms: tuple[str, ...] = ()
    scope: Scope = "all"
    quiet_days: int = 7
    inactive_days: int | None = None
    min_depth: int | None = None
    max_depth: int | None = None
    stores: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        terms = (self.terms,) if isinstance(self.terms, str) else tuple(self.terms or ())
        cleaned = []
        seen: set[str] = set()
        for term in terms:
            text = " ".join(str(term).split())
            key = product_key(text)
            if key and key not in seen:
                seen.add(key)
                cleaned.append(text)
        stores = (self.stores,) if isinstance(self.stores, str) else tuple(self.stores or ())
        object.__setattr__(self, "terms", tuple(cleaned))
        object.__setattr__(self, "stores", tuple(dict.fromkeys(str(s) for s in stores if s)))
        if self.scope not in SCOPES:
            raise InvalidSegment(
                f"Escopo desconhecido: {self.scope!r}. Use 'recent' (interesses recentes) "
                "ou 'all' (todo o histórico)."
            )
        object.__setattr__(self, "quiet_days", _whole(self.quiet_days, "A janela de silêncio",
                                                      optional=False))
        object.__setattr__(self, "inactive_days", _whole(self.inactive_days, "O tempo de inatividade",
                                                         optional=True))
        object.__setattr__(self, "min_depth", _whole(self.min_depth, "A profundidade mínima",
                                                     optional=True))
        object.__setattr__(self, "max_depth", _whole(self.max_depth, "A profundidade máxima",
                                                     optional=True))
        if self.min_depth is not None and self.max_depth is not None and self.min_depth > self.max_depth:
            raise InvalidSegment(
                f"A profundidade mínima ({self.min_depth}) é maior que a máxima ({self.max_depth})."
            )


@dataclass(frozen=True)
class Templates:
    """The message of each tier; ``secondary`` None means the primary one is used."""

    primary: str
    secondary: str | None = None

    def for_tier(self, tier: str) -> str:
        """The template of ``tier`` (``"primary"`` or ``"secondary"``)."""
        if tier == SECONDARY and self.secondary is not None:
            return self.secondary
        return self.primary


_AVAILABLE = "O {product} que você procurou está disponível! Quer agendar visita?"
_REMEMBER = "Lembra do {product}? Temos novidades. Ainda tem interesse?"
_BRANDS = "Vi que você se interessou por {brands}. Temos novos modelos. Quer conhecer?"
_LAUNCH = "Novos modelos {brand} chegaram. Gostaria de conhecer?"


@dataclass(frozen=True)
class Preset:
    """A ready-made campaign (SPEC §5 table): its defaults and messages.

    ``needs_terms`` says the user must type the product or brand the message names.
    """

    key: str
    label: str
    description: str
    segment: Segment
    templates: Templates
    needs_terms: bool

    def segment_for(
        self, terms: Sequence[str] = (), stores: Sequence[str] = (), **changes: object
    ) -> Segment:
        """The preset's segment with the user's terms, stores and any other changes.

        Example: ``PRESETS["estoque"].segment_for(["Submariner"])``.
        """
        return replace(self.segment, terms=tuple(terms), stores=tuple(stores), **changes)


PRESETS: dict[str, Preset] = {
    preset.key: preset
    for preset in (
        Preset(
            "novidade", "Chegou novidade",
            "Produto novo na loja: quem perguntou por ele nas conversas recentes.",
            Segment(scope="recent", quiet_days=7), Templates(_AVAILABLE), needs_terms=True,
        ),
        Preset(
            "estoque", "De volta ao estoque",
            "Produto que voltou: quem perguntou agora (principal) e quem perguntou antes (secundário).",
            Segment(scope="all", quiet_days=7), Templates(_AVAILABLE, _REMEMBER), needs_terms=True,
        ),
        Preset(
            "reengajamento", "Reengajamento",
            "Clientes sem conversa há 60 dias ou mais que já mostraram interesse sério (4+ produtos).",
            Segment(scope="all", inactive_days=60, min_depth=4), Templates(_BRANDS), needs_terms=False,
        ),
        Preset(
            "marca", "Fãs da marca",
            "Lançamento ou evento VIP de uma marca: quem já perguntou por ela e está "
            "há 60 dias ou mais sem conversa.",
            Segment(scope="all", inactive_days=60), Templates(_LAUNCH, _LAUNCH), needs_terms=True,
        ),
    )
}


def default_templates(segment: Segment) -> Templates:
    """The messages used when none are given: back in stock with terms, re-engagement without."""
    return PRESETS["estoque" if segment.terms else "reengajamento"].templates


# --- Depth segments ------------------------------------------------------------

def depth_segment(depth: np.ndarray | pd.Series | Sequence[int]) -> np.ndarray:
    """The depth segment key of each history length (``interests.DEPTH_SEGMENTS``).

    Example: ``depth_segment([0, 3, 11]).tolist() == ["early", "developing", "serious"]``.
    """
    values = np.asarray(depth, dtype=np.int64)
    keys = np.select([values <= segment.high for segment in DEPTH_SEGMENTS],
                     [segment.key for segment in DEPTH_SEGMENTS], default=DEPTH_SEGMENTS[-1].key)
    return keys.astype(object)


# --- Campaign list --------------------------------------------------------------


@dataclass(frozen=True)
class CampaignList:
    """A built campaign list.

    Attributes:
        rows: one row per customer, columns ``COLUMNS``, indexed by the customer's
            record id (index name ``id``; exports never write it).
        excluded: customers left out, by reason (``EXCLUSION_REASONS``, all present).
        counts: rows per tier (``primary``, ``secondary``).
        segment: the segment the list was built from.
    """

    rows: pd.DataFrame
    excluded: dict[str, int]
    counts: dict[str, int]
    segment: Segment = field(default_factory=Segment)

    @property
    def total(self) -> int:
        """Number of rows."""
        return len(self.rows)


def _utc(now: datetime) -> pd.Timestamp:
    stamp = pd.Timestamp(now)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _ns(series: pd.Series) -> np.ndarray:
    """Instants as int64 nanoseconds since the epoch; NaT stays NaT's integer."""
    stamps = pd.to_datetime(series, utc=True)
    return stamps.dt.as_unit("ns").array.asi8


def _text(values: object) -> pa.Array:
    """Strings as one arrow array, missing values as ``""``."""
    array = pa.array(values, from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type != pa.large_string():
        array = array.cast(pa.large_string())
    return array.fill_null("")


def _LARGE(text: str) -> pa.Scalar:  # noqa: N802 - reads as a type constructor
    return pa.scalar(text, pa.large_string())


def _text_column(values: pa.Array) -> pd.Series:
    return pd.Series(values, dtype="str")


def _item_arrays(items: pd.DataFrame, products: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``cid``, ``pos`` and the product row (-1 when unknown) of every item of a long table."""
    keys = items["key"]
    if not isinstance(keys.dtype, pd.CategoricalDtype):
        keys = keys.astype("category")
    to_product = products.index.get_indexer(keys.cat.categories)
    codes = keys.cat.codes.to_numpy()
    # Code -1 (a missing key) reads the appended -1.
    pid = np.append(to_product, -1)[codes]
    return items["cid"].to_numpy(np.int64), items["pos"].to_numpy(np.int64), pid


def _join_lists(lengths: np.ndarray, values: pa.Array, sep: str = ", ") -> pa.Array:
    """``values`` cut into consecutive runs of ``lengths`` and each run joined with ``sep``."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return pc.binary_join(pa.LargeListArray.from_arrays(pa.array(offsets), values), _LARGE(sep))


def _take(values: pa.Array, index: np.ndarray) -> pa.Array:
    """``values[index]`` with ``""`` where the index is -1."""
    return values.take(pa.array(index, mask=index < 0)).fill_null("")


def _join_pt(first: pa.Array, second: pa.Array, third: pa.Array) -> pa.Array:
    """Up to three names as a Portuguese list: "A", "A e B", "A, B e C"."""
    def present(a: pa.Array) -> pa.Array:
        return pc.if_else(pc.equal(a, ""), None, a)

    a, b, c = present(first), present(second), present(third)
    two = pc.binary_join_element_wise(a, b, _LARGE(" e "))
    three = pc.binary_join_element_wise(pc.binary_join_element_wise(a, b, _LARGE(", ")), c, _LARGE(" e "))
    return pc.coalesce(three, two, first)


def build_list(
    data: CustomerData, segment: Segment, now: datetime, templates: Templates | None = None
) -> CampaignList:
    """The campaign list of a segment at reference time ``now``.

    Customers with no ``last_interaction`` are not in a conversation we know of:
    they are never inside the quiet window, and they count as inactive.

    Records of one store that share a WhatsApp number (``phone_key``: the same
    phone, or a Brazilian mobile with and without the ninth digit) and pass every
    other rule make one row: primary over secondary, then the most recent
    interaction, then the larger depth; the others count as ``duplicate_phone``.

    Args:
        data: the customer frame, already limited to the stores the user may see.
        segment: who the campaign is for.
        now: the reference time of every rule (naive means UTC); dates are shown
            in its time zone.
        templates: messages per tier; ``default_templates(segment)`` when None.

    Returns:
        A ``CampaignList``: primary rows first, then the most recent interaction first.

    Example:
        ``build_list(data, PRESETS["estoque"].segment_for(["Submariner"]), now).counts``
        → ``{"primary": 12, "secondary": 30}``
    """
    templates = templates or default_templates(segment)
    customers = data.customers
    n = len(customers)
    now_ns = _utc(now).value
    # What does not depend on the segment is computed once per frame (every control change reuses it).
    products = data.derived("segments.items", _items_of)[0]

    # Tiers: terms are matched once per distinct product, then joined through the long tables.
    primary = np.zeros(n, dtype=bool)
    secondary = np.zeros(n, dtype=bool)
    if segment.terms:
        hit = np.append(terms_mask(list(segment.terms), products).to_numpy(bool), False)
        # Each customer's products once, in the order a list shows them (``_display_of``).
        d_cid, d_pid, d_recent = data.derived("segments.display", _display_of)
        d_hit = hit[d_pid]
        if segment.scope != "all":
            d_hit &= d_recent
        hits = np.flatnonzero(d_hit)
        hit_cid = d_cid[hits]
        primary[hit_cid[d_recent[hits]]] = True
        secondary[hit_cid] = True
        secondary &= ~primary
    else:
        primary[:] = True

    # Filters.
    last_ns = _ns(customers["last_interaction"])
    known = last_ns != np.iinfo(np.int64).min
    age_ns = np.where(known, now_ns - last_ns, 0)
    candidate = primary | secondary
    if segment.inactive_days is not None:
        candidate &= ~known | (age_ns >= segment.inactive_days * _DAY_NS)
    depth = customers["depth"].to_numpy(np.int64)
    if segment.min_depth is not None:
        candidate &= depth >= segment.min_depth
    if segment.max_depth is not None:
        candidate &= depth <= segment.max_depth

    # Always left out, each customer under the first reason that applies.
    def reason_applies(reason: str, idx: np.ndarray) -> np.ndarray:
        if reason == "opted_out":
            return customers["opt_out"].to_numpy(bool)[idx]
        if reason == "invalid_phone":
            return ~data.derived("segments.valid_phone", _valid_phones)[idx]
        if reason == "recently_active":
            if segment.quiet_days == 0:
                return np.zeros(len(idx), dtype=bool)
            # A date in the future (a skewed clock) is as recent as it gets.
            return known[idx] & (age_ns[idx] < segment.quiet_days * _DAY_NS)
        if not segment.stores:
            return np.zeros(len(idx), dtype=bool)
        return ~customers["store"].iloc[idx].isin(segment.stores).to_numpy(bool)

    left = candidate.copy()
    excluded: dict[str, int] = {}
    for reason in EXCLUSION_REASONS:
        idx = np.flatnonzero(left)
        if reason == "duplicate_phone":
            out = _duplicate_phones(data, idx, primary, known, last_ns, depth)
        else:
            out = reason_applies(reason, idx) if len(idx) else np.zeros(0, dtype=bool)
        excluded[reason] = int(out.sum())
        left[idx[out]] = False

    # Order: primary first, then the most recent interaction, then the record order.
    chosen = np.flatnonzero(left)
    recency = np.where(known[chosen], -last_ns[chosen], np.iinfo(np.int64).max)
    chosen = chosen[np.lexsort((chosen, recency, ~primary[chosen]))]
    m = len(chosen)
    row_of = np.full(n, -1, dtype=np.int64)
    row_of[chosen] = np.arange(m)
    is_primary = primary[chosen]

    titles = _text(products["title"])
    brand_names = _text(products["brand"])
    if segment.terms and m:
        listed = row_of[hit_cid] >= 0
        matched, top = _matched(hit_cid[listed], d_pid[hits[listed]], chosen, n, titles)
    else:
        matched, top = _text([""] * m), np.full(m, -1, dtype=np.int64)
    every_brands, every_top_brands = data.derived("segments.brands", _brands_of)
    brands, top_brands = every_brands.take(pa.array(chosen)), every_top_brands.take(pa.array(chosen))

    days = pd.array(np.maximum(age_ns[chosen], 0) // _DAY_NS, dtype="Int64")
    days[~known[chosen]] = pd.NA
    names = _text(customers["name"].iloc[chosen])
    stores = _text(customers["store"].iloc[chosen])
    context = _Context(names, {
        "product": _take(titles, top), "brand": _take(brand_names, top),
        "brands": top_brands, "store": stores,
    })
    message = context.render_tiers(templates, is_primary)

    rows = pd.DataFrame(
        {
            "tier": _text_column(pc.if_else(pa.array(is_primary), _LARGE(PRIMARY), _LARGE(SECONDARY))),
            "name": _text_column(names),
            "phone": customers["phone"].iloc[chosen].reset_index(drop=True),
            "store": _text_column(stores),
            "matched": _text_column(matched),
            "brands": _text_column(brands),
            "last_interaction": _dates(last_ns[chosen], known[chosen], now),
            "days_since": days,
            "depth": depth[chosen],
            "message": _text_column(message),
        },
    )
    rows.index = pd.Index(customers["id"].iloc[chosen], name="id")
    counts = {PRIMARY: int(is_primary.sum()), SECONDARY: int(m - is_primary.sum())}
    return CampaignList(rows=rows, excluded=excluded, counts=counts, segment=segment)


def _phone_numbers(data: CustomerData) -> np.ndarray:
    """One code per (store, phone key) of each customer; -1 without a phone key."""
    customers = data.customers
    stores, _ = pd.factorize(customers["store"])
    keys, uniques = pd.factorize(customers["phone_key"])
    numbers = stores.astype(np.int64) * (len(uniques) + 1) + keys
    numbers[(keys < 0) | (stores < 0)] = -1
    return numbers


def _duplicate_phones(
    data: CustomerData, idx: np.ndarray, primary: np.ndarray, known: np.ndarray,
    last_ns: np.ndarray, depth: np.ndarray,
) -> np.ndarray:
    """Which of the rows ``idx`` (positions, ascending) repeat a WhatsApp number of their store.

    Of the rows of one store that share a phone key, the one kept is primary
    over secondary, then the most recent ``last_interaction`` (unknown is the
    oldest), then the larger depth, then the first record; the others are True.
    """
    out = np.zeros(len(idx), dtype=bool)
    if len(idx) < 2:
        return out
    numbers = data.derived("segments.phone_numbers", _phone_numbers)[idx]
    at = np.flatnonzero(numbers >= 0)
    rows = idx[at]
    recency = np.where(known[rows], -last_ns[rows], np.iinfo(np.int64).max)
    # lexsort: the last key is the first compared; ``at`` keeps the record order in a tie.
    order = np.lexsort((at, -depth[rows], recency, ~primary[rows], numbers[at]))
    grouped = numbers[at][order]
    repeated = np.zeros(len(order), dtype=bool)
    repeated[1:] = grouped[1:] == grouped[:-1]
    out[at[order]] = repeated
    return out


def _items_of(data: CustomerData) -> tuple[pd.DataFrame, tuple, tuple]:
    """The products (one row per key) and the ``_item_arrays`` of both long tables."""
    products = data.products
    if not products.index.is_unique:
        products = products[~products.index.duplicated()]
    return (products, _item_arrays(data.recent_items, products),
            _item_arrays(data.history_items, products))


def _history_in_recent(data: CustomerData) -> np.ndarray:
    """Per history item: whether the same product is also in the customer's ``interests``."""
    _, (r_cid, _, r_pid), (h_cid, _, h_pid) = data.derived("segments.items", _items_of)
    width = int(max(r_pid.max(initial=0), h_pid.max(initial=0))) + 2
    return pd.Index(h_cid * width + h_pid).isin(r_cid * width + r_pid)


def _valid_phones(data: CustomerData) -> np.ndarray:
    """Whether each customer's phone is E.164 (a campaign needs one)."""
    phones = data.customers["phone"]
    return phones.str.fullmatch(_E164_PATTERN).fillna(False).to_numpy(bool)


def _brands_of(data: CustomerData) -> tuple[pa.Array, pa.Array]:
    """``_brands`` of every customer, in frame order: a row's brands depend on it alone."""
    products, recent, history = data.derived("segments.items", _items_of)
    n = len(data.customers)
    return _brands(history, recent, products["brand"], np.arange(n), n)


def _dates(last_ns: np.ndarray, known: np.ndarray, now: datetime) -> pd.Series:
    """Calendar dates of instants, in the time zone of ``now`` (UTC when naive)."""
    stamps = pd.DatetimeIndex(np.where(known, last_ns, 0).astype("datetime64[ns]"), tz="UTC")
    zone = pd.Timestamp(now).tzinfo
    if zone is not None:
        stamps = stamps.tz_convert(zone)
    days = stamps.tz_localize(None).asi8 // _DAY_NS
    return pd.Series(pa.array(days.astype(np.int32), type=pa.date32(), mask=~known),
                     dtype=pd.ArrowDtype(pa.date32()))


def _display_of(data: CustomerData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every customer's products in the order a list shows them: ``(cid, pid, from_recent)``.

    Customers in frame order; for each, the items of ``interests`` newest first (the most
    recent of all), then the other items of the history newest first. A product in both
    lists shows once, through ``interests``.
    """
    _, (r_cid, r_pos, r_pid), (h_cid, h_pos, h_pid) = data.derived("segments.items", _items_of)
    others = ~data.derived("segments.history_in_recent", _history_in_recent)
    r_cid, r_pid = _grouped(r_cid, r_pos, r_pid)
    h_cid, h_pid = _grouped(h_cid[others], h_pos[others], h_pid[others])
    n = len(data.customers)
    # Each customer's entries are contiguous and oldest first: place them newest first,
    # `interests` before the history, without sorting.
    r_count = np.bincount(r_cid, minlength=n)
    h_count = np.bincount(h_cid, minlength=n)
    total = r_count + h_count
    start = np.cumsum(total) - total
    at_r = start[r_cid] + r_count[r_cid] - 1 - (np.arange(len(r_cid)) - (np.cumsum(r_count) - r_count)[r_cid])
    at_h = (start[h_cid] + r_count[h_cid] + h_count[h_cid] - 1
            - (np.arange(len(h_cid)) - (np.cumsum(h_count) - h_count)[h_cid]))
    cid = np.empty(int(total.sum()), dtype=np.int64)
    pid = np.empty_like(cid)
    from_recent = np.zeros(len(cid), dtype=bool)
    cid[at_r], pid[at_r], from_recent[at_r] = r_cid, r_pid, True
    cid[at_h], pid[at_h] = h_cid, h_pid
    return cid, pid, from_recent


def _grouped(cid: np.ndarray, pos: np.ndarray, pid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``cid`` and ``pid`` by customer then place (the long tables come sorted: ``frame.build``)."""
    if len(cid) > 1:
        span = int(pos.max()) + 1
        key = cid * span + pos
        if not (key[1:] > key[:-1]).all():
            order = np.argsort(key, kind="stable")
            cid, pid = cid[order], pid[order]
    return cid, pid


def _matched(
    cid: np.ndarray, pid: np.ndarray, chosen: np.ndarray, n: int, titles: pa.Array
) -> tuple[pa.Array, np.ndarray]:
    """Per row of the list: the matching products, most recent first, and the product row of the first.

    ``cid``/``pid`` are the matching entries of the listed customers in ``_display_of`` order
    (grouped by customer, most recent first); ``chosen`` the customers in list order.
    """
    m = len(chosen)
    count = np.bincount(cid, minlength=n)
    by_row = count[chosen]
    row_start = np.cumsum(by_row) - by_row
    start = np.zeros(n, dtype=np.int64)
    start[chosen] = row_start
    rank = np.arange(len(cid)) - (np.cumsum(count) - count)[cid]
    pids = np.empty(len(cid), dtype=np.int64)
    pids[start[cid] + rank] = pid
    joined = _join_lists(by_row, titles.take(pa.array(pids)))
    top = np.full(m, -1, dtype=np.int64)
    has = by_row > 0
    top[has] = pids[row_start[has]]
    return joined, top


def _brands(
    history: tuple[np.ndarray, np.ndarray, np.ndarray],
    recent: tuple[np.ndarray, np.ndarray, np.ndarray],
    product_brands: pd.Series,
    row_of: np.ndarray,
    m: int,
) -> tuple[pa.Array, pa.Array]:
    """Per row: every brand of the history, most frequent first, ties by the most
    recent item; and the first three as a Portuguese list ("A, B e C")."""
    codes, names = pd.factorize(product_brands)
    codes = np.append(codes, -1)
    h_cid, h_pos, h_pid = history
    h_rows, h_brand = row_of[h_cid], codes[h_pid]
    keep = np.flatnonzero((h_rows >= 0) & (h_brand >= 0))
    h_rows, h_brand, h_pos = h_rows[keep], h_brand[keep], h_pos[keep]
    r_cid, r_pos, r_pid = recent
    r_rows, r_brand = row_of[r_cid], codes[r_pid]
    keep = np.flatnonzero((r_rows >= 0) & (r_brand >= 0))
    r_rows, r_brand, r_pos = r_rows[keep], r_brand[keep], r_pos[keep]
    if m == 0 or len(h_rows) == 0:
        empty = _text([""] * m)
        return empty, empty

    # Only the brands these rows hold, densely: a (rows × brands) table, in blocks
    # of rows so a base with a large Products table stays within memory.
    present = np.flatnonzero(np.bincount(h_brand, minlength=len(names)))
    dense = np.full(len(names), -1, dtype=np.int64)
    dense[present] = np.arange(len(present))
    h_brand, r_brand = dense[h_brand], dense[r_brand]
    width = len(present)
    depth_cap = int(h_pos.max()) + 2
    recent_cap = int(r_pos.max()) + 2 if len(r_pos) else 1

    block = max(1, _BRAND_BLOCK_CELLS // width)
    ordered_brands, lengths = [], []
    for lo in range(0, m, block):
        hi = min(m, lo + block)
        size = hi - lo
        whole = (lo, hi) == (0, m)
        h_sel = slice(None) if whole else (h_rows >= lo) & (h_rows < hi)
        r_sel = slice(None) if whole else (r_rows >= lo) & (r_rows < hi)
        h_cell = (h_rows[h_sel] - lo) * width + h_brand[h_sel]
        r_cell = (r_rows[r_sel] - lo) * width + r_brand[r_sel]
        last_history = np.full(size * width, -1, dtype=np.int64)
        np.maximum.at(last_history, h_cell, h_pos[h_sel])
        last_recent = np.full(size * width, -1, dtype=np.int64)
        np.maximum.at(last_recent, r_cell, r_pos[r_sel])
        # Most frequent; then an item in `interests` beats one that is not, and the
        # later place wins in either list. A brand the row lacks ranks 0.
        rank = np.bincount(h_cell, minlength=size * width) * recent_cap
        rank += last_recent + 1
        rank *= depth_cap
        rank += last_history + 1
        rank = rank.reshape(size, width)
        # Ranks of held brands are distinct (each item has its own place), so any sort will do.
        order = np.argsort(-rank, axis=1)
        held = np.count_nonzero(rank, axis=1)
        ordered_brands.append(order[np.arange(width)[None, :] < held[:, None]])
        lengths.append(held)
    brand_rows = np.concatenate(ordered_brands)
    held = np.concatenate(lengths)
    labels = _text(pd.Series(np.asarray(names, dtype=object)[present], dtype=object))
    joined = _join_lists(held, labels.take(pa.array(brand_rows)))

    starts = np.cumsum(held) - held
    firsts = []
    for k in range(3):
        index = np.where(held > k, starts + k, -1)
        safe = np.where(index >= 0, index, 0)
        pick = np.where(index >= 0, brand_rows[safe] if len(brand_rows) else 0, -1)
        firsts.append(_take(labels, pick))
    return joined, _join_pt(*firsts)


# --- Names ---------------------------------------------------------------------

_PARTICLES = ("da", "das", "de", "do", "dos", "e", "di", "del", "della", "van", "von", "du")
# RE2 syntax (arrow): \p{L} is any letter, in any script.
_FIRST_NAME = (
    r"^[^\p{L}]*(?:(?i:sr|sra|srta|dr|dra|dona|prof|profa)\.?\s+)?"
    r"(?P<first>\p{L}[\p{L}\p{M}'’-]*)"
)


def _first_names(names: pa.Array) -> pa.Array:
    """The first name of each full name, title-cased; ``""`` when there is none."""
    found = pc.struct_field(pc.extract_regex(names, _FIRST_NAME), [0])
    return pc.utf8_title(found).fill_null("")


def _display_names(names: pa.Array) -> pa.Array:
    """Full names title-cased, with Portuguese particles (da, dos…) in lower case."""
    text = pc.utf8_title(names)
    for particle in _PARTICLES:
        text = pc.replace_substring_regex(text, rf"(\s){particle.title()}(\s)", rf"\1{particle}\2")
    return text


def first_name(name: str | None) -> str:
    """The first name of a full name, capitalised for a greeting.

    Honorifics (Sr., Dra.) are skipped; a name with no letters gives ``""``.

    Example: ``first_name("maria DA silva") == "Maria"``.
    """
    return _first_names(_text([" ".join((name or "").split())]))[0].as_py()


def display_name(name: str | None) -> str:
    """A full name capitalised the Portuguese way: particles (da, de, dos…) in lower case.

    Every word is capitalised, so "McKenzie" reads "Mckenzie": names are typed
    in any case by customers, and most need it.

    Example: ``display_name("maria DA silva") == "Maria da Silva"``.
    """
    return _display_names(_text([" ".join((name or "").split())]))[0].as_py()


# --- Messages --------------------------------------------------------------------

# Any text in braces is a placeholder: a known one is filled, any other is left out.
_FIELD = re.compile(r"\{\s*([^{}\n]*?)\s*\}")
_PRIVATE = re.compile("[\ue000-\ue003]")
_HOLE = "\ue002"
_CAP = "\ue003"
_SLOT = re.compile("\ue000(\\d+)\ue001")
# Words that cannot stand without the value after them: dropped with a missing value.
_DANGLING = (
    "a|o|as|os|à|às|ao|aos|da|do|das|dos|de|em|no|na|nos|nas|num|numa|por|pelo|pela|pelos|"
    "pelas|para|pra|com|e|ou|seu|sua|seus|suas|um|uma|meu|minha"
)
# ...except where what follows still makes a phrase: "o que", "o da Rolex", "do que".
_ARTICLES = frozenset({"a", "o", "as", "os"})
_CONTRACTIONS = frozenset({"ao", "aos", "à", "às", "da", "do", "das", "dos", "no", "na", "nos", "nas",
                           "pelo", "pela", "pelos", "pelas"})
_OF = frozenset({"de", "da", "do", "das", "dos"})
_BEFORE_HOLE = re.compile(
    rf"(?i)(?<![\w\ue001])({_DANGLING})[ \t]+{_HOLE}(?=[ \t]*([^\W\d_]*))", re.MULTILINE
)


def _drop_dangling(match: re.Match[str]) -> str:
    """A preposition or article whose value is missing goes with it ("Lembra do ?")."""
    word, following = match[1].lower(), match[2].lower()
    if following == "que" and (word in _ARTICLES or word in _CONTRACTIONS):
        return match[0]
    if word in _ARTICLES and following in _OF:
        return match[0]
    return _HOLE


_PUNCT = ".,!?;:…"


def template_fields(template: str) -> list[str]:
    """The placeholders a template uses, known or not, in order.

    Example: ``template_fields("Olá {first_name}, {x}") == ["first_name", "x"]``.
    """
    return [m[1].lower() for m in _FIELD.finditer(template)]


def _tidy(text: str) -> str:
    """Remove the holes left by missing values without leaving their traces behind."""
    if _HOLE not in text:
        return text.strip()
    h = _HOLE
    rules = (
        # Empty brackets or quotes around a missing value; a list in brackets
        # that now opens with a comma.
        (rf"\(\s*{h}\s*\)|\"\s*{h}\s*\"|“\s*{h}\s*”|'\s*{h}\s*'", h),
        (rf"([(\[“\"])[ \t]*{h}[ \t]*[,;:][ \t]*", r"\1"),
        # Two missing values joined by a comma or a conjunction are one gap.
        (rf"{h}[ \t]*(?:,|;|/|&|\be\b|\bou\b)?[ \t]*{h}", h),
    )
    previous = None
    while previous != text:
        previous = text
        for pattern, replacement in rules:
            text = re.sub(pattern, replacement, text, flags=re.MULTILINE)
        text = _BEFORE_HOLE.sub(_drop_dangling, text)
    # At the start of the text, a line or a sentence: drop the punctuation that
    # followed the value and capitalise what now opens the sentence.
    text = re.sub(
        rf"(^|(?<=[.!?…])[ \t]+)(?:[ \t]*{h}[ \t]*[{_PUNCT}]*[ \t]*)+",
        lambda m: (m[1] or "") + _CAP, text, flags=re.MULTILINE,
    )
    # A comma (or ; :) whose phrase is gone: "Olá, !" → "Olá!".
    text = re.sub(rf"[ \t]*[,;:][ \t]*{h}[ \t]*(?=[{_PUNCT})]|$)", "", text, flags=re.MULTILINE)
    # Before punctuation or at the end of a line: nothing; between words: one space.
    text = re.sub(rf"[ \t]*{h}[ \t]*(?=[{_PUNCT})]|$)", "", text, flags=re.MULTILINE)
    text = re.sub(rf"(?<=\S)[ \t]*{h}[ \t]*(?=\S)", " ", text)
    text = re.sub(rf"[ \t]*{h}[ \t]*", "", text)
    text = re.sub(f"{_CAP}+([^\\W\\d_])", lambda m: m[1].upper(), text)
    text = text.replace(_CAP, "")
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(rf"[ \t]+(?=[{_PUNCT}])", "", text)
    text = re.sub(r"[ \t]+$", "", text, flags=re.MULTILINE)
    return text.strip()


@lru_cache(maxsize=4096)
def _compile(template: str, present: frozenset[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A template as literals and the fields between them, for the values ``present``.

    Missing and unknown placeholders are removed and their traces tidied here,
    once per pattern of missing values, so rendering is plain concatenation.
    Returns ``(literals, fields)`` with ``len(literals) == len(fields) + 1``.
    """
    fields: list[str] = []

    def slot(match: re.Match[str]) -> str:
        name = match[1].lower()
        if name in PLACEHOLDERS and name in present:
            fields.append(name)
            return f"\ue000{len(fields) - 1}\ue001"
        return _HOLE

    # The private-use characters that mark slots and holes cannot come from the user.
    skeleton = _tidy(_FIELD.sub(slot, _PRIVATE.sub("", template)))
    parts = _SLOT.split(skeleton)
    literals = tuple(parts[0::2])
    order = tuple(fields[int(i)] for i in parts[1::2])
    return literals, order


def _clean_value(value: object, key: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, Sequence):
        items = [" ".join(str(v).split()) for v in value if v is not None and str(v).strip()]
        if key == "brands":
            items = list(dict.fromkeys(items))[:3]
            if len(items) <= 1:
                return "".join(items)
            return ", ".join(items[:-1]) + " e " + items[-1]
        return ", ".join(items)
    return " ".join(str(value).split())


def render_message(template: str, context: Mapping[str, object]) -> str:
    """A message with its placeholders filled and the gaps of missing values tidied.

    Placeholders: ``{first_name}`` ``{name}`` ``{product}`` ``{brand}`` ``{brands}``
    ``{store}``. ``first_name`` is derived from ``name`` when not given, and both
    are capitalised (``first_name``: "maria DA silva" → "Maria"; ``name`` →
    "Maria da Silva"); ``brands`` may be a list (the first 3 show, "A, B e C").
    A missing value, or an unknown placeholder, is left out with what would
    dangle: the space, a comma before punctuation, a preposition or article
    with nothing after it ("Lembra do {product}?" → "Lembra?"); a sentence that
    now starts with a comma loses it and is capitalised. An article stays
    where it still reads ("O {product} que…" → "O que…"). The same rules give
    the messages of ``build_list``.

    Args:
        template: the message text.
        context: values by placeholder name; None or "" is missing.

    Returns:
        The message. Example:
        ``render_message("Olá {first_name}, o {product} chegou!", {"product": "X"})``
        → ``"Olá, o X chegou!"``
    """
    values = {key: _clean_value(context.get(key), key) for key in PLACEHOLDERS}
    columns = {key: _text([value]) for key, value in values.items() if key not in ("name", "first_name")}
    if values["first_name"]:
        columns["first_name"] = _first_names(_text([values["first_name"]]))
    row = _Context(_text([values["name"]]), columns)
    return row.render(template, np.zeros(1, dtype=np.int64))[0].as_py()


class _Context:
    """The placeholder values of every row, as arrow strings (``""`` when missing)."""

    def __init__(self, names: pa.Array, values: dict[str, pa.Array]) -> None:
        self._names = names
        self._values = dict(values)

    def column(self, key: str) -> pa.Array:
        if key not in self._values:
            # Names are capitalised only when a template asks for them.
            shown = _first_names if key == "first_name" else _display_names
            self._values[key] = shown(self._names)
        return self._values[key]

    def render_tiers(self, templates: Templates, is_primary: np.ndarray) -> pa.Array:
        """The message of every row, by the template of its tier."""
        if is_primary.all() or templates.secondary is None:
            return self.render(templates.primary, np.arange(len(is_primary)))
        order = np.argsort(~is_primary, kind="stable")
        k = int(is_primary.sum())
        parts = pa.concat_arrays([
            self.render(templates.primary, order[:k]),
            self.render(templates.secondary, order[k:]),
        ])
        # Lists come primary first, so the parts are usually in row order already.
        return parts if is_primary[:k].all() else parts.take(pa.array(np.argsort(order)))

    def render(self, template: str, rows: np.ndarray) -> pa.Array:
        """The messages of ``rows`` (positions), in that order."""
        if len(rows) == 0:
            return pa.array([], type=pa.large_string())
        used = [f for f in dict.fromkeys(template_fields(template)) if f in PLACEHOLDERS]
        index = pa.array(rows)
        whole = len(rows) == len(self._names) and bool((rows == np.arange(len(rows))).all())
        columns = {f: self.column(f) if whole else self.column(f).take(index) for f in used}
        pattern = np.zeros(len(rows), dtype=np.int64)
        for bit, f in enumerate(used):
            filled = pc.not_equal(columns[f], "").to_numpy(zero_copy_only=False)
            pattern |= filled.astype(np.int64) << bit
        # Rows with the same values missing share one tidied template.
        single = bool((pattern == pattern[0]).all())
        order = np.arange(len(pattern)) if single else np.argsort(pattern, kind="stable")
        codes, starts = np.unique(pattern[order], return_index=True)
        ends = np.r_[starts[1:], len(order)]
        parts = []
        for code, start, end in zip(codes, starts, ends, strict=True):
            present = frozenset(f for bit, f in enumerate(used) if code >> bit & 1)
            literals, fields = _compile(template, present)
            if not fields:
                parts.append(pa.array([literals[0]] * int(end - start), type=pa.large_string()))
                continue
            take = pa.array(order[start:end])
            pieces: list[object] = [_LARGE(literals[0])]
            for name, literal in zip(fields, literals[1:], strict=True):
                pieces.extend((columns[name] if single else columns[name].take(take), _LARGE(literal)))
            parts.append(pc.binary_join_element_wise(*pieces, _LARGE("")))
        joined = pa.concat_arrays(parts)
        return joined if single else joined.take(pa.array(np.argsort(order)))


# --- Exports -----------------------------------------------------------------------

EXPORT_HEADERS: Mapping[str, str] = {
    "tier": "nivel",
    "name": "nome",
    "phone": "telefone",
    "store": "loja",
    "matched": "produtos",
    "brands": "marcas",
    "last_interaction": "ultima_interacao",
    "days_since": "dias",
    "depth": "profundidade",
    "message": "mensagem",
}
_INJECTION_RE2 = "^(?:[=+\\-@\t\r\n]|[ \u00a0]+[=+\\-@])"
_INJECTION = re.compile(_INJECTION_RE2)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _rows_of(rows: pd.DataFrame | CampaignList) -> pd.DataFrame:
    return rows.rows if isinstance(rows, CampaignList) else rows


def _as_text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), "").astype("str")


def _export_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows as text under the Portuguese headers; only rows with a valid E.164 phone."""
    phone = _as_text(rows["phone"]) if "phone" in rows else pd.Series("", index=rows.index, dtype="str")
    valid = phone.str.fullmatch(_E164_PATTERN).fillna(False).to_numpy(bool)
    kept = rows.loc[valid]
    out = {}
    for name in COLUMNS:
        values = kept[name] if name in kept else pd.Series("", index=kept.index, dtype="str")
        if name == "tier":
            values = _as_text(values)
            values = values.map(TIER_LABELS).fillna(values)
        elif name == "last_interaction":
            values = pd.to_datetime(values.astype(object), errors="coerce").dt.strftime("%d/%m/%Y")
        elif name in ("days_since", "depth"):
            values = pd.to_numeric(values, errors="coerce").round().astype("Int64")
        elif values.dtype == object:
            # Lists (from a caller that split them) read as the joined text.
            values = values.map(lambda v: ", ".join(map(str, v)) if isinstance(v, list | tuple) else v)
        out[EXPORT_HEADERS[name]] = _as_text(values)
    return pd.DataFrame(out).reset_index(drop=True)


def neutralise(cell: str) -> str:
    """A CSV cell that spreadsheets will not read as a formula (OWASP CSV injection).

    Example: ``neutralise("=HYPERLINK(1)") == "'=HYPERLINK(1)"``.
    """
    return "'" + cell if _INJECTION.match(cell) else cell


def to_csv(rows: pd.DataFrame | CampaignList) -> bytes:
    """A campaign list as CSV for messaging tools: UTF-8 with BOM, comma-separated.

    Phones are E.164 (a row without one is dropped); every other cell that
    begins with ``= + - @``, a tab, CR or LF (or spaces and one of the first
    four) is prefixed with ``'`` (OWASP CSV injection).

    Args:
        rows: ``CampaignList.rows`` (or the list itself).

    Returns:
        The file's bytes, starting ``b"\\xef\\xbb\\xbfnivel,nome,telefone,..."``.
    """
    table = _export_frame(_rows_of(rows))
    for header in table.columns:
        if header != EXPORT_HEADERS["phone"]:
            cells = _text(table[header])
            risky = pc.match_substring_regex(cells, _INJECTION_RE2)
            table[header] = _text_column(pc.if_else(risky, pc.binary_join_element_wise(
                _LARGE("'"), cells, _LARGE("")), cells))
    text = table.to_csv(index=False, lineterminator="\r\n")
    return ("\ufeff" + text).encode("utf-8")


def to_xlsx(rows: pd.DataFrame | CampaignList) -> bytes:
    """A campaign list as an Excel workbook where every cell is text.

    Every cell is written as a string with the text format ``@``: phones stay
    ``+55…`` and a name like ``=1+1`` is a string, never a formula.

    Args:
        rows: ``CampaignList.rows`` (or the list itself).

    Returns:
        The ``.xlsx`` file's bytes (one sheet, "Campanha").
    """
    table = _export_frame(_rows_of(rows))
    for header in table.columns:
        # XML cannot hold most control characters; line breaks become LF.
        table[header] = (table[header].str.replace(r"\r\n?", "\n", regex=True)
                         .str.replace(_CONTROL.pattern, "", regex=True))
    # xlsxwriter spent 3 s on a 20,000-row list (15 µs a cell); the sheet is all text, so a
    # writer that builds it a column at a time does the same in a tenth of the time.
    return xlsx.text_sheet("Campanha", table, max_width=60)


def slug(text: str) -> str:
    """ASCII, lower case, words joined by hyphens: ``slug("Fãs da marca") == "fas-da-marca"``."""
    bare = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", bare.lower()).strip("-")


def export_filename(campaign_label: str, now: datetime, ext: str, terms: Sequence[str] = ()) -> str:
    """The download name of a campaign list.

    Args:
        campaign_label: the preset's label, or any title ("De volta ao estoque Submariner").
        now: the reference time; its date (in its own time zone) ends the name.
        ext: ``"csv"`` or ``"xlsx"`` (a leading dot is fine).
        terms: appended after the label when given.

    Returns:
        e.g. ``"de-volta-ao-estoque-submariner-2026-11-24.csv"``.
    """
    name = slug(" ".join([campaign_label, *terms]))[:80].strip("-") or "campanha"
    extension = slug(ext) or "csv"
    return f"{name}-{now.date().isoformat()}.{extension}"


def segment_to_json(campaign_list: CampaignList) -> dict[str, object]:
    """The list as plain JSON data for the command line.

    Returns:
        ``{"rows": [...], "excluded": {...}}``; each row holds the ``COLUMNS``
        (``matched`` and ``brands`` as lists, ``last_interaction`` an ISO date
        or None, ``days_since`` an int or None).
    """
    out = []
    for record in campaign_list.rows.reset_index(drop=True).to_dict("records"):
        row: dict[str, object] = {}
        for name in COLUMNS:
            value = record.get(name)
            if name in ("matched", "brands"):
                value = [v for v in str(value or "").split(", ") if v]
            elif name == "last_interaction":
                value = value.isoformat() if value is not None and not pd.isna(value) else None
            elif name in ("days_since", "depth"):
                value = None if value is None or pd.isna(value) else int(value)
            elif value is None or (not isinstance(value, str) and pd.isna(value)):
                value = None
            row[name] = value
        out.append(row)
    return {"rows": out, "excluded": dict(campaign_list.excluded)}


__all__ = [
    "COLUMNS", "DEPTH_SEGMENTS", "E164", "EXCLUSION_LABELS", "EXCLUSION_REASONS", "EXPORT_HEADERS",
    "PLACEHOLDERS", "PRESETS", "PRIMARY", "SCOPES", "SECONDARY", "TIERS", "TIER_LABELS",
    "CampaignList", "InvalidSegment", "Preset",
    "Segment", "Templates", "build_list", "default_templates", "depth_segment", "display_name",
    "export_filename", "first_name", "neutralise", "render_message", "segment_to_json", "slug",
    "template_fields", "to_csv", "to_xlsx",
]
