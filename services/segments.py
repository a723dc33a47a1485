"""Campaign targeting: segments, presets, tiers, filters and the campaign list (SPEC §5)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from numbers import Integral
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from services import list_columns
from services.catalog import terms_mask
from services.frame import CustomerData
from services.interests import product_key
from services.links import ProductLinks
from services.messages import AVAILABLE, BRANDS, LAUNCH, REMEMBER, Templates, render_rows
from services.text_arrays import as_column, large, strings, take

Scope = Literal["recent", "all"]
SCOPES: tuple[str, ...] = ("recent", "all")
PRIMARY = "primary"
SECONDARY = "secondary"
TIERS: tuple[str, ...] = (PRIMARY, SECONDARY)

COLUMNS: tuple[str, ...] = (
    "tier", "name", "phone", "store", "matched", "brands",
    "last_interaction", "days_since", "depth", "message",
)

LEFT_OUT_COLUMNS: tuple[str, ...] = (
    "reason", "tier", "name", "phone", "store", "last_interaction", "days_since", "depth",
)

# The order is the order of precedence: a customer is counted once, under the first.
# ``duplicate_phone`` comes last: of the records of one store that share a WhatsApp number
# (the same phone key) and pass every other rule, only the best stays on the list.
EXCLUSION_REASONS: tuple[str, ...] = (
    "opted_out", "invalid_phone", "recently_active", "duplicate_phone",
)
EXCLUSION_LABELS: Mapping[str, str] = {
    "opted_out": "pediram para não receber mensagens",
    "invalid_phone": "sem telefone válido",
    "recently_active": "em conversa (dentro da janela de silêncio)",
    "duplicate_phone": "mesmo WhatsApp de outro cliente da lista",
}
TIER_LABELS: Mapping[str, str] = {PRIMARY: "principal", SECONDARY: "secundário"}

E164_PATTERN = r"\+[1-9]\d{7,14}"
E164 = re.compile(rf"^{E164_PATTERN}$")
_DAY_NS = 86_400 * 10**9


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
        stores: the stores the campaign was asked for, kept as a record (audit log, CLI);
            ``build_list`` lists the data it is given, already limited to them.

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




    @property
    def two_tiers(self) -> bool:
        """Whether its lists can have a secondary tier: terms, and the whole history in scope.

        Elsewhere every row is primary, and the words "principal"/"secundário" say nothing.
        """
        return self.scope == "all" and bool(self.terms)


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
            Segment(scope="recent", quiet_days=7), Templates(AVAILABLE), needs_terms=True,
        ),
        Preset(
            "estoque", "De volta ao estoque",
            "Produto que voltou: quem perguntou agora (principal) e quem perguntou antes (secundário).",
            Segment(scope="all", quiet_days=7), Templates(AVAILABLE, REMEMBER), needs_terms=True,
        ),
        Preset(
            "reengajamento", "Reengajamento",
            "Clientes sem conversa há 60 dias ou mais que já mostraram interesse sério (4+ produtos).",
            Segment(scope="all", inactive_days=60, min_depth=4), Templates(BRANDS), needs_terms=False,
        ),
        Preset(
            "marca", "Fãs da marca",
            "Lançamento ou evento VIP de uma marca: quem já perguntou por ela e está "
            "há 60 dias ou mais sem conversa.",
            Segment(scope="all", inactive_days=60), Templates(LAUNCH, LAUNCH), needs_terms=True,
        ),
    )
}


def default_templates(segment: Segment) -> Templates:
    """The messages used when none are given: back in stock with terms, re-engagement without."""
    return PRESETS["estoque" if segment.terms else "reengajamento"].templates


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
        left_out: the customers left out, one row each: ``LEFT_OUT_COLUMNS`` (``reason`` one
            of ``EXCLUSION_REASONS``; ``phone`` as the record holds it), by reason in that
            order, then the most recent interaction first.
    """

    rows: pd.DataFrame
    excluded: dict[str, int]
    counts: dict[str, int]
    segment: Segment = field(default_factory=Segment)
    # Built on first use: only the download of the people left out reads it, and at 100,000
    # customers it costs a third of the list.
    _left_out: Callable[[], pd.DataFrame] | None = field(default=None, repr=False, compare=False)
    _cache: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False, compare=False)

    @property
    def total(self) -> int:
        """Number of rows."""
        return len(self.rows)

    @property
    def left_out(self) -> pd.DataFrame:
        """The customers left out (see the class's attributes)."""
        if "left_out" not in self._cache:
            self._cache["left_out"] = (self._left_out() if self._left_out is not None
                                       else pd.DataFrame(columns=list(LEFT_OUT_COLUMNS)))
        return self._cache["left_out"]


