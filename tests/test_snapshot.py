"""The customer frame saved beside the SQLite file: the same frame back, and only while it is current."""

from datetime import UTC, datetime

import pandas as pd
import pytest

from services import snapshot
from services.demo import generate
from services.frame import build
from services.store.sqlite import SqliteStore

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


@pytest.fixture
def store(tmp_path):
    repo = SqliteStore(tmp_path / "vitrine.db")
    generate(repo, 400, 3, now=NOW)
    return repo


def same(a, b):
    for name in ("customers", "recent_items", "history_items", "products"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    for column in snapshot.LIST_COLUMNS:
        assert all(type(value) is list for value in b.customers[column])


def test_a_saved_frame_loads_back_equal_to_the_built_one(store, tmp_path):
    built = build(store.raw_customers(store.stores()), store.catalog())
    snapshot.save(built, tmp_path / "f", "k")
    same(built, snapshot.load(tmp_path / "f", "k"))


def test_the_frame_is_built_once_then_loaded(store):
    first = snapshot.customer_data(store)
    assert snapshot.snapshot_path(store.path).exists()
    same(first, snapshot.customer_data(store))


def test_a_write_or_a_new_catalog_makes_the_snapshot_stale(store):
    key = store.data_key()
    snapshot.customer_data(store)
    store.record("Vitrine Jardins", "+5511987650000", ["Daytona"], NOW, name="Nova Cliente")
    assert store.data_key() != key
    data = snapshot.customer_data(store)
    assert "Nova Cliente" in data.customers["name"].tolist()
    key = store.data_key()
    store.replace_products([("daytona", "Daytona", "Omega", "watch", 1)])
    assert store.data_key() != key
    product = snapshot.customer_data(store).products.loc["daytona"]
    assert product["brand"] == "Omega"


def test_another_file_with_the_same_version_is_not_mistaken_for_this_one(tmp_path):
    a, b = SqliteStore(tmp_path / "a.db"), SqliteStore(tmp_path / "b.db")
    assert a.version() == b.version()
    assert a.data_key() != b.data_key()


def test_a_damaged_or_foreign_file_is_ignored_and_replaced(store):
    path = snapshot.snapshot_path(store.path)
    path.write_bytes(b"not a snapshot")
    assert snapshot.load(path, snapshot.full_key(store.data_key())) is None
    snapshot.customer_data(store)
    assert snapshot.load(path, snapshot.full_key(store.data_key())) is not None
    path.write_bytes(path.read_bytes()[:-1000])
    assert snapshot.load(path, snapshot.full_key(store.data_key())) is None


def test_an_empty_base_round_trips(tmp_path):
    repo = SqliteStore(tmp_path / "empty.db")
    built = build(repo.raw_customers(repo.stores()), repo.catalog())
    snapshot.save(built, tmp_path / "f", "k")
    same(built, snapshot.load(tmp_path / "f", "k"))
