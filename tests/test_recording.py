"""Recording an interest (the one write path) and the frame patched after it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from services.access import AccessDenied
from services.demo import generate
from services.frame import NINTH_DIGIT, build, with_customer
from services.interests import InvalidBatch
from services.recording import parse_batch, record_interest, unite_records
from services.store.sqlite import SqliteStore
from tests.journey import JARDINS, JOURNEY, LEBLON, NOW, journey_frame, record


@pytest.fixture
def data():
    return journey_frame()


def names(found: pd.DataFrame) -> list[str]:
    return found["name"].tolist()



# --- Recording ---------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    repo = SqliteStore(tmp_path / "v.db")
    for name in (JARDINS, LEBLON):
        repo.add_store(name)
    repo.insert_raw([record("r1", JARDINS, "+5511987654321", "João da Silva", JOURNEY)])
    return repo


def test_an_in_store_note_goes_through_the_recording_rule(store: SqliteStore) -> None:
    saved = record_interest(store, [JARDINS], JARDINS, "(11) 9 8765-4321", "Submariner", NOW)
    assert saved.interests == ["Calatrava", "Grand Complications", "Twenty-4", "Golden Ellipse",
                               "Submariner"]
    assert len(saved.interests_all) == 11
    assert store.find(JARDINS, "+5511987654321").interests[-1] == "Submariner"


def test_a_note_for_a_new_phone_creates_the_customer_with_its_name(store: SqliteStore) -> None:
    saved = record_interest(store, [JARDINS], JARDINS, "11 91234-5678", "Daytona, Datejust", NOW,
                            name="Carla")
    assert (saved.name, saved.interests, saved.phone) == ("Carla", ["Daytona", "Datejust"],
                                                          "+5511912345678")


def test_a_note_for_a_store_outside_the_users_is_refused(store: SqliteStore) -> None:
    with pytest.raises(AccessDenied):
        record_interest(store, [JARDINS], LEBLON, "(21) 9 8765-4321", "Daytona", NOW)
    assert store.find(LEBLON, "(21) 9 8765-4321") is None


@pytest.mark.parametrize("typed", ["", " , ,", "\n"])
def test_a_note_without_products_is_refused_and_nothing_changes(store: SqliteStore, typed: str) -> None:
    before = store.version()
    with pytest.raises(InvalidBatch):
        record_interest(store, [JARDINS], JARDINS, "(11) 9 8765-4321", typed, NOW)
    assert store.version() == before


def test_typed_products_split_on_lines_when_any_else_on_commas() -> None:
    assert parse_batch("Submariner,  Daytona, Datejust ,") == ["Submariner", "Daytona", "Datejust"]
    assert parse_batch("Datejust 36, aço e ouro\nDaytona,") == ["Datejust 36, aço e ouro", "Daytona"]


# --- The frame after a note ------------------------------------------------------------


def _rows(frame) -> list[tuple]:
    c = frame.customers
    return list(zip(c["id"], c["store"], c["name"], c["phone"], c["recent"].map(tuple),
                    c["history"].map(tuple), c["depth"], c["last_interaction"], c["opt_out"],
                    c["problems"].map(tuple), strict=True))


def _items(frame, table: str) -> list[tuple]:
    items = getattr(frame, table)
    ids = frame.customers["id"].to_numpy()
    return sorted(zip(ids[items["cid"].to_numpy()], items["pos"], items["key"].astype(str), strict=True))


@pytest.mark.parametrize(("phone", "products"), [
    ("+5511987654321", "Daytona"),            # an existing customer moves to the end
    ("+5511911112222", "Serpenti, Brinco X"),  # a new customer, with a product nobody asked about
    ("twin", "Calatrava"),                     # one of a pair with and without the ninth digit
])
def test_the_frame_after_a_note_is_the_frame_a_full_read_gives(tmp_path: Path, phone: str,
                                                               products: str) -> None:
    from services.segments import Segment, build_list

    store = SqliteStore(tmp_path / "demo.db")
    generate(store, 300, seed=5, now=NOW)
    store.insert_raw([record("r1", JARDINS, "+5511987654321", "João da Silva", JOURNEY)])
    before = build(store.raw_customers(store.stores()), store.catalog())
    where = JARDINS
    if phone == "twin":
        twins = before.customers[before.customers["problems"].map(lambda p: NINTH_DIGIT in p)]
        phone, where = twins["phone"].iloc[0], twins["store"].iloc[0]
    saved = record_interest(store, store.stores(), where, phone, products, NOW)
    patched = with_customer(before, saved, store.catalog())
    rebuilt = build(store.raw_customers(store.stores()), store.catalog())
    assert _rows(patched) == _rows(rebuilt)
    assert _items(patched, "recent_items") == _items(rebuilt, "recent_items")
    assert _items(patched, "history_items") == _items(rebuilt, "history_items")
    assert set(patched.products.index) == set(rebuilt.products.index)
    for terms in (("Daytona",), ("Rolex",), ("Brinco X",), ()):
        segment = Segment(terms, quiet_days=0)
        assert build_list(patched, segment, NOW).rows.equals(build_list(rebuilt, segment, NOW).rows)
    assert len(before.customers) + (phone == "+5511911112222") == len(patched.customers)


# --- Uniting the two records of one phone ---------------------------------------------------


def test_uniting_keeps_every_interest_on_the_record_with_the_ninth_digit(tmp_path: Path) -> None:
    repo = SqliteStore(tmp_path / "v.db")
    repo.insert_raw([
        record("old", JARDINS, "+551187650000", "Carla Nunes", [["Submariner", "GMT-Master II"]],
               days_ago=200),
        record("new", JARDINS, "+5511987650000", "", [["Daytona"]], days_ago=4),
        record("other", JARDINS, "+551133334444", "Mariana", [["Trinity"]]),
    ])
    kept = unite_records(repo, [JARDINS], JARDINS, ["old", "new"], NOW)
    assert (kept.id, kept.phone, kept.name) == ("new", "+5511987650000", "Carla Nunes")
    assert kept.interests_all == ["Submariner", "GMT-Master II", "Daytona"]
    assert kept.interests == ["Submariner", "GMT-Master II", "Daytona"]
    saved = repo.find(JARDINS, "+551187650000")
    assert saved == kept
    data = build(repo.raw_customers([JARDINS]))
    assert sorted(data.customers["id"]) == ["new", "other"]
    assert not any(NINTH_DIGIT in p for p in data.customers["problems"])


def test_uniting_refuses_another_store_and_different_phones(tmp_path: Path) -> None:
    from services.store.base import StoreError

    repo = SqliteStore(tmp_path / "v.db")
    repo.insert_raw([
        record("a", JARDINS, "+551187650000", "Carla", [["Submariner"]]),
        record("b", JARDINS, "+551133334444", "Mariana", [["Trinity"]]),
        record("c", LEBLON, "+5511987650000", "Carla", [["Daytona"]]),
    ])
    before = repo.version()
    with pytest.raises(AccessDenied):
        unite_records(repo, [LEBLON], JARDINS, ["a", "b"], NOW)
    with pytest.raises(StoreError):
        unite_records(repo, [JARDINS, LEBLON], JARDINS, ["a", "b"], NOW)
    with pytest.raises(StoreError):
        unite_records(repo, [JARDINS, LEBLON], JARDINS, ["a", "c"], NOW)
    assert repo.version() == before


def test_a_product_the_catalog_knows_is_recorded_in_its_spelling(store: SqliteStore) -> None:
    store.replace_products([("daytona", "Daytona", "Rolex", "watch", None)])
    saved = record_interest(store, [JARDINS], JARDINS, "+5511987654321", ["daytona ", "Submarine"], NOW)
    # The assistant's products are never refused: outside the catalog, recorded as sent.
    assert saved.interests[-2:] == ["Daytona", "Submarine"]
    assert store.catalog_titles() == {"daytona": "Daytona"}
