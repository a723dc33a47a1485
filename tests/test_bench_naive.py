"""The row-by-row scans the benchmarks compare against give the same answers as the services."""

from datetime import UTC, datetime

import pytest

from benchmarks import naive
from services import metrics, snapshot
from services.demo import generate
from services.segments import PRESETS, build_list
from services.store.sqlite import SqliteStore

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    store = SqliteStore(tmp_path_factory.mktemp("naive") / "v.db")
    generate(store, 1500, 5, now=NOW)
    return snapshot.customer_data(store)


@pytest.mark.parametrize("segment", [
    PRESETS["estoque"].segment_for(["Rolex"]),
    PRESETS["estoque"].segment_for(["joia", "Nautilus"]),
    PRESETS["novidade"].segment_for(["Submariner"]),
    PRESETS["reengajamento"].segment,
    PRESETS["marca"].segment_for(["Cartier"], stores=["Vitrine Leblon"]),
])
def test_the_naive_segment_is_the_same_list(data, segment):
    # As every caller does, the data is limited to the campaign's stores first.
    data = data.for_stores(segment.stores) if segment.stores else data
    built = build_list(data, segment, NOW)
    slow = naive.segment(naive.records(data), naive.product_table(data), segment, NOW)
    assert [(i, tier, ", ".join(matched)) for i, tier, matched in slow] == list(
        zip(built.rows.index, built.rows["tier"], built.rows["matched"], strict=True))


def test_the_naive_metrics_are_the_same_figures(data):
    report = metrics.compute(data, NOW)
    slow = naive.metrics(naive.records(data), NOW)
    assert slow["total"]["covered"] == report.total.covered
    assert slow["total"]["depth"] == pytest.approx(report.total.depth)
    assert slow["total"]["recency_days"] == pytest.approx(report.total.recency_days)
    assert slow["total"]["recency_median_days"] == pytest.approx(report.total.recency_median_days)
    assert {k: v["coverage"] for k, v in slow["stores"].items()} == pytest.approx(
        {k: v.coverage for k, v in report.stores.items()})
