"""A manager of one store never sees a customer of another, in any service (SPEC §10).

Store A (Jardins) talks Rolex and Cartier; store B (Leblon) talks Patek Philippe
and Audemars Piguet, names its customers "...Leblonmark" and uses phones no A
customer has, except one customer who talks to both stores with the same phone.
"""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import UTC, datetime

import pandas as pd
import pytest
from openpyxl import load_workbook

from services import insights, metrics, quality
from services.access import AccessDenied, scoped
from services.exports import segment_to_json, to_csv, to_xlsx
from services.frame import CustomerData, build
from services.recording import record_interest
from services.search import search
from services.segments import PRESETS, Segment, build_list

NOW = datetime(2025, 6, 15, 12, tzinfo=UTC)
A, B = "Vitrine Jardins", "Vitrine Leblon"
SHARED_PHONE = "+5511987650001"
A_PRODUCTS = ["Submariner", "Datejust", "GMT-Master II", "Cartier Love"]
B_PRODUCTS = ["Nautilus 5711", "Aquanaut", "Royal Oak", "Calatrava"]
# Anything that would betray store B to a manager of store A.
B_TRACES = ("Leblon", "Leblonmark", "Nautilus", "Aquanaut", "Royal Oak", "Calatrava", "Patek",
            "Audemars", "98888", "8888-")


def _customer(i: int, store: str, name: str, phone: str, history: list[str]) -> dict[str, object]:
    return {
        "id": f"rec{store[8]}{i:03d}", "store": store, "phone": phone, "name": name,
        "interests": history[-5:], "interests_all": history,
        "created_at": "2025-01-10T10:00:00Z", "last_interaction": f"2025-05-{1 + i:02d}T10:00:00Z",
        "opt_out": False,
    }


def raw_customers() -> pd.DataFrame:
    rows = [_customer(i, A, f"Cliente Jardins {i}", f"+55119876500{i:02d}",
                      A_PRODUCTS[: 2 + i % 3]) for i in range(1, 11)]
    rows += [_customer(i, B, f"Cliente Leblonmark {i}", f"+55219888800{i:02d}",
                       B_PRODUCTS[: 2 + i % 3]) for i in range(1, 11)]
    rows.append(_customer(99, B, "Alice Leblonmark", SHARED_PHONE, ["Nautilus 5711", "Aquanaut"]))
    # One unreadable phone in each store, for the data-quality panel.
    rows.append(_customer(98, A, "Telefone Ruim Jardins", "12", ["Submariner"]))
    rows.append(_customer(98, B, "Telefone Ruim Leblonmark", "98888-", ["Aquanaut"]))
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def everyone() -> CustomerData:
    return build(raw_customers())


@pytest.fixture(scope="module")
def manager_a(everyone: CustomerData) -> CustomerData:
    return scoped(everyone, allowed=(A,))


