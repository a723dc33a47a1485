"""Interest-tracking effectiveness: coverage, recency and depth against their targets (SPEC §6)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from services.frame import CustomerData
from services.interests import DEPTH_SEGMENTS, depth_segments

COVERAGE = "coverage"
RECENCY = "recency"
DEPTH = "depth"
_DEPTH_LABELS = {segment.key: segment.label for segment in DEPTH_SEGMENTS}
# Where a value stands against its target: met, not met, or above a range (depth > 5 is not a
# failure of tracking, SPEC §6: a customer who asks about many products is good news).
MET, UNMET, ABOVE = "met", "unmet", "above"

@dataclass(frozen=True)
class Metric:
    """One effectiveness metric: what it is called, its target and when it is met.

    Attributes:
        key: the name used in code and JSON (``coverage``, ``recency``, ``depth``).
        label: the Portuguese name shown on screen.
        target: the target as people read it (``"> 80%"``).
        definition: one Portuguese sentence saying how the value is computed.
        is_met: the target as a predicate over the value.
        is_above: for a target that is a range, whether the value is above it (not a failure).
    """

    key: str
    label: str
    target: str
    definition: str
    is_met: Callable[[float], bool]
    is_above: Callable[[float], bool] | None = None

    def met(self, value: float | None) -> bool | None:
        """Whether ``value`` meets the target; None when there is no value."""
        if value is None:
            return None
        return bool(self.is_met(value))

    def standing(self, value: float | None) -> str | None:
        """``MET``, ``UNMET`` or ``ABOVE`` (above a range: shown neutral, not as an alarm); None
        without a value.

        Example: ``METRICS["depth"].standing(6.2) == "above"``.
        """
        if value is None:
            return None
        if self.is_above is not None and self.is_above(value):
            return ABOVE
        return MET if self.is_met(value) else UNMET


METRICS: Mapping[str, Metric] = {
    COVERAGE: Metric(
        COVERAGE, "Cobertura", "> 80%",
        "clientes com ao menos 1 interesse no histórico / todos os clientes",
        lambda value: value > 0.80,
    ),
    RECENCY: Metric(
        RECENCY, "Recência", "< 14 dias",
        "média de dias desde a última interação, entre os clientes com interesses",
        lambda value: value < 14,
    ),
    DEPTH: Metric(
        DEPTH, "Profundidade", "3–5 itens",
        "média de produtos no histórico de interesses, entre os clientes com interesses",
        lambda value: 3 <= value <= 5,
        lambda value: value > 5,
    ),
}


# Recency buckets over whole days since the last interaction: (label, from day, to day).
RECENCY_BUCKETS: tuple[tuple[str, int, float], ...] = (
    ("0–6 dias", 0, 6),
    ("7–13 dias", 7, 13),
    ("14–29 dias", 14, 29),
    ("30–59 dias", 30, 59),
    ("60–89 dias", 60, 89),
    ("90+ dias", 90, np.inf),
)


@dataclass(frozen=True)
class Figures:
    """The three metrics for one store or for all of them.

    Attributes:
        customers: every customer.
        covered: customers with at least one history item.
        coverage: ``covered / customers`` as a 0–1 fraction; None with no customers.
        recency_days: mean days since ``last_interaction`` over covered customers
            with a readable date; None when there are none.
        recency_median_days: the median of the same days.
        recency_excluded: covered customers left out of recency because their
            ``last_interaction`` is empty or unreadable.
        depth: mean history length over covered customers; None when there are none.
    """

    customers: int
    covered: int
    coverage: float | None
    recency_days: float | None
    recency_median_days: float | None
    recency_excluded: int
    depth: float | None

    def value(self, key: str) -> float | None:
        """The value of the metric named ``key`` (``coverage``, ``recency``, ``depth``)."""
        return {COVERAGE: self.coverage, RECENCY: self.recency_days, DEPTH: self.depth}[key]

    @property
    def met(self) -> dict[str, bool | None]:
        """Whether each metric meets its target (None: no data to tell)."""
        return {key: metric.met(self.value(key)) for key, metric in METRICS.items()}

    @property
    def standing(self) -> dict[str, str | None]:
        """Where each metric stands: ``MET``, ``UNMET``, ``ABOVE`` (None: no data)."""
        return {key: metric.standing(self.value(key)) for key, metric in METRICS.items()}


@dataclass(frozen=True)
class MetricsReport:
    """The metrics in total and per store, with tidy frames for the charts.

    Attributes:
        total: the figures over every customer given.
        stores: the figures of each store, by store name, sorted.
        depth_histogram: ``depth, customers, segment`` (covered customers).
        recency_buckets: ``bucket, from_days, to_days, customers, share, within_target``
            (covered customers with a readable ``last_interaction``).
        coverage_by_month: ``month, customers, covered, share`` by first-contact month
            (``month`` is the first day of the month, no time zone).
        depth_segments: ``segment, label, range, customers, share`` (covered customers).
        created_unknown: customers left out of ``coverage_by_month`` because their
            ``created_at`` is empty or unreadable.
    """

    total: Figures
    stores: dict[str, Figures]
    depth_histogram: pd.DataFrame
    recency_buckets: pd.DataFrame
    coverage_by_month: pd.DataFrame
    depth_segments: pd.DataFrame
    created_unknown: int = 0
    notes: list[str] = field(default_factory=list)


def days_since(moments: pd.Series, now: datetime) -> pd.Series:
    """Days (fractional) from each moment to ``now``; a moment after ``now`` counts as 0.

    Args:
        moments: aware UTC datetimes (NaT where unknown).
        now: the reference time, aware.

    Returns:
        Float days, NaN where the moment is unknown.
    """
    delta = (pd.Timestamp(now) - moments) / pd.Timedelta(days=1)
    return delta.clip(lower=0.0).astype(float)


def compute(data: CustomerData, now: datetime) -> MetricsReport:
    """Coverage, recency and depth at ``now``, in total and per store.

    Args:
        data: the customer frame, already scoped to the stores the user may see.
        now: the reference time (aware UTC).

    Returns:
        A ``MetricsReport``. Per-store distributions: call again with
        ``data.for_stores([store])``.
    """
    customers = data.customers
    depth = customers["depth"].to_numpy()
    covered = depth > 0
    days = days_since(customers["last_interaction"], now).to_numpy()
    stores = customers["store"].to_numpy()

    total = _figures(depth, covered, days)
    per_store = {}
    if len(customers):
        codes, names = pd.factorize(stores, sort=True)
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
        for i, name in enumerate(names):
            rows = order[bounds[i]:bounds[i + 1]]
            per_store[str(name)] = _figures(depth[rows], covered[rows], days[rows])

    created = customers["created_at"]
    notes = []
    if total.recency_excluded:
        notes.append(_excluded_note(total.recency_excluded))
    return MetricsReport(
        total=total,
        stores=per_store,
        depth_histogram=_depth_histogram(depth[covered]),
        recency_buckets=_recency_buckets(days[covered]),
        coverage_by_month=_coverage_by_month(created, covered),
        depth_segments=_depth_segments(depth[covered]),
        created_unknown=int(created.isna().sum()),
        notes=notes,
    )


def _excluded_note(count: int) -> str:
    noun = "cliente" if count == 1 else "clientes"
    verb = "ficou" if count == 1 else "ficaram"
    return (
        f"{count} {noun} com interesses e sem data de última interação legível "
        f"{verb} fora da recência."
    )


def _figures(depth: np.ndarray, covered: np.ndarray, days: np.ndarray) -> Figures:
    n = len(depth)
    n_covered = int(covered.sum())
    covered_days = days[covered]
    known = covered_days[~np.isnan(covered_days)]
    return Figures(
        customers=n,
        covered=n_covered,
        coverage=n_covered / n if n else None,
        recency_days=float(known.mean()) if len(known) else None,
        recency_median_days=float(np.median(known)) if len(known) else None,
        recency_excluded=int(n_covered - len(known)),
        # Integer sum over a count, so a mean of exactly 5 is exactly 5.0.
        depth=int(depth[covered].sum()) / n_covered if n_covered else None,
    )


def _depth_histogram(depths: np.ndarray) -> pd.DataFrame:
    values, counts = np.unique(depths, return_counts=True)
    frame = pd.DataFrame({"depth": values.astype(np.int64), "customers": counts.astype(np.int64)})
    # The Portuguese label of each depth's segment (SPEC §5): "inicial", "comprador sério".
    frame["segment"] = pd.Series(depth_segments(values), dtype=object).map(_DEPTH_LABELS)
    return frame


def _share(part: np.ndarray, whole: int) -> np.ndarray:
    return part / whole if whole else np.zeros(len(part))


def _recency_buckets(days: np.ndarray) -> pd.DataFrame:
    known = np.floor(days[~np.isnan(days)])
    highs = np.array([high for _, _, high in RECENCY_BUCKETS])
    which = np.searchsorted(highs, known, side="left")
    counts = np.bincount(which, minlength=len(RECENCY_BUCKETS)).astype(np.int64)
    return pd.DataFrame({
        "bucket": [label for label, _, _ in RECENCY_BUCKETS],
        "from_days": [low for _, low, _ in RECENCY_BUCKETS],
        "to_days": pd.array(
            [None if np.isinf(high) else int(high) for _, _, high in RECENCY_BUCKETS],
            dtype="Int64",
        ),
        "customers": counts,
        "share": _share(counts, len(known)),
        "within_target": [high < 14 for _, _, high in RECENCY_BUCKETS],
    })


def _coverage_by_month(created: pd.Series, covered: np.ndarray) -> pd.DataFrame:
    known = created.notna().to_numpy()
    moments = created[known]
    month_index = (moments.dt.year * 12 + moments.dt.month - 1).to_numpy()
    columns = ["month", "customers", "covered", "share"]
    if not len(month_index):
        return pd.DataFrame({
            "month": pd.Series([], dtype="datetime64[us]"),
            "customers": pd.Series([], dtype=np.int64),
            "covered": pd.Series([], dtype=np.int64),
            "share": pd.Series([], dtype=float),
        })[columns]
    grouped = pd.DataFrame({"m": month_index, "covered": covered[known]}).groupby("m")["covered"]
    counts = grouped.agg(["size", "sum"])
    months = counts.index.to_numpy()
    frame = pd.DataFrame({
        "month": pd.to_datetime(
            {"year": months // 12, "month": months % 12 + 1, "day": np.ones_like(months)}
        ),
        "customers": counts["size"].to_numpy().astype(np.int64),
        "covered": counts["sum"].to_numpy().astype(np.int64),
    })
    frame["share"] = frame["covered"] / frame["customers"]
    return frame[columns]


def _depth_segments(depths: np.ndarray) -> pd.DataFrame:
    keys = depth_segments(depths)
    counts = np.array([(keys == segment.key).sum() for segment in DEPTH_SEGMENTS], dtype=np.int64)
    return pd.DataFrame({
        "segment": [segment.key for segment in DEPTH_SEGMENTS],
        "label": [segment.label for segment in DEPTH_SEGMENTS],
        "range": [segment.range for segment in DEPTH_SEGMENTS],
        "customers": counts,
        "share": _share(counts, len(depths)),
    })


def _figures_json(figures: Figures) -> dict[str, object]:
    def rounded(value: float | None, digits: int) -> float | None:
        return None if value is None else round(value, digits)

    return {
        "customers": figures.customers,
        "covered": figures.covered,
        "coverage": rounded(figures.coverage, 4),
        "recency_days": rounded(figures.recency_days, 1),
        "recency_median_days": rounded(figures.recency_median_days, 1),
        "recency_excluded": figures.recency_excluded,
        "depth": rounded(figures.depth, 2),
        "targets": {key: metric.target for key, metric in METRICS.items()},
        "met": figures.met,
    }


def to_json(report: MetricsReport) -> dict[str, object]:
    """The report as the CLI prints it.

    Args:
        report: a ``compute`` result.

    Returns:
        ``{"customers", "covered", "coverage", "recency_days", "recency_median_days",
        "recency_excluded", "depth", "targets", "met", "stores": {store: same}}``;
        coverage a 0–1 fraction with 4 decimals, days with 1, depth with 2; null where
        there is no data.
    """
    body = _figures_json(report.total)
    body["stores"] = {store: _figures_json(figures) for store, figures in report.stores.items()}
    return body
