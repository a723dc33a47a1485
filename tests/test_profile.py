"""The customer card: recent focus, long-term preferences, talking points."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from services.demo import generate
from services.frame import build
from services.interests import DEVELOPING, EARLY, SERIOUS, depth_segment
from services.profile import profile
from services.store.sqlite import SqliteStore
from tests.journey import JARDINS, JOURNEY, NOW, journey_frame, record


@pytest.fixture
def data():
    return journey_frame()


def names(found: pd.DataFrame) -> list[str]:
    return found["name"].tolist()



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
        "Subiu de faixa de preço: de Rolex para Patek Philippe",
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


def test_one_phone_with_and_without_the_ninth_digit_is_one_card_with_both_histories() -> None:
    older = record("old", JARDINS, "+551187650000", "carla nunes",
                   [["Submariner", "GMT-Master II"], ["Cartier Love"]], days_ago=200)
    newer = record("new", JARDINS, "+5511987650000", "", [["Daytona"], ["Submariner"]], days_ago=4)
    frame = build(pd.DataFrame([newer, older]))
    for cid in (0, 1):
        card = profile(frame, cid, NOW)
        # The older record's history, then the newer's; the newer's recent products the most recent.
        assert [i.title for i in card.history] == ["Submariner", "GMT-Master II", "Cartier Love", "Daytona"]
        assert [i.title for i in card.recent] == ["Submariner", "Daytona", "Cartier Love", "GMT-Master II"]
        assert card.records == ("new", "old")
        assert card.phone == "+5511987650000" and card.name == "carla nunes"
        assert card.days_since == 4 and card.depth == 4
        assert "mesmo telefone com e sem o nono dígito" not in card.problems


def test_a_customer_alone_has_one_record(data) -> None:
    assert profile(data, 0, NOW).records == ("r1",)
