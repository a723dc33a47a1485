"""Visit prep: lookup by phone or name, the customer profile and its talking points, in-store notes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from services.access import AccessDenied
from services.customers import (
    InvalidQuery,
    SearchIndex,
    parse_batch,
    profile,
    record_interest,
    search,
)
from services.demo import generate
from services.frame import NINTH_DIGIT, build
from services.interests import DEVELOPING, EARLY, SERIOUS, InvalidBatch, depth_segment, record_batch
from services.store.sqlite import SqliteStore

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
JARDINS, LEBLON = "Vitrine Jardins", "Vitrine Leblon"

# The user's customer journey (SPEC §3), replayed through the recording rule.
JOURNEY = [
    ["Submariner", "GMT-Master II", "Datejust"],
    ["Anel Diamante", "Cartier Love"],
    ["Nautilus 5711", "Aquanaut", "Calatrava"],
    ["Grand Complications", "Twenty-4", "Golden Ellipse"],
]


def replay(batches: list[list[str]]) -> tuple[list[str], list[str]]:
    recent: list[str] = []
    history: list[str] = []
    for batch in batches:
        recent, history = record_batch(recent, history, batch)
    return recent, history


def record(id_: str, store: str, phone: str, name: str, batches: list[list[str]] | None = None,
           days_ago: int = 20) -> dict[str, object]:
    recent, history = replay(batches or [])
    return {
        "id": id_, "store": store, "phone": phone, "name": name,
        "interests": recent, "interests_all": history,
        "created_at": (NOW - timedelta(days=300)).isoformat(),
        "last_interaction": (NOW - timedelta(days=days_ago)).isoformat(),
        "opt_out": False,
    }


@pytest.fixture
def data():
    rows = [
        record("r1", JARDINS, "+5511987654321", "João da Silva", JOURNEY),
        record("r2", JARDINS, "+551133334444", "Mariana Souza", [["Cartier Love"]], days_ago=3),
        record("r3", LEBLON, "+5521987654321", "Ana Lúcia Ribeiro", [["Daytona"]], days_ago=90),
        record("r4", JARDINS, "+551187651111", "Joana Prado", [["Santos de Cartier"]]),
        record("r5", JARDINS, "n/d", "Sem Telefone", []),
    ]
    return build(pd.DataFrame(rows))


def names(found: pd.DataFrame) -> list[str]:
    return found["name"].tolist()


# --- Lookup ----------------------------------------------------------------------


@pytest.mark.parametrize("typed", [
    "(11) 9 8765-4321", "+55 11 98765-4321", "11987654321", "5511987654321", "+5511987654321",
    "+55 (11) 98765 4321", "011 98765-4321",
])
def test_phone_in_any_format_finds_the_customer(data, typed: str) -> None:
    assert names(search(data, typed)) == ["João da Silva"]


def test_phone_without_the_ninth_digit_finds_the_customer_recorded_with_it(data) -> None:
    assert names(search(data, "+55 11 8765-4321")) == ["João da Silva"]


def test_phone_with_the_ninth_digit_finds_the_customer_recorded_without_it(data) -> None:
    assert names(search(data, "(11) 9 8765-1111")) == ["Joana Prado"]


def test_the_last_digits_find_the_customers_whose_phone_ends_with_them(data) -> None:
    assert set(names(search(data, "8765-4321"))) == {"João da Silva", "Ana Lúcia Ribeiro"}
    assert names(search(data, "3333-4444")) == ["Mariana Souza"]


def test_name_matches_in_part_without_accents_or_case(data) -> None:
    assert names(search(data, "joao")) == ["João da Silva"]
    assert names(search(data, "SILVA João")) == ["João da Silva"]
    assert names(search(data, "lucia")) == ["Ana Lúcia Ribeiro"]


def test_several_matches_come_most_recently_active_first(data) -> None:
    # "ana" is part of Mariana (3 days ago), Joana (20) and Ana Lúcia (90).
    assert names(search(data, "ana")) == ["Mariana Souza", "Joana Prado", "Ana Lúcia Ribeiro"]


def test_search_never_leaves_the_stores_given(data) -> None:
    assert names(search(data, "(21) 9 8765-4321", stores=[JARDINS])) == []
    assert names(search(data, "Ana Lúcia", stores=[JARDINS])) == []
    assert names(search(data.for_stores([JARDINS]), "8765-4321")) == ["João da Silva"]


def test_nobody_found_is_an_empty_result_not_an_error(data) -> None:
    assert search(data, "Zuleica").empty
    assert search(data, "(31) 9 9999-0000").empty


@pytest.mark.parametrize("typed", ["", "   ", "a", "12"])
def test_a_query_too_short_to_mean_anything_is_refused(data, typed: str) -> None:
    with pytest.raises(InvalidQuery):
        search(data, typed)


def test_a_kept_index_gives_the_same_answers(data) -> None:
    index = SearchIndex.of(data)
    for typed in ("joao", "8765-4321", "(11) 9 8765-4321"):
        assert names(search(data, typed, index=index)) == names(search(data, typed))


def test_search_gives_the_row_of_the_customer_in_the_frame(data) -> None:
    found = search(data, "Joana")
    assert data.customers.iloc[found["cid"][0]]["id"] == "r4"


# --- Profile ---------------------------------------------------------------------


def test_recent_interests_come_most_recent_first_with_their_brand(data) -> None:
    card = profile(data, 0, NOW)
    assert [item.title for item in card.recent] == [
        "Golden Ellipse", "Twenty-4", "Grand Complications", "Calatrava", "Aquanaut"]
    assert {item.brand for item in card.recent} == {"Patek Philippe"}
    assert card.recent[0].label == "Golden Ellipse · Patek Philippe"


def test_history_keeps_the_order_of_first_mention_with_brand_and_category(data) -> None:
    card = profile(data, 0, NOW)
    assert [item.title for item in card.history] == [t for batch in JOURNEY for t in batch]
    assert (card.history[0].brand, card.history[0].category) == ("Rolex", "watch")
    assert (card.history[3].brand, card.history[3].category) == (None, "jewelry")
    assert (card.history[4].brand, card.history[4].category) == ("Cartier", "jewelry")


def test_recent_focus_and_long_term_preferences_are_counted(data) -> None:
    card = profile(data, 0, NOW)
    assert [(s.name, s.count, s.total) for s in card.recent_brands] == [("Patek Philippe", 5, 5)]
    assert [(s.name, s.count) for s in card.history_brands] == [
        ("Patek Philippe", 6), ("Rolex", 3), ("Cartier", 1)]
    assert [(s.name, s.count) for s in card.history_categories] == [("watch", 9), ("jewelry", 2)]


def test_the_journey_customer_gets_the_talking_points_of_the_spec(data) -> None:
    points = profile(data, 0, NOW).talking_points
    assert points[:3] == (
        "Foco recente: Patek Philippe (5 de 5)",
        "Subiu de Rolex para Patek Philippe",
        "Também pergunta por joias: Cartier Love e Anel Diamante",
    )
    assert 2 <= len(points) <= 4


def test_a_product_asked_about_again_is_a_talking_point() -> None:
    frame = build(pd.DataFrame([record("r1", JARDINS, "+5511987654321", "João",
                                       [*JOURNEY, ["Submariner"]], days_ago=2)]))
    points = profile(frame, 0, NOW).talking_points
    assert points[:2] == ("Foco recente: Patek Philippe (4 de 5)", "Voltou a perguntar por Submariner")


def test_a_customer_without_interests_still_gets_two_points() -> None:
    frame = build(pd.DataFrame([record("r1", JARDINS, "+5511987654321", "", [], days_ago=30)]))
    card = profile(frame, 0, NOW)
    assert card.talking_points == (
        "Nenhum interesse registrado ainda: pergunte o que procura", "Último contato há 30 dias")
    assert card.recent == () and card.history == ()


def test_card_facts_phone_link_days_and_depth_segment(data) -> None:
    card = profile(data, 0, NOW)
    assert card.whatsapp_url == "https://wa.me/5511987654321"
    assert card.days_since == 20
    assert (card.depth, card.depth_segment) == (11, SERIOUS)
    assert card.store == JARDINS


def test_an_unreadable_phone_has_no_whatsapp_link_but_still_shows(data) -> None:
    card = profile(data, 4, NOW)
    assert card.whatsapp_url is None and card.phone_raw == "n/d"
    assert "telefone ilegível" in card.problems


@pytest.mark.parametrize(("depth", "segment"), [
    (0, EARLY), (2, EARLY), (3, DEVELOPING), (10, DEVELOPING), (11, SERIOUS)])
def test_depth_segments_follow_the_spec(depth: int, segment: str) -> None:
    assert depth_segment(depth) == segment


def test_every_demo_customer_gets_two_to_four_talking_points(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "demo.db")
    generate(store, 400, seed=3, now=NOW)
    frame = build(store.raw_customers(store.stores()), store.catalog())
    for cid in range(len(frame.customers)):
        points = profile(frame, cid, NOW).talking_points
        assert 2 <= len(points) <= 4, (cid, points)
        assert all(point and "{" not in point for point in points)


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
    from services.customers import with_customer
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