def text_of(value: object) -> str:
    """Every value a result holds, as text (dataclasses, frames, lists, mappings)."""
    if isinstance(value, pd.DataFrame):
        return value.to_csv() + " ".join(map(str, value.index)) + " ".join(map(str, value.columns))
    if isinstance(value, pd.Series):
        return value.to_csv()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return "\n".join(text_of(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, dict):
        return "\n".join(f"{text_of(k)}: {text_of(v)}" for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return "\n".join(text_of(v) for v in value)
    return str(value)


def assert_no_trace_of_b(value: object) -> None:
    text = text_of(value)
    found = [trace for trace in B_TRACES if trace in text]
    assert not found, found


def test_the_fixture_really_holds_both_stores(everyone: CustomerData) -> None:
    assert everyone.stores == [A, B]
    assert any(trace in text_of(everyone.customers) for trace in B_TRACES)


def test_scoped_frame_holds_only_the_allowed_store(manager_a: CustomerData) -> None:
    assert set(manager_a.customers["store"]) == {A}
    assert len(manager_a.customers) == 11
    assert_no_trace_of_b(manager_a.customers)
    assert manager_a.history_items["cid"].max() < len(manager_a.customers)


def test_the_customer_frame_after_scoping_names_no_product_of_b(manager_a: CustomerData) -> None:
    assert_no_trace_of_b(manager_a.products)
    for items in (manager_a.recent_items, manager_a.history_items):
        assert_no_trace_of_b(list(items["key"].astype(str)))
        categories = getattr(items["key"].dtype, "categories", [])
        assert_no_trace_of_b(list(map(str, categories)))


def test_a_shared_phone_shows_only_the_allowed_stores_customer(manager_a: CustomerData) -> None:
    same = manager_a.customers[manager_a.customers["phone"] == SHARED_PHONE]
    assert same["name"].tolist() == ["Cliente Jardins 1"]


B_PHONE = "+5521988880002"


@pytest.mark.parametrize("query", [
    B_PHONE, "(21) 98888-0002", "21 8888-0002", "5521988880002", "8888-0002", "88880002",
])
def test_a_phone_search_for_bs_customer_finds_nothing_for_a_manager(
    manager_a: CustomerData, query: str
) -> None:
    assert search(manager_a, query).empty


def test_the_same_search_finds_bs_customer_for_an_admin(everyone: CustomerData) -> None:
    assert search(everyone, "(21) 98888-0002")["name"].tolist() == ["Cliente Leblonmark 2"]


@pytest.mark.parametrize("query", ["Leblonmark", "cliente leblonmark 2", "Alice Leblonmark"])
def test_a_name_search_for_bs_customer_finds_nothing_for_a_manager(
    manager_a: CustomerData, query: str
) -> None:
    assert search(manager_a, query).empty


def test_a_shared_phone_search_finds_only_the_allowed_stores_record(manager_a: CustomerData) -> None:
    found = search(manager_a, "(11) 8765-0001")  # without the ninth digit
    assert found["name"].tolist() == ["Cliente Jardins 1"]
    assert_no_trace_of_b(found)


def test_search_through_the_scoping_function_is_a_boundary_too(everyone: CustomerData) -> None:
    assert search(scoped(everyone, allowed=(A, B), requested=(A,)), B_PHONE).empty
    assert search(scoped(everyone, allowed=(A, B), requested=(A,)), "Leblonmark").empty


def test_recording_an_interest_in_another_store_is_refused_and_writes_nothing() -> None:
    class Recorder:
        calls: list[tuple] = []

        def stores(self) -> list[str]:
            return [A, B]

        def record(self, *args: object, **kwargs: object) -> None:
            self.calls.append(args)

    repository = Recorder()
    with pytest.raises(AccessDenied, match=B):
        record_interest(repository, (A,), B, B_PHONE, "Nautilus 5711", NOW)  # type: ignore[arg-type]
    assert repository.calls == []


def test_asking_for_a_store_not_allowed_is_refused(everyone: CustomerData) -> None:
    with pytest.raises(AccessDenied, match=B):
        scoped(everyone, allowed=(A,), requested=(B,))
    with pytest.raises(AccessDenied):
        scoped(everyone, allowed=(A,), requested=(A, B))


def test_no_allowed_store_means_no_customer(everyone: CustomerData) -> None:
    assert scoped(everyone, allowed=()).customers.empty


def test_metrics_of_a_manager_count_only_their_store(manager_a: CustomerData) -> None:
    report = metrics.compute(manager_a, NOW)
    assert set(report.stores) == {A}
    assert_no_trace_of_b(report)
    assert_no_trace_of_b(json.dumps(metrics.to_json(report), ensure_ascii=False))


def test_insights_of_a_manager_hold_nothing_of_another_store(manager_a: CustomerData) -> None:
    result = insights.compute(manager_a, min_customers=1)
    assert_no_trace_of_b(result)
    assert_no_trace_of_b(result.readings)


@pytest.mark.parametrize("terms", [("Patek",), ("Nautilus 5711",), ("Royal Oak", "Aquanaut"), ("relogio",)])
def test_segments_of_a_manager_never_list_another_stores_customer(
    manager_a: CustomerData, terms: tuple[str, ...]
) -> None:
    campaign = build_list(manager_a, Segment(terms, scope="all", quiet_days=0), NOW)
    assert set(campaign.rows["store"]) <= {A}
    assert_no_trace_of_b(campaign.rows)


def test_a_b_only_product_finds_nobody_for_a_manager(manager_a: CustomerData) -> None:
    campaign = build_list(manager_a, PRESETS["estoque"].segment_for(["Nautilus"], quiet_days=0), NOW)
    assert campaign.total == 0


def test_a_segment_naming_store_b_still_lists_nobody_of_b(manager_a: CustomerData) -> None:
    campaign = build_list(manager_a, Segment((), quiet_days=0, stores=(B,)), NOW)
    # The segment's stores are a record; the data (store A's alone) is the boundary.
    assert set(campaign.rows["store"]) <= {A}
    assert_no_trace_of_b(campaign.rows)


def test_downloads_of_a_manager_hold_only_their_store(manager_a: CustomerData) -> None:
    campaign = build_list(manager_a, Segment((), quiet_days=0), NOW)
    assert campaign.total == 10
    csv_text = to_csv(campaign).decode("utf-8-sig")
    assert_no_trace_of_b(csv_text)
    sheet = load_workbook(io.BytesIO(to_xlsx(campaign))).active
    assert_no_trace_of_b([cell.value for row in sheet.iter_rows() for cell in row])
    assert_no_trace_of_b(segment_to_json(campaign))


def test_data_quality_of_a_manager_lists_only_their_store(manager_a: CustomerData) -> None:
    report = quality.quality_report(manager_a)
    assert "Telefone Ruim Jardins" in text_of(report)
    assert_no_trace_of_b(report)
    assert_no_trace_of_b(quality.duplicate_phones(manager_a))
