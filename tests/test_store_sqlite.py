"""The embedded SQLite store."""

from datetime import UTC, datetime

import pytest

from services.frame import build
from services.interests import InvalidPhone
from services.recording import record_interest
from services.store.base import StoreError, UnknownStore
from services.store.sqlite import SqliteStore

AT = datetime(2026, 11, 1, 12, tzinfo=UTC)


@pytest.fixture
def store(tmp_path):
    repo = SqliteStore(tmp_path / "vitrine.db")
    repo.add_store("Loja A")
    repo.add_store("Loja B")
    return repo


def test_first_contact_creates_the_customer(store):
    saved = store.record("Loja A", "(11) 9 8765-4321", ["Submariner"], AT, name="Ana Souza")
    assert saved.phone == "+5511987654321"
    assert saved.name == "Ana Souza"
    assert store.find("Loja A", "11987654321") == saved


def test_lookup_finds_the_customer_with_or_without_the_ninth_digit(store):
    store.record("Loja A", "+55 11 8765-4321", ["Datejust"], AT)
    assert store.find("Loja A", "(11) 9 8765-4321").interests == ["Datejust"]


def test_a_customer_of_one_store_is_not_found_in_another(store):
    store.record("Loja A", "+5511987654321", ["Datejust"], AT)
    assert store.find("Loja B", "+5511987654321") is None


def test_long_text_fields_stay_long_text(store):
    store.insert_raw([{"id": "rec1", "store": "Loja A", "phone": "+5511987654321",
                       "interests": "Submariner, Datejust", "interests_all": "Submariner, Datejust"}])
    store.record("Loja A", "+5511987654321", ["Daytona"], AT)
    raw = store.raw_customers(["Loja A"]).iloc[0]
    assert raw["interests"] == "Submariner, Datejust, Daytona"
    assert raw["interests_all"] == "Submariner, Datejust, Daytona"


def test_a_product_with_a_comma_stays_one_product_in_long_text(store):
    store.insert_raw([{"id": "rec1", "store": "Loja A", "phone": "+5511987654321",
                       "interests": "Submariner, Datejust", "interests_all": "Submariner, Datejust"}])
    store.record("Loja A", "+5511987654321", ["Relógio Rolex Datejust 36, aço e ouro", "Frivole"], AT)
    raw = store.raw_customers(["Loja A"]).iloc[0]
    assert raw["interests_all"] == "Submariner\nDatejust\nRelógio Rolex Datejust 36, aço e ouro\nFrivole"
    assert store.find("Loja A", "+5511987654321").interests_all == [
        "Submariner", "Datejust", "Relógio Rolex Datejust 36, aço e ouro", "Frivole"
    ]


def test_every_write_changes_the_version(store):
    before = store.version()
    store.record("Loja A", "+5511987654321", ["Daytona"], AT)
    assert store.version() != before


def test_bad_input_is_refused_and_nothing_is_written(store):
    with pytest.raises(InvalidPhone):
        store.record("Loja A", "n/d", ["Daytona"], AT)
    with pytest.raises(UnknownStore):
        record_interest(store, ["Loja A", "Loja Z"], "Loja Z", "+5511987654321", ["Daytona"], AT)
    assert store.is_empty()


def test_a_mirror_without_its_airtable_settings_refuses_writes(store):
    store.set_meta("source", "airtable")
    with pytest.raises(StoreError, match="nada foi salvo"):
        store.record("Loja A", "+5511987654321", ["Daytona"], AT)
    assert store.is_empty()


def test_raw_records_build_the_frame(store):
    store.record("Loja A", "+5511987654321", ["Daytona", "Explorer"], AT)
    store.record("Loja B", "+5521987654321", ["Love"], AT)
    data = build(store.raw_customers(["Loja A"]), store.catalog())
    assert data.customers["store"].tolist() == ["Loja A"]
    assert data.customers.loc[0, "recent"] == ["Daytona", "Explorer"]
