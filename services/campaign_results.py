"""What campaigns achieved (SPEC §12): outcomes from the timeline, rates, lift and the funnel."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from services.campaigns import CONTROLE, ENVIO, GROUPS, TIERS, Campaign
from services.catalog import Resolution, resolve_products, term_mask
from services.interests import product_key
from services.segments import TIER_LABELS
from services.stats import newcombe, wilson

OUTCOMES: tuple[str, ...] = ("respondeu", "perguntou", "visitou", "comprou")
FUNNEL: tuple[str, ...] = ("respondeu", "visitou", "comprou")
OUTCOME_COLUMNS: tuple[str, ...] = (
    "campaign_id", "customer_id", "store", "tier", "group", *OUTCOMES, "revenue_brl",
)
DEFAULT_WINDOW_DAYS = 14
ASKED_KINDS: tuple[str, ...] = ("interesse", "retorno")
NO_CLEAR_DIFFERENCE = "ainda sem diferença clara"
_DAY_NS = 86_400 * 10**9


class Rate(NamedTuple):
    """A share of members with its 95% Wilson interval; ``rate`` is None for an empty group."""

    rate: float | None
    low: float
    high: float


class Lift(NamedTuple):
    """``envio`` minus ``controle``, with Newcombe's 95% interval."""

    diff: float
    low: float
    high: float


def _ns(moment: datetime | pd.Timestamp) -> int:
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    return int(stamp.as_unit("ns").value)


def _column_ns(values: pd.Series) -> np.ndarray:
    # Naive times are UTC, as everywhere in Vitrine; ``asi8`` of an aware index is UTC already.
    return pd.DatetimeIndex(values).as_unit("ns").asi8


def _empty_outcomes(members: pd.DataFrame) -> pd.DataFrame:
    frame = members.reindex(columns=list(OUTCOME_COLUMNS[:5])).reset_index(drop=True)
    frame["customer_id"] = frame["customer_id"].astype(str)
    for outcome in OUTCOMES:
        frame[outcome] = False
    frame["revenue_brl"] = 0.0
    return frame


