"""Finding a customer: by phone in any format, or by part of the name."""

from __future__ import annotations

import pandas as pd
import pytest

from services.access import scoped
from services.search import InvalidQuery, SearchIndex, search
from tests.journey import JARDINS, LEBLON, journey_frame


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


def test_search_gives_the_row_of_the_customer_in_the_frame(data) -> None:
    found = search(data, "Joana")
    assert data.customers.iloc[found["cid"][0]]["id"] == "r4"
