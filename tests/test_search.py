"""Finding a customer: by phone in any format, or by part of the name."""

from __future__ import annotations

import pandas as pd
import pytest

from services.access import scoped
from services.frame import build
from services.interests import product_key
from services.search import InvalidQuery, SearchIndex, lookup, person_rows, phone_store, search
from tests.journey import JARDINS, LEBLON, journey_frame, record


@pytest.fixture
def data():
    return journey_frame()


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


def test_search_in_a_scoped_frame_never_leaves_its_stores(data) -> None:
    jardins = scoped(data, allowed=[JARDINS, LEBLON], requested=[JARDINS])
    assert names(search(jardins, "(21) 9 8765-4321")) == []
    assert names(search(jardins, "Ana Lúcia")) == []
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


@pytest.fixture
def namesakes():
    spellings = ["Ana Souza", "ANA  souza", "Mariana Anastácia", "Ana", "", "Susana Ana Nunes",
                 "João Anão", "Joao Anao", "Ñandú Ça", "Ana Souza", "Luísa Straße", "anasouza"]
    rows = [record(f"n{i}", JARDINS if i % 2 else LEBLON, f"+55119876500{i:02d}", name, days_ago=i % 4)
            for i, name in enumerate(spellings)]
    return build(pd.DataFrame(rows))


@pytest.mark.parametrize("typed", [
    "ana", "ANA souza", "souza ana", "ana ana", "an na", "nasta", "joão ana", "anao", "nandu ça",
    "strasse", "luisa sse", "za an", "ana souza nunes", "anasouza", "a s", "zz",
])
def test_a_name_is_found_exactly_when_every_typed_word_is_part_of_it(namesakes, typed: str) -> None:
    words = product_key(typed).split()
    customers = namesakes.customers
    held = [all(word in product_key(name) for word in words) for name in customers["name"]]
    expected = customers[held].sort_values(["last_interaction"], ascending=False, kind="stable")
    assert search(namesakes, typed, limit=None)["id"].tolist() == expected["id"].tolist()


def test_search_gives_the_row_of_the_customer_in_the_frame(data) -> None:
    found = search(data, "Joana")
    assert data.customers.iloc[found["cid"][0]]["id"] == "r4"


# --- Which card opens (lookup) -------------------------------------------------------


@pytest.fixture
def crowd():
    rows = [
        record("a1", JARDINS, "+5511987654321", "Ana Souza", [["Daytona"]], days_ago=5),
        record("a2", LEBLON, "+5521911112222", "Ana Souza Lima", [["Submariner"]], days_ago=1),
        record("a3", JARDINS, "+551133330000", "Ana Paula", [["Cartier Love"]], days_ago=2),
        record("b1", LEBLON, "+5521922223333", "Bruno Dias", [["Aquanaut"]], days_ago=9),
        record("b2", JARDINS, "+5511922223333", "Bruno Dias", [["Calatrava"]], days_ago=3),
        # The same WhatsApp with and without the ninth digit, in one store: one person.
        record("c1", JARDINS, "+551187650000", "Carla Nunes", [["Submariner"]], days_ago=40),
        record("c2", JARDINS, "+5511987650000", "Carla Nunes", [["Daytona"]], days_ago=4),
    ]
    return build(pd.DataFrame(rows))


def test_an_exact_whole_name_opens_its_card_even_among_longer_names(crowd) -> None:
    found = lookup(crowd, "ana  SOUZA")
    assert found.exact
    assert crowd.customers.at[found.opened, "id"] == "a1"
    assert len(found.people) == 2  # "Ana Souza Lima" is still listed


def test_a_partial_name_never_opens_the_most_recent_of_several(crowd) -> None:
    found = lookup(crowd, "ana")
    assert found.opened is None and not found.exact
    assert found.people["id"].tolist() == ["a2", "a3", "a1"]


def test_a_partial_name_that_finds_one_person_opens_it(crowd) -> None:
    assert crowd.customers.at[lookup(crowd, "paula").opened, "id"] == "a3"


def test_the_same_exact_name_in_two_stores_asks_which(crowd) -> None:
    found = lookup(crowd, "Bruno Dias")
    assert found.exact and found.opened is None
    assert set(found.people["store"]) == {JARDINS, LEBLON}


def test_an_exact_phone_opens_its_card(crowd) -> None:
    found = lookup(crowd, "(21) 9 1111-2222")
    assert found.exact and crowd.customers.at[found.opened, "id"] == "a2"


def test_a_partial_phone_with_several_matches_opens_nothing(crowd) -> None:
    found = lookup(crowd, "2222-3333")
    assert found.opened is None
    assert found.people["id"].tolist() == ["b2", "b1"]


def test_two_records_of_one_phone_are_one_person_opened_at_once(crowd) -> None:
    for query in ("Carla", "(11) 9 8765-0000", "+55 11 8765-0000"):
        found = lookup(crowd, query)
        assert len(found.people) == 1, query
        assert crowd.customers.at[found.opened, "id"] == "c2"  # the most recent record
    assert [crowd.customers.at[i, "id"] for i in person_rows(crowd, found.opened)] == ["c1", "c2"]


def test_phone_store_names_the_store_that_holds_a_number(tmp_path) -> None:
    from services.store.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "v.db")
    store.insert_raw([record("x1", LEBLON, "+5521987654321", "Ana", [["Daytona"]])])
    assert phone_store(store, "(21) 8765-4321", [JARDINS, LEBLON]) == LEBLON
    assert phone_store(store, "(21) 8765-4321", [JARDINS]) is None
