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

from services import list_columns, selection
from services.frame import CustomerData
from services.interests import product_key
from services.links import ProductLinks
from services.messages import AVAILABLE, BRANDS, LAUNCH, REMEMBER, Templates, render_rows
from services.selection import E164_PATTERN, EXCLUSION_REASONS
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

# ``EXCLUSION_REASONS`` (services.selection): the order is the order of precedence, a customer
# is counted once, under the first. ``duplicate_phone`` comes last: of the records of one store
# that share a WhatsApp number (the same phone key) and pass every other rule, only the best
# stays on the list.
EXCLUSION_LABELS: Mapping[str, str] = {
    "opted_out": "pediram para não receber mensagens",
    "invalid_phone": "sem telefone válido",
    "recently_active": "em conversa (dentro da janela de silêncio)",
    "duplicate_phone": "mesmo WhatsApp de outro cliente da lista",
}
TIER_LABELS: Mapping[str, str] = {PRIMARY: "principal", SECONDARY: "secundário"}

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
    """A built campaign list: who is on it at once, the rows when they are read.

    Attributes:
        excluded: customers left out, by reason (``EXCLUSION_REASONS``, all present).
        counts: rows per tier (``primary``, ``secondary``).
        segment: the segment the list was built from.
        rows: one row per customer, columns ``COLUMNS``, indexed by the customer's
            record id (index name ``id``; exports never write it). Rendered on first use:
            the counts and a preview (``head``) never render the whole list.
        left_out: the customers left out, one row each: ``LEFT_OUT_COLUMNS`` (``reason`` one
            of ``EXCLUSION_REASONS``; ``phone`` as the record holds it), by reason in that
            order, then the most recent interaction first.
    """

    excluded: dict[str, int]
    counts: dict[str, int]
    segment: Segment = field(default_factory=Segment)
    # ``_render(places)``: the rows at these list places (None: every row), in that order.
    _render: Callable[[np.ndarray | None], pd.DataFrame] | None = field(default=None, repr=False,
                                                                        compare=False)
    # Built on first use: only the download of the people left out reads it.
    _left_out: Callable[[], pd.DataFrame] | None = field(default=None, repr=False, compare=False)
    _cache: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of_rows(cls, rows: pd.DataFrame, segment: Segment,
                excluded: dict[str, int] | None = None) -> CampaignList:
        """A list whose rows are already rendered (``rows``: ``COLUMNS``, indexed by id)."""
        tiers = rows["tier"].astype(str)
        counts = {PRIMARY: int((tiers == PRIMARY).sum()), SECONDARY: int((tiers == SECONDARY).sum())}
        made = cls(excluded=dict(excluded or dict.fromkeys(EXCLUSION_REASONS, 0)), counts=counts,
                   segment=segment)
        made._cache["rows"] = rows
        return made

    @property
    def total(self) -> int:
        """Number of rows."""
        return self.counts[PRIMARY] + self.counts[SECONDARY]

    @property
    def rows(self) -> pd.DataFrame:
        """Every row of the list (rendered once, then kept)."""
        if "rows" not in self._cache:
            self._cache["rows"] = (self._render(None) if self._render is not None
                                   else pd.DataFrame(columns=list(COLUMNS)))
        return self._cache["rows"]

    def head(self, limit: int) -> pd.DataFrame:
        """The first ``limit`` rows, rendered alone when the whole list is not (a preview).

        The first secondary row is rendered with them (the page's example of that tier)."""
        if "rows" in self._cache or self._render is None:
            return self.rows.head(limit)
        shown = min(limit, self.total)
        if self._cache.get("head") is None or len(self._cache["head"]) < shown:
            places = np.arange(shown)
            if self.counts[SECONDARY] and self.counts[PRIMARY] >= shown:
                places = np.append(places, self.counts[PRIMARY])
            rendered = self._render(places)
            self._cache["head"], self._cache["secondary"] = rendered.iloc[:shown], rendered.iloc[shown:]
        return self._cache["head"].head(limit)

    def first_of(self, tier: str) -> pd.Series | None:
        """The first row of ``tier`` (primary rows come first), or None when the tier is empty."""
        if not self.counts[tier]:
            return None
        place = 0 if tier == PRIMARY else self.counts[PRIMARY]
        shown = self._cache.get("rows", self._cache.get("head"))
        if shown is None and self._render is None:
            shown = self.rows
        if shown is not None and place < len(shown):
            return shown.iloc[place]
        if tier == SECONDARY and len(self._cache.get("secondary", ())):
            return self._cache["secondary"].iloc[0]
        return self._render(np.array([place])).iloc[0]

    def keeping(self, keep: np.ndarray) -> CampaignList:
        """The list with only the rows where ``keep`` is True (same order, counts recomputed)."""
        return CampaignList.of_rows(self.rows[keep], self.segment, self.excluded)

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

    Who is on the list and in which order is decided at once (``selection.select``);
    the rows (names, matches, messages) are rendered when read, so the counts and a
    preview of a list of 250,000 customers do not render 250,000 messages.

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
    now_ns = _utc(now).value
    chosen = selection.select(data, segment, now_ns)
    primary, secondary = chosen.counts

    def render(places: np.ndarray | None) -> pd.DataFrame:
        return _render(data, chosen, places, now, templates, links)

    def left_out() -> pd.DataFrame:
        col = selection.columns(data)
        return _left_out(data, chosen.why, chosen.primary, col.known, col.last_ns, now)

    return CampaignList(excluded=chosen.excluded, counts={PRIMARY: primary, SECONDARY: secondary},
                        segment=segment, _render=render, _left_out=left_out)