def _in_windows(at: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Whether each time falls in the union of the windows ``(start, end]``."""
    keep = ends > starts
    order = np.argsort(starts[keep], kind="stable")
    starts, ends = starts[keep][order], ends[keep][order]
    if not len(starts):
        return np.zeros(len(at), dtype=bool)
    # Merge overlapping windows, so each time has one candidate: the last window starting before it.
    reach = np.maximum.accumulate(ends)
    fresh = np.r_[True, starts[1:] > reach[:-1]]
    merged_start = starts[fresh]
    merged_end = np.maximum.reduceat(ends, np.flatnonzero(fresh))
    slot = np.searchsorted(merged_start, at, side="left") - 1
    ok = slot >= 0
    inside = np.zeros(len(at), dtype=bool)
    inside[ok] = at[ok] <= merged_end[slot[ok]]
    return inside


def outcomes(
    campaigns: Sequence[Campaign],
    members: pd.DataFrame,
    events: pd.DataFrame,
    window_days: int = DEFAULT_WINDOW_DAYS,
    now: datetime | None = None,
    catalog: Mapping[str, Resolution] | None = None,
) -> pd.DataFrame:
    """Each member's outcomes, from the timeline, within the window after its campaign was sent.

    An event at ``at`` counts for a member of campaign C when ``sent_at < at <=
    sent_at + window`` (and ``at <= now``) and C is the customer's last touch: the
    most recent campaign, of those given, that the customer belonged to (either group)
    and that was sent before the event. Pass every saved campaign, so a newer one
    takes the events that follow it. Campaigns not sent yet have members and no outcomes.

    Args:
        campaigns: the campaigns (their ``id``, ``sent_at`` and ``terms``).
        members: their members: ``campaign_id``, ``customer_id``, ``store``, ``tier``, ``group``.
        events: the timeline: ``customer_id``, ``at`` (UTC), ``source``, ``kind``,
            ``products`` (a list of titles), ``value_brl``.
        window_days: days after ``sent_at`` that count.
        now: the reference time (naive means UTC); later events are ignored. None: no limit.
        catalog: the base's ``Products`` by key, so terms match products as in the lists.

    Returns:
        One row per member of the given campaigns, columns ``OUTCOME_COLUMNS``: the four
        outcomes as booleans (``perguntou``: an ``interesse``/``retorno`` with a product
        matching the campaign's terms, any product when it has none) and ``revenue_brl``
        (the sum of its ``compra`` values).
    """
    by_id = {c.id: c for c in campaigns}
    out = _empty_outcomes(members[members["campaign_id"].isin(list(by_id))])
    sent = [c for c in campaigns if c.sent_at is not None]
    if out.empty:
        return out
    member_ids = _arrow(out["customer_id"])
    customers = pc.unique(member_ids)
    out_code = _codes(member_ids, customers)
    # A customer counts once per campaign (the store refuses repeats; a hand-built frame may not).
    every = {cid: i for i, cid in enumerate(by_id)}
    membership = out["campaign_id"].map(every).to_numpy(np.int64) * len(customers) + out_code
    once = ~pd.Series(membership).duplicated()
    if not once.all():
        out, out_code = out[once.to_numpy()].reset_index(drop=True), out_code[once.to_numpy()]
    if not sent or events.empty:
        return out

    # Campaign positions 0..k-1 in the order given: of two sent at the same moment, the later one wins.
    position = {c.id: i for i, c in enumerate(sent)}
    starts = np.array([_ns(c.sent_at) for c in sent], dtype=np.int64)  # type: ignore[arg-type]
    ends = starts + int(window_days) * _DAY_NS
    if now is not None:
        ends = np.minimum(ends, _ns(now))

    # Only events inside some window can count; that cuts the timeline before any string is read.
    at = _column_ns(events["at"])
    rows = np.flatnonzero(_in_windows(at, starts, ends))
    code = _row_codes(events["customer_id"], rows, customers)
    rows, code = rows[code >= 0], code[code >= 0]

    # Every membership of a sent campaign is a touch; the last touch before an event takes it.
    out_pos = out["campaign_id"].map(position).fillna(-1).to_numpy(np.int64)
    touched = out_pos >= 0
    touches = pd.DataFrame({
        "sent": starts[out_pos[touched]], "code": out_code[touched], "pos": out_pos[touched],
    }).sort_values(["sent", "pos"], kind="stable")
    seen = pd.DataFrame({"at": at[rows], "code": code, "row": rows}).sort_values("at", kind="stable")
    matched = pd.merge_asof(
        seen, touches, left_on="at", right_on="sent", by="code",
        direction="backward", allow_exact_matches=False,
    ).dropna(subset=["pos"])
    pos = matched["pos"].to_numpy(np.int64)
    keep = matched["at"].to_numpy() <= ends[pos]
    pos, row = pos[keep], matched["row"].to_numpy()[keep]
    key = pos * len(customers) + matched["code"].to_numpy(np.int64)[keep]

    kind = _Labels(events["kind"], row)
    compra = kind.isin("compra")
    value = pd.to_numeric(events["value_brl"].iloc[row], errors="coerce").fillna(0.0).to_numpy(float)
    flags = pd.DataFrame({
        "respondeu": _Labels(events["source"], row).isin("whatsapp"),
        "perguntou": _asked(events["products"].iloc[row], pos, kind.isin(*ASKED_KINDS), sent, catalog),
        "visitou": kind.isin("visita"),
        "comprou": compra,
        "revenue_brl": np.where(compra, value, 0.0),
    })
    totals = flags.groupby(key).agg(
        {"respondeu": "any", "perguntou": "any", "visitou": "any", "comprou": "any", "revenue_brl": "sum"}
    )
    where = totals.index.get_indexer(np.where(touched, out_pos * len(customers) + out_code, -1))
    hit = where >= 0
    for column in (*OUTCOMES, "revenue_brl"):
        values = out[column].to_numpy().copy()
        values[hit] = totals[column].to_numpy()[where[hit]]
        out[column] = values
    return out


def _arrow(values: pd.Series) -> pa.Array:
    """A text column as one Arrow string array (zero copy when pandas already holds it in Arrow)."""
    array = pa.array(values, from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if not pa.types.is_large_string(array.type):
        array = array.cast(pa.large_string())
    return array


def _codes(values: pa.Array, universe: pa.Array) -> np.ndarray:
    """Position of each value in ``universe``; -1 when absent."""
    found = pc.index_in(values, value_set=universe).fill_null(-1)
    return found.to_numpy(zero_copy_only=False).astype(np.int64)


def _row_codes(ids: pd.Series, rows: np.ndarray, universe: pa.Array) -> np.ndarray:
    """Position in ``universe`` of the customer of each of ``rows``; -1 for other customers."""
    if isinstance(ids.dtype, pd.CategoricalDtype):
        # A categorical timeline: look its categories up once, then every row by its code.
        of_category = np.append(_codes(_arrow(pd.Series(ids.cat.categories)), universe), -1)
        return of_category[ids.cat.codes.to_numpy()[rows]]
    return _codes(_arrow(ids.iloc[rows]), universe)


class _Labels:
    """A text column at some rows, encoded once so each comparison is a lookup of small codes."""

    def __init__(self, values: pd.Series, rows: np.ndarray) -> None:
        if isinstance(values.dtype, pd.CategoricalDtype):
            self.codes = values.cat.codes.to_numpy()[rows]
            self.labels = [str(label) for label in values.cat.categories]
        else:
            encoded = pc.dictionary_encode(_arrow(values.iloc[rows]))
            self.codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
            self.labels = encoded.dictionary.to_pylist()

    def isin(self, *wanted: str) -> np.ndarray:
        """Whether each row's value is one of ``wanted``."""
        hits = [i for i, label in enumerate(self.labels) if label in wanted]
        return np.isin(self.codes, hits)


def _asked(
    products: pd.Series,
    pos: np.ndarray,
    asked: np.ndarray,
    sent: Sequence[Campaign],
    catalog: Mapping[str, Resolution] | None,
) -> np.ndarray:
    """Per attributed event: an ``interesse``/``retorno`` about a product its campaign's terms match.

    Args:
        products: each event's list of titles.
        pos: each event's campaign (a position in ``sent``).
        asked: whether each event is an ``interesse`` or a ``retorno``.
        sent: the campaigns.
        catalog: the base's ``Products`` by key.
    """
    asked = asked.copy()
    with_terms = np.array([bool(c.terms) for c in sent], dtype=bool)
    need = np.flatnonzero(asked & with_terms[pos])
    asked[need] = False
    if not len(need):
        return asked
    long = pd.DataFrame({"event": need, "title": products.iloc[need].to_numpy(dtype=object)})
    long = long.explode("title").dropna(subset=["title"])
    if long.empty:
        return asked
    # Terms are matched once per distinct title and campaign, then looked up per event.
    code, titles = pd.factorize(long["title"].astype(str))
    keys = [product_key(title) for title in titles]
    catalogue = resolve_products(list(titles), catalog)
    event_pos = pos[long["event"].to_numpy()]
    by_term: dict[str, np.ndarray] = {}
    hits = np.zeros((len(sent), len(titles)), dtype=bool)
    for p in np.unique(event_pos):
        for term in sent[p].terms:
            if term not in by_term:
                by_term[term] = term_mask(term, catalogue).reindex(keys, fill_value=False).to_numpy(bool)
            hits[p] |= by_term[term]
    asked[long["event"].to_numpy()[hits[event_pos, code]]] = True
    return asked


def _rate(count: int, members: int) -> Rate:
    low, high = wilson(count, members)
    return Rate(count / members if members else None, low, high)


def results(campaign: Campaign, outcome_frame: pd.DataFrame) -> dict[str, dict[str, object]]:
    """A campaign's results per tier and group, with rates and the lift of ``envio`` over ``controle``.

    Args:
        campaign: the campaign.
        outcome_frame: ``outcomes(...)`` (rows of other campaigns are ignored).

    Returns:
        ``{tier: {"envio": group, "controle": group, "lift": {outcome: Lift | None}}}`` for both
        tiers, where ``group`` is ``{"members", "respondeu", "perguntou", "visitou", "comprou",
        "revenue_brl", "rates": {outcome: Rate}}``; a lift is None when a group is empty.

    Example:
        ``results(c, frame)["primary"]["envio"]["rates"]["respondeu"].rate == 0.25``
    """
    return _results_of(outcome_frame[outcome_frame["campaign_id"] == campaign.id])


def period_results(
    campaigns: Iterable[Campaign], outcome_frame: pd.DataFrame
) -> dict[str, dict[str, object]]:
    """The results of several campaigns taken together ("todas no período"), shaped as ``results``.

    Each membership counts: a customer in two of the campaigns counts in each.
    """
    ids = [c.id for c in campaigns]
    return _results_of(outcome_frame[outcome_frame["campaign_id"].isin(ids)])


def _results_of(mine: pd.DataFrame) -> dict[str, dict[str, object]]:
    """``results`` of the outcome rows given (one campaign's, or a period's)."""
    cells = mine.groupby(["tier", "group"])
    sums, sizes = cells[[*OUTCOMES, "revenue_brl"]].sum(), cells.size()
    out: dict[str, dict[str, object]] = {}
    for tier in TIERS:
        by_group: dict[str, object] = {}
        for group in GROUPS:
            n = int(sizes.get((tier, group), 0))
            total = sums.loc[(tier, group)] if n else pd.Series(0, index=sums.columns)
            counts = {outcome: int(total[outcome]) for outcome in OUTCOMES}
            by_group[group] = {
                "members": n,
                **counts,
                "revenue_brl": round(float(total["revenue_brl"]), 2),
                "rates": {outcome: _rate(counts[outcome], n) for outcome in OUTCOMES},
            }
        sent, held = by_group[ENVIO], by_group[CONTROLE]
        lift: dict[str, Lift | None] = {}
        for outcome in OUTCOMES:
            if not sent["members"] or not held["members"]:  # type: ignore[index]
                lift[outcome] = None
            else:
                lift[outcome] = Lift(*newcombe(sent[outcome], sent["members"],  # type: ignore[index]
                                               held[outcome], held["members"]))  # type: ignore[index]
        by_group["lift"] = lift
        out[tier] = by_group
    return out


def campaign_results_json(
    campaign: Campaign, outcome_frame: pd.DataFrame, window_days: int = DEFAULT_WINDOW_DAYS
) -> dict[str, object]:
    """A campaign's results as plain JSON data (the command line).

    Returns:
        ``{"id", "name", "sent_at" (ISO or None), "window_days", "tiers": {"primary": {"envio":
        {"members", "respondeu", "perguntou", "visitou", "comprou", "revenue_brl"}, "controle":
        {...}}, "secondary": {...}}}``, counts as ints and revenue in R$ as a float.
    """
    full = results(campaign, outcome_frame)
    keys = ("members", *OUTCOMES, "revenue_brl")
    tiers = {
        tier: {group: {k: full[tier][group][k] for k in keys} for group in GROUPS}  # type: ignore[index]
        for tier in TIERS
    }
    sent_at = campaign.sent_at
    if sent_at is not None and sent_at.tzinfo is None:
        sent_at = sent_at.replace(tzinfo=UTC)
    return {
        "id": campaign.id,
        "name": campaign.name,
        "sent_at": sent_at.isoformat() if sent_at is not None else None,
        "window_days": int(window_days),
        "tiers": tiers,
    }


def _decimal(value: float, places: int = 1) -> str:
    return f"{value:.{places}f}".replace(".", ",")


def reading(
    label_a: str,
    rate_a: float | None,
    ci_a: tuple[float, float],
    label_b: str,
    rate_b: float | None,
    ci_b: tuple[float, float],
    verb: str,
) -> str:
    """One sentence comparing two rates, claiming a difference only when the intervals do not overlap.

    Args:
        label_a, label_b: what is compared (``"principal"``, ``"secundário"``).
        rate_a, rate_b: the rates (None: no members).
        ci_a, ci_b: their intervals ``(low, high)``.
        verb: the outcome (``"respondeu"``).

    Returns:
        e.g. ``"principal respondeu 2,1× mais que secundário"`` (the higher rate first), or
        ``"ainda sem diferença clara"``. When the ratio rounds to 1,0× the gap is given in
        percentage points; when the lower rate is zero, as the two percentages.
    """
    if rate_a is None or rate_b is None or math.isnan(rate_a) or math.isnan(rate_b):
        return NO_CLEAR_DIFFERENCE
    if ci_a[1] >= ci_b[0] and ci_b[1] >= ci_a[0]:
        return NO_CLEAR_DIFFERENCE
    (high_label, high), (low_label, low) = sorted(
        [(label_a, rate_a), (label_b, rate_b)], key=lambda pair: pair[1], reverse=True
    )
    if low <= 0:
        return f"{high_label} {verb} mais que {low_label} ({_decimal(high * 100)}% contra 0%)"
    ratio = _decimal(high / low)
    if ratio == "1,0":
        return f"{high_label} {verb} {_decimal((high - low) * 100)} p.p. mais que {low_label}"
    return f"{high_label} {verb} {ratio}× mais que {low_label}"


def funnel(campaigns: Iterable[Campaign], outcome_frame: pd.DataFrame) -> pd.DataFrame:
    """Across campaigns: respondeu → visitou → comprou of the ``envio`` group, primary against secondary.

    Args:
        campaigns: the campaigns of the period.
        outcome_frame: ``outcomes(...)``.

    Returns:
        A tidy frame, one row per tier and step: ``tier``, ``tier_label``, ``outcome``,
        ``step`` (0, 1, 2), ``members``, ``count``, ``rate`` (NaN without members),
        ``low``, ``high`` (the Wilson interval).
    """
    ids = [c.id for c in campaigns]
    sent = outcome_frame[outcome_frame["campaign_id"].isin(ids) & (outcome_frame["group"] == ENVIO)]
    rows = []
    for tier in TIERS:
        mine = sent[sent["tier"] == tier]
        n = len(mine)
        for step, outcome in enumerate(FUNNEL):
            count = int(mine[outcome].sum())
            rate = _rate(count, n)
            rows.append((tier, TIER_LABELS[tier], outcome, step, n, count,
                         math.nan if rate.rate is None else rate.rate, rate.low, rate.high))
    return pd.DataFrame(
        rows, columns=["tier", "tier_label", "outcome", "step", "members", "count", "rate", "low", "high"]
    )


__all__ = [
    "ASKED_KINDS", "DEFAULT_WINDOW_DAYS", "FUNNEL", "NO_CLEAR_DIFFERENCE", "OUTCOMES", "OUTCOME_COLUMNS",
    "Lift", "Rate", "campaign_results_json", "funnel", "outcomes", "period_results", "reading", "results",
]
