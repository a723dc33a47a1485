"""Coverage, recency and depth against their targets (SPEC §6)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import pytest

from services import metrics
from services.frame import build

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def record(n: int, **fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": f"rec{n}",
        "store": "Jardins",
        "phone": f"+55119876543{n:02d}",
        "name": f"Cliente {n}",
        "interests": None,
        "interests_all": None,
        "created_at": "2026-01-10T10:00:00Z",
        "last_interaction": None,
        "opt_out": False,
    }
    base.update(fields)
    return base


def items(count: int) -> list[str]:
    return [f"Produto {i}" for i in range(count)]


def with_history(n: int, depth: int, days_ago: float | None, **fields: object) -> dict[str, object]:
    last = None if days_ago is None else (NOW - pd.Timedelta(days=days_ago)).isoformat()
    history = items(depth)
    return record(
        n, interests=history[-5:], interests_all=history, last_interaction=last, **fields
    )


def report_of(*records: dict[str, object]) -> metrics.MetricsReport:
    return metrics.compute(build(pd.DataFrame(list(records))), NOW)


def test_coverage_three_of_four_is_075_and_not_met():
    report = report_of(
        with_history(1, 3, 1), with_history(2, 4, 2), with_history(3, 5, 3), record(4)
    )
    assert report.total.customers == 4
    assert report.total.covered == 3
    assert report.total.coverage == 0.75
    assert report.total.met["coverage"] is False


def test_coverage_of_exactly_80_percent_is_not_above_target():
    covered = [with_history(i, 3, 1) for i in range(4)]
    assert report_of(*covered, record(9)).total.met["coverage"] is False
    assert report_of(*covered).total.met["coverage"] is True


def test_recency_mean_and_median_over_customers_with_interests():
    report = report_of(
        with_history(1, 3, 2), with_history(2, 3, 4), with_history(3, 3, 30),
        record(4, last_interaction=(NOW - pd.Timedelta(days=100)).isoformat()),
    )
    # The customer without interests is not in recency: (2 + 4 + 30) / 3 = 12.
    assert report.total.recency_days == pytest.approx(12.0)
    assert report.total.recency_median_days == pytest.approx(4.0)
    assert report.total.met["recency"] is True


def test_recency_of_14_days_misses_the_target():
    report = report_of(with_history(1, 3, 14))
    assert report.total.recency_days == pytest.approx(14.0)
    assert report.total.met["recency"] is False


def test_customers_without_readable_last_interaction_are_excluded_and_counted():
    report = report_of(
        with_history(1, 3, 10),
        with_history(2, 3, None),
        record(3, interests=["Submariner"], last_interaction="ontem"),
    )
    assert report.total.recency_days == pytest.approx(10.0)
    assert report.total.recency_excluded == 2
    assert any("2 clientes" in note for note in report.notes)


def test_depth_is_mean_history_length_over_customers_with_interests():
    report = report_of(with_history(1, 2, 1), with_history(2, 6, 1), record(3))
    assert report.total.depth == 4.0
    assert report.total.met["depth"] is True


@pytest.mark.parametrize(
    ("depths", "met"),
    [((3,), True), ((5,), True), ((2, 3), False), ((5, 6), False), ((2,), False), ((6,), False)],
)
def test_depth_target_is_three_to_five_inclusive(depths, met):
    report = report_of(*(with_history(i, d, 1) for i, d in enumerate(depths)))
    assert report.total.met["depth"] is met


def test_legacy_record_counts_as_covered_with_repaired_depth():
    legacy = record(
        1, interests=["Submariner", "Nautilus 5711"], interests_all=["Submariner"],
        last_interaction=(NOW - pd.Timedelta(days=3)).isoformat(),
    )
    report = report_of(legacy, record(2, interests="", interests_all=""))
    assert report.total.covered == 1
    assert report.total.coverage == 0.5
    assert report.total.depth == 2.0


def test_figures_are_split_per_store():
    report = report_of(
        with_history(1, 3, 2, store="Jardins"),
        record(2, store="Jardins"),
        with_history(3, 6, 20, store="Leblon"),
        with_history(4, 4, 10, store="Leblon"),
    )
    assert sorted(report.stores) == ["Jardins", "Leblon"]
    jardins, leblon = report.stores["Jardins"], report.stores["Leblon"]
    assert (jardins.customers, jardins.coverage, jardins.depth) == (2, 0.5, 3.0)
    assert jardins.recency_days == pytest.approx(2.0)
    assert (leblon.customers, leblon.coverage, leblon.depth) == (2, 1.0, 5.0)
    assert leblon.recency_days == pytest.approx(15.0)
    assert leblon.met == {"coverage": True, "recency": False, "depth": True}
    assert report.total.customers == 4


def test_no_customers_gives_no_values_and_no_verdict():
    report = metrics.compute(build(pd.DataFrame([record(1)])).for_stores([]), NOW)
    assert report.total.customers == 0
    assert report.total.coverage is None
    assert report.total.met == {"coverage": None, "recency": None, "depth": None}
    assert report.stores == {}
    assert report.depth_histogram.empty
    assert report.coverage_by_month.empty
    assert report.recency_buckets["customers"].sum() == 0


def test_depth_histogram_counts_customers_per_depth():
    report = report_of(
        with_history(1, 2, 1), with_history(2, 2, 1), with_history(3, 11, 1), record(4)
    )
    histogram = report.depth_histogram
    assert histogram[["depth", "customers"]].values.tolist() == [[2, 2], [11, 1]]
    assert histogram["segment"].tolist() == ["inicial", "comprador sério"]


def test_depth_segments_follow_the_spec_edges():
    report = report_of(*(with_history(i, d, 1) for i, d in enumerate((1, 2, 3, 10, 11))))
    segments = report.depth_segments.set_index("label")["customers"].to_dict()
    assert segments == {"inicial": 2, "em desenvolvimento": 2, "comprador sério": 1}
    assert report.depth_segments["share"].sum() == pytest.approx(1.0)


def test_recency_buckets_use_whole_days_since_last_interaction():
    report = report_of(
        with_history(1, 3, 6.9), with_history(2, 3, 7), with_history(3, 3, 13.5),
        with_history(4, 3, 200), with_history(5, 3, None),
    )
    buckets = report.recency_buckets.set_index("bucket")["customers"].to_dict()
    assert buckets == {
        "0–6 dias": 1, "7–13 dias": 2, "14–29 dias": 0,
        "30–59 dias": 0, "60–89 dias": 0, "90+ dias": 1,
    }
    assert report.recency_buckets["within_target"].tolist() == [True, True] + [False] * 4


def test_coverage_by_first_contact_month():
    report = report_of(
        with_history(1, 3, 1, created_at="2025-12-31T23:00:00Z"),
        record(2, created_at="2025-12-02T10:00:00Z"),
        with_history(3, 3, 1, created_at="2026-01-15T10:00:00Z"),
        record(4, created_at="não sei"),
    )
    by_month = report.coverage_by_month
    assert by_month["month"].dt.strftime("%Y-%m").tolist() == ["2025-12", "2026-01"]
    assert by_month["customers"].tolist() == [2, 1]
    assert by_month["covered"].tolist() == [1, 1]
    assert by_month["share"].tolist() == [0.5, 1.0]
    assert report.created_unknown == 1


def test_json_has_targets_verdicts_and_stores_with_rounding():
    report = report_of(
        with_history(1, 3, 1.25, store="Jardins"),
        with_history(2, 4, 2, store="Leblon"),
        record(3, store="Leblon"),
    )
    body = metrics.to_json(report)
    json.dumps(body)
    assert body["customers"] == 3
    assert body["coverage"] == 0.6667
    assert body["recency_days"] == 1.6
    assert body["depth"] == 3.5
    assert body["targets"] == {"coverage": "> 80%", "recency": "< 14 dias", "depth": "3–5 itens"}
    assert body["met"] == {"coverage": False, "recency": True, "depth": True}
    assert body["stores"]["Leblon"]["coverage"] == 0.5
    assert body["stores"]["Jardins"]["recency_days"] == 1.2


def test_future_last_interaction_counts_as_zero_days():
    report = report_of(with_history(1, 3, -3))
    assert report.total.recency_days == 0.0


def test_registry_describes_every_metric_in_portuguese():
    assert list(metrics.METRICS) == ["coverage", "recency", "depth"]
    assert metrics.METRICS["coverage"].label == "Cobertura"
    assert metrics.METRICS["depth"].met(4.0) is True


def test_depth_above_the_range_stands_apart_from_a_failure():
    depth = metrics.METRICS["depth"]
    assert [depth.standing(v) for v in (2.0, 3.0, 5.0, 6.2, None)] == [
        "unmet", "met", "met", "above", None]
    assert metrics.METRICS["recency"].standing(20.0) == "unmet"