def _render(data: CustomerData, chosen: selection.Selection, places: np.ndarray | None,
            now: datetime, templates: Templates, links: ProductLinks | None) -> pd.DataFrame:
    """The rows at list ``places`` of ``chosen`` (None: all; ``CampaignList.rows``)."""
    customers = data.customers
    col = selection.columns(data)
    rows_of = chosen.chosen if places is None else chosen.chosen[places]
    is_primary = chosen.is_primary if places is None else chosen.is_primary[places]
    m = len(rows_of)
    products = list_columns.products(data)
    titles = strings(products["title"])
    brand_names = strings(products["brand"])
    if chosen.hit is not None and m:
        # The matching items of these customers, in display order (``list_columns.display_order``).
        _, d_pid, d_recent = list_columns.display_order(data)
        items, row = selection.customer_items(data, rows_of)
        pid = d_pid[items]
        hit = np.append(chosen.hit, False)[pid]
        if chosen.recent_only:
            hit &= d_recent[items]
        matched, top = list_columns.matched_rows(row[hit], pid[hit], m, titles)
    else:
        matched, top = strings([""] * m), np.full(m, -1, dtype=np.int64)
    every_brands, every_top_brands = list_columns.brands(data)
    brands, top_brands = every_brands.take(pa.array(rows_of)), every_top_brands.take(pa.array(rows_of))

    known = col.known[rows_of]
    last_ns = col.last_ns[rows_of]
    age_ns = np.where(known, _utc(now).value - last_ns, 0)
    days = pd.array(np.maximum(age_ns, 0) // _DAY_NS, dtype="Int64")
    days[~known] = pd.NA
    names = strings(customers["name"].iloc[rows_of])
    stores = strings(customers["store"].iloc[rows_of])
    product = take(titles, top)
    values = {"product": product, "brand": take(brand_names, top), "brands": top_brands, "store": stores}
    if links is not None:
        values["link"] = _links(links, product, top, products.index, is_primary)
    message = render_rows(templates, is_primary, names, values)

    rows = pd.DataFrame(
        {
            "tier": as_column(pc.if_else(pa.array(is_primary, type=pa.bool_()), large(PRIMARY),
                                         large(SECONDARY))),
            "name": as_column(names),
            "phone": customers["phone"].iloc[rows_of].reset_index(drop=True),
            "store": as_column(stores),
            "matched": as_column(matched),
            "brands": as_column(brands),
            "last_interaction": _dates(last_ns, known, now),
            "days_since": days,
            "depth": col.depth[rows_of],
            "message": as_column(message),
        },
    )
    rows.index = pd.Index(customers["id"].iloc[rows_of], name="id")
    return rows


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


def _dates(last_ns: np.ndarray, known: np.ndarray, now: datetime) -> pd.Series:
    """Calendar dates of instants, in the time zone of ``now`` (UTC when naive)."""
    stamps = pd.DatetimeIndex(np.where(known, last_ns, 0).astype("datetime64[ns]"), tz="UTC")
    zone = pd.Timestamp(now).tzinfo
    if zone is not None:
        stamps = stamps.tz_convert(zone)
    days = stamps.tz_localize(None).asi8 // _DAY_NS
    return pd.Series(pa.array(days.astype(np.int32), type=pa.date32(), mask=~known),
                     dtype=pd.ArrowDtype(pa.date32()))