def _utc(now: datetime) -> pd.Timestamp:
    stamp = pd.Timestamp(now)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _ns(series: pd.Series) -> np.ndarray:
    """Instants as int64 nanoseconds since the epoch; NaT stays NaT's integer."""
    stamps = pd.to_datetime(series, utc=True)
    return stamps.dt.as_unit("ns").array.asi8



def build_list(
    data: CustomerData, segment: Segment, now: datetime, templates: Templates | None = None,
    links: ProductLinks | None = None,
) -> CampaignList:
    """The campaign list of a segment at reference time ``now``.

    Customers with no ``last_interaction`` are not in a conversation we know of:
    they are never inside the quiet window, and they count as inactive.

    Records of one store that share a WhatsApp number (``phone_key``: the same
    phone, or a Brazilian mobile with and without the ninth digit) and pass every
    other rule make one row: primary over secondary, then the most recent
    interaction, then the larger depth; the others count as ``duplicate_phone``.

    Args:
        data: the customer frame, already limited to the stores of the campaign (and to
            those the user may see): every store in it is listed.
        segment: who the campaign is for.
        now: the reference time of every rule (naive means UTC); dates are shown
            in its time zone.
        templates: messages per tier; ``default_templates(segment)`` when None.
        links: what ``{link}`` needs (the campaign's name, product pages, base URL): the page of
            the row's most recent match, tagged per campaign and tier. None (a list not yet
            saved as a campaign): ``{link}`` is left out of every message.

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
    products = list_columns.products(data)

    # Tiers: terms are matched once per distinct product, then joined through the long tables.
    primary = np.zeros(n, dtype=bool)
    secondary = np.zeros(n, dtype=bool)
    if segment.terms:
        hit = np.append(terms_mask(list(segment.terms), products).to_numpy(bool), False)
        # Each customer's products once, in the order a list shows them (``list_columns.display_order``).
        d_cid, d_pid, d_recent = list_columns.display_order(data)
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
        if reason == "recently_active" and segment.quiet_days:
            # A date in the future (a skewed clock) is as recent as it gets.
            return known[idx] & (age_ns[idx] < segment.quiet_days * _DAY_NS)
        return np.zeros(len(idx), dtype=bool)

    left = candidate.copy()
    excluded: dict[str, int] = {}
    why = np.full(n, -1, dtype=np.int64)
    for code, reason in enumerate(EXCLUSION_REASONS):
        idx = np.flatnonzero(left)
        if reason == "duplicate_phone":
            out = _duplicate_phones(data, idx, primary, known, last_ns, depth)
        else:
            out = reason_applies(reason, idx) if len(idx) else np.zeros(0, dtype=bool)
        excluded[reason] = int(out.sum())
        left[idx[out]] = False
        why[idx[out]] = code

    # Order: primary first, then the most recent interaction, then the record order.
    chosen = np.flatnonzero(left)
    recency = np.where(known[chosen], -last_ns[chosen], np.iinfo(np.int64).max)
    chosen = chosen[np.lexsort((chosen, recency, ~primary[chosen]))]
    m = len(chosen)
    row_of = np.full(n, -1, dtype=np.int64)
    row_of[chosen] = np.arange(m)
    is_primary = primary[chosen]

    titles = strings(products["title"])
    brand_names = strings(products["brand"])
    if segment.terms and m:
        listed = row_of[hit_cid] >= 0
        matched, top = list_columns.matched(hit_cid[listed], d_pid[hits[listed]], chosen, n, titles)
    else:
        matched, top = strings([""] * m), np.full(m, -1, dtype=np.int64)
    every_brands, every_top_brands = list_columns.brands(data)
    brands, top_brands = every_brands.take(pa.array(chosen)), every_top_brands.take(pa.array(chosen))

    days = pd.array(np.maximum(age_ns[chosen], 0) // _DAY_NS, dtype="Int64")
    days[~known[chosen]] = pd.NA
    names = strings(customers["name"].iloc[chosen])
    stores = strings(customers["store"].iloc[chosen])
    product = take(titles, top)
    values = {"product": product, "brand": take(brand_names, top), "brands": top_brands, "store": stores}
    if links is not None:
        values["link"] = _links(links, product, top, products.index, is_primary)
    message = render_rows(templates, is_primary, names, values)

    rows = pd.DataFrame(
        {
            "tier": as_column(pc.if_else(pa.array(is_primary), large(PRIMARY), large(SECONDARY))),
            "name": as_column(names),
            "phone": customers["phone"].iloc[chosen].reset_index(drop=True),
            "store": as_column(stores),
            "matched": as_column(matched),
            "brands": as_column(brands),
            "last_interaction": _dates(last_ns[chosen], known[chosen], now),
            "days_since": days,
            "depth": depth[chosen],
            "message": as_column(message),
        },
    )
    rows.index = pd.Index(customers["id"].iloc[chosen], name="id")
    counts = {PRIMARY: int(is_primary.sum()), SECONDARY: int(m - is_primary.sum())}
    return CampaignList(rows=rows, excluded=excluded, counts=counts, segment=segment,
                        _left_out=lambda: _left_out(data, why, primary, known, last_ns, now))


def _left_out(data: CustomerData, why: np.ndarray, primary: np.ndarray, known: np.ndarray,
              last_ns: np.ndarray, now: datetime) -> pd.DataFrame:
    """``CampaignList.left_out``: who was left out (``why`` >= 0, a reason's place) and why."""
    out = np.flatnonzero(why >= 0)
    recency = np.where(known[out], -last_ns[out], np.iinfo(np.int64).max)
    out = out[np.lexsort((out, recency, why[out]))]
    customers = data.customers
    age = np.maximum(_utc(now).value - last_ns[out], 0) // _DAY_NS
    days = pd.array(age, dtype="Int64")
    days[~known[out]] = pd.NA
    phones = customers["phone"].iloc[out]
    frame = pd.DataFrame({
        "reason": np.asarray(EXCLUSION_REASONS, dtype=object)[why[out]],
        "tier": np.where(primary[out], PRIMARY, SECONDARY).astype(object),
        "name": customers["name"].iloc[out].to_numpy(dtype=object),
        "phone": phones.where(phones.notna(), customers["phone_raw"].iloc[out]).to_numpy(dtype=object),
        "store": customers["store"].iloc[out].to_numpy(dtype=object),
        "last_interaction": _dates(last_ns[out], known[out], now).to_numpy(dtype=object),
        "days_since": days,
        "depth": customers["depth"].to_numpy(np.int64)[out],
    })
    frame.index = pd.Index(customers["id"].iloc[out], name="id")
    return frame


def _links(links: ProductLinks, product: pa.Array, top: np.ndarray, keys: pd.Index,
           is_primary: np.ndarray) -> pa.Array:
    """The ``{link}`` of every row: its top match's page, tagged with the campaign and the row's tier."""
    key_of = np.append(np.asarray(keys, dtype=object), None)[top] if len(top) else []
    tiers = np.where(is_primary, PRIMARY, SECONDARY)
    return pa.array(links.column(product.to_pylist(), list(key_of), tiers.tolist()), type=pa.large_string())


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


def _valid_phones(data: CustomerData) -> np.ndarray:
    """Whether each customer's phone is E.164 (a campaign needs one)."""
    phones = data.customers["phone"]
    return phones.str.fullmatch(E164_PATTERN).fillna(False).to_numpy(bool)


def _dates(last_ns: np.ndarray, known: np.ndarray, now: datetime) -> pd.Series:
    """Calendar dates of instants, in the time zone of ``now`` (UTC when naive)."""
    stamps = pd.DatetimeIndex(np.where(known, last_ns, 0).astype("datetime64[ns]"), tz="UTC")
    zone = pd.Timestamp(now).tzinfo
    if zone is not None:
        stamps = stamps.tz_convert(zone)
    days = stamps.tz_localize(None).asi8 // _DAY_NS
    return pd.Series(pa.array(days.astype(np.int32), type=pa.date32(), mask=~known),
                     dtype=pd.ArrowDtype(pa.date32()))
