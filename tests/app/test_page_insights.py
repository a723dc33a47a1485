"""Insights (AppTest): each reading quotes the figures the services compute, and follows the controls."""

from __future__ import annotations

from pathlib import Path

from apptest_support import NOW, data_of, open_app

from dashboard.format import plain
from services.insights import compute, times, top_pairs
from services.store.sqlite import SqliteStore
from services.wording import percent


def readings(at) -> list[str]:
    return [m.value.removeprefix(":material/lightbulb: **").removesuffix("**")
            for m in at.markdown if m.value.startswith(":material/lightbulb:")]


def computed(db: Path):
    """What the services find for the whole test base, with its timeline, at the pinned clock."""
    return compute(data_of(db), events=SqliteStore(db).events.frame(), now=NOW)


def test_journey_trending_and_cross_selling_readings_match_the_services(db: Path) -> None:
    at = open_app("insights")
    assert not at.exception
    found = computed(db)
    assert found.trending.mode == "timeline"
    first = found.journeys.first_brands.iloc[0]
    hot = found.trending.products[found.trending.products["trending"]].iloc[0]
    pair = found.cross_selling.top.iloc[0]
    shown = readings(at)
    assert plain(f"{percent(first['share'])} começam com {first['brand']}") == shown[0]
    assert plain(f"{hot['title']} em alta: {times(hot['lift'])} mais clientes por dia nos últimos 30 dias "
                 f"({hot['customers_recent']} clientes) que nos 90 anteriores") in shown
    assert any("Pela linha do tempo" in c.value for c in at.caption)
    assert plain(f"{percent(pair['share'])} dos clientes de {pair['a']} também perguntaram por "
                 f"{pair['b']}") == shown[-1]
    assert len(at.get("vega_lite_chart")) == 4


def test_trending_by_brand_and_cross_selling_by_category(db: Path) -> None:
    at = open_app("insights")
    at.segmented_control(key="insights_trending_kind").set_value("brands").run()
    at.segmented_control(key="insights_cross_kind").set_value("categories").run()
    found = computed(db)
    brands = found.trending.brands
    hot = brands[brands["trending"]]
    shown = readings(at)
    if len(hot):
        assert any(r.startswith(plain(f"{hot.iloc[0]['brand']} em alta")) for r in shown)
    else:
        assert any("Nada em alta" in m.value for m in at.markdown)
    pair = top_pairs(found.cross_selling.categories, n=1).iloc[0]
    assert shown[-1] == plain(f"{percent(pair['share'])} dos clientes de {pair['a_label']} também "
                              f"perguntaram por {pair['b_label']}")


def test_raising_the_support_floor_silences_thin_figures(db: Path) -> None:
    at = open_app("insights")
    before = readings(at)
    at.number_input(key="insights_min_customers").set_value(1000).run()
    assert not at.exception
    assert readings(at) != before
    assert any("Nada em alta" in m.value for m in at.markdown)
    assert any("Nenhum par com clientes suficientes" in m.value for m in at.markdown)


def test_without_a_long_enough_timeline_the_page_says_it_uses_the_share_ratio(db: Path) -> None:
    SqliteStore(db).events.clear()
    at = open_app("insights")
    assert not at.exception
    (said,) = [c.value for c in at.caption if "linha do tempo" in c.value]
    assert said.startswith("Sem linha do tempo suficiente") and "parcela" in said
