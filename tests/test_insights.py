"""Journeys, trending and cross-selling (SPEC §7), with figures worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from services import insights, tally
from services.frame import CustomerData
from tests.records import frame_of as data_of
from tests.records import raw_record as record

ROLEX = ["Submariner", "Datejust", "Daytona", "Explorer", "GMT-Master II"]
PATEK = ["Nautilus 5711", "Aquanaut", "Calatrava", "Twenty-4", "Golden Ellipse"]






# --- journeys ------------------------------------------------------------------


def journey_records():
    return [
        record(1, ["Carrera", "Submariner", "Datejust", "Nautilus 5711"]),
        record(2, ["Submariner", "GMT-Master II", "Anel Diamante", "Datejust", "Nautilus 5711"]),
        record(3, ["Datejust", "Cartier Love"]),
        record(4, ["Royal Oak", "Submariner"]),
        record(5, ["Anel Diamante"]),
        record(6, ["Submariner"]),
    ]


def journey_data():
    return data_of(*journey_records())


def test_brand_path_collapses_repeats_and_skips_unknown_brands():
    paths = insights.brand_paths(journey_data())
    by_customer = paths.groupby("cid")["brand"].agg(list).to_dict()
    assert by_customer == {
        0: ["TAG Heuer", "Rolex", "Patek Philippe"],
        1: ["Rolex", "Patek Philippe"],
        2: ["Rolex", "Cartier"],
        3: ["Audemars Piguet", "Rolex"],
        5: ["Rolex"],
    }
    assert paths[paths["cid"] == 0]["step"].tolist() == [0, 1, 2]
    assert paths[paths["cid"] == 0]["tier"].tolist() == ["entry", "luxury", "haute horlogerie"]


def test_first_brand_shares_among_customers_with_a_branded_item():
    result = insights.journeys(journey_data())
    assert result.branded_customers == 5
    first = result.first_brands.set_index("brand")
    assert first["customers"].to_dict() == {"Rolex": 3, "Audemars Piguet": 1, "TAG Heuer": 1}
    assert first.loc["Rolex", "share"] == pytest.approx(0.6)
    assert result.first_brands["brand"].iloc[0] == "Rolex"


def test_upgrade_rolex_to_patek_counts_rolex_starters_only():
    result = insights.journeys(journey_data())
    upgrades = result.brand_upgrades.set_index(["from_brand", "to_brand"])
    # Customer 1 reaches Patek too, but started with TAG Heuer.
    assert upgrades.loc[("Rolex", "Patek Philippe"), "starters"] == 3
    assert upgrades.loc[("Rolex", "Patek Philippe"), "customers"] == 1
    assert upgrades.loc[("Rolex", "Patek Philippe"), "share"] == pytest.approx(1 / 3)
    assert upgrades.loc[("TAG Heuer", "Rolex"), "share"] == 1.0
    assert upgrades.loc[("TAG Heuer", "Patek Philippe"), "share"] == 1.0
    # Same tier (Rolex → Cartier) and downward (Audemars Piguet → Rolex) are no upgrades.
    assert ("Rolex", "Cartier") not in upgrades.index
    assert ("Audemars Piguet", "Rolex") not in upgrades.index


def test_overall_and_tier_upgrades():
    result = insights.journeys(journey_data())
    # Starters below haute: TAG (1) + Rolex (3); upgraded: customers 1 and 2.
    assert (result.upgrade_starters, result.upgraded) == (4, 2)
    assert result.upgrade_share == 0.5
    tiers = result.tier_upgrades.set_index(["from_tier", "to_tier"])
    assert tiers.loc[("entry", "luxury"), ["starters", "customers"]].tolist() == [1, 1]
    assert tiers.loc[("entry", "haute horlogerie"), ["starters", "customers"]].tolist() == [1, 1]
    assert tiers.loc[("luxury", "haute horlogerie"), ["starters", "customers"]].tolist() == [3, 1]
    assert tiers.loc[("luxury", "haute horlogerie"), "to_label"] == "alta relojoaria"


def test_journey_readings_quote_the_figures_in_portuguese():
    result = insights.journeys(journey_data(), min_customers=3)
    assert result.readings == [
        "60% começam com Rolex",
        "50% pediram depois uma marca de faixa de preço superior",
        "33% dos que começaram com Rolex passaram para Patek Philippe",
    ]


def test_fifteen_percent_moved_from_rolex_to_patek():
    movers = [record(i, ["Submariner", "Nautilus 5711"]) for i in range(3)]
    stayers = [record(i, ["Datejust"]) for i in range(3, 20)]
    result = insights.journeys(data_of(*movers, *stayers))
    assert "15% dos que começaram com Rolex passaram para Patek Philippe" in result.readings
    assert "100% começam com Rolex" in result.readings


def test_readings_need_enough_customers():
    # 5 branded customers, but only 4 who could move up and 3 Rolex starters.
    result = insights.journeys(journey_data())
    assert result.readings == ["60% começam com Rolex"]


# --- trending ------------------------------------------------------------------


def trending_data():
    deep = [record(i, [*ROLEX, *PATEK], PATEK) for i in range(1, 5)]
    fifth = record(5, [*ROLEX, *PATEK[:4], "Royal Oak"], [*PATEK[:4], "Royal Oak"])
    return data_of(*deep, fifth)


def test_trending_lift_is_recent_share_over_history_share():
    products = insights.trending(trending_data()).products.set_index("title")
    # 25 recent items, 50 history items: Nautilus 5/25 against 5/50.
    nautilus = products.loc["Nautilus 5711"]
    assert nautilus[["recent", "history", "customers"]].tolist() == [5, 5, 5]
    assert nautilus["recent_share"] == pytest.approx(0.2)
    assert nautilus["history_share"] == pytest.approx(0.1)
    assert nautilus["lift"] == 2.0
    assert bool(nautilus["trending"]) is True
    assert products.loc["Submariner", "lift"] == 0.0


def test_trending_needs_five_customers():
    products = insights.trending(trending_data()).products.set_index("title")
    golden = products.loc["Golden Ellipse"]
    assert (golden["lift"], golden["customers"]) == (2.0, 4)
    assert bool(golden["trending"]) is False
    assert bool(products.loc["Royal Oak", "trending"]) is False


def test_trending_brands_and_order_by_lift():
    result = insights.trending(trending_data())
    brands = result.brands.set_index("brand")
    assert brands.loc["Patek Philippe", ["recent", "history", "customers"]].tolist() == [24, 24, 5]
    assert brands.loc["Patek Philippe", "lift"] == 2.0
    assert bool(brands.loc["Patek Philippe", "trending"]) is True
    assert bool(brands.loc["Audemars Piguet", "trending"]) is False
    assert brands.loc["Rolex", "lift"] == 0.0
    assert result.products["lift"].is_monotonic_decreasing
    assert result.brands["brand"].tolist()[-1] == "Rolex"


def test_lift_of_exactly_one_and_a_half_is_trending():
    deep = [
        record(i, [f"Antigo {j}" for j in range(5)] + ["Nautilus 5711"] + [f"Novo {j}" for j in range(4)])
        for i in range(5)
    ]
    shallow = [record(i, [f"Outro {i}-{j}" for j in range(5)]) for i in range(5, 10)]
    products = insights.trending(data_of(*deep, *shallow)).products.set_index("title")
    # History 50 + 25 = 75 items, recent 25 + 25 = 50: lift = (5/50) / (5/75) = 1.5.
    assert products.loc["Nautilus 5711", "lift"] == 1.5
    assert bool(products.loc["Nautilus 5711", "trending"]) is True


def test_trending_reading_uses_comma_decimal():
    result = insights.trending(trending_data())
    assert result.readings == [
        "Aquanaut em alta: 2,0× mais presente nos interesses recentes",
        "Patek Philippe em alta: 2,0× mais presente nos interesses recentes",
    ]


# --- cross-selling -------------------------------------------------------------


def cross_records(first=1):
    return [
        record(first, ["Submariner", "Cartier Love"]),
        record(first + 1, ["Datejust", "Trinity"]),
        record(first + 2, ["Daytona", "Anel Diamante", "Produto X"]),
        record(first + 3, ["Daytona", "Nautilus 5711"]),
        record(first + 4, ["Cartier Love"]),
    ]


def cross_data():
    return data_of(*cross_records())


def test_cross_selling_share_is_asymmetric():
    pairs = insights.cross_selling(cross_data()).brands.set_index(["a", "b"])
    assert pairs.loc[("Rolex", "Cartier"), ["a_customers", "b_customers", "both"]].tolist() == [4, 3, 2]
    assert pairs.loc[("Rolex", "Cartier"), "share"] == 0.5
    assert pairs.loc[("Cartier", "Rolex"), "share"] == pytest.approx(2 / 3)
    assert pairs.loc[("Patek Philippe", "Rolex"), "share"] == 1.0
    assert pairs.loc[("Rolex", "Patek Philippe"), "share"] == 0.25
    # A full grid for the heatmap: pairs never asked together show 0.
    assert pairs.loc[("Cartier", "Patek Philippe"), "both"] == 0
    assert len(pairs) == 3 * 2


def test_category_pairs_include_unbranded_jewelry_and_skip_unknown():
    pairs = insights.cross_selling(cross_data()).categories.set_index(["a", "b"])
    assert sorted(pairs.index) == [("jewelry", "watch"), ("watch", "jewelry")]
    watch_jewelry = pairs.loc[("watch", "jewelry")]
    assert watch_jewelry[["a_customers", "b_customers", "both"]].tolist() == [4, 4, 3]
    assert watch_jewelry["share"] == 0.75
    assert (watch_jewelry["a_label"], watch_jewelry["b_label"]) == ("relógio", "joia")


def test_top_pairs_and_readings_respect_the_support_floor():
    result = insights.cross_selling(cross_data(), min_customers=3)
    assert list(zip(result.top["a"], result.top["b"], strict=True)) == [
        ("Cartier", "Rolex"), ("Rolex", "Cartier"), ("Rolex", "Patek Philippe"),
    ]
    assert result.readings == [
        "67% dos clientes de Cartier também perguntaram por Rolex",
        "75% dos clientes de joias também perguntaram por relógios",
    ]


def test_sixty_percent_of_rolex_customers_also_asked_about_cartier():
    both = [record(i, ["Submariner", "Cartier Love"]) for i in range(3)]
    rolex_only = [record(i, ["Datejust"]) for i in range(3, 5)]
    result = insights.cross_selling(data_of(*both, *rolex_only))
    assert result.readings[0] == "60% dos clientes de Rolex também perguntaram por Cartier"


# --- all together, numbers, edges ----------------------------------------------


def test_compute_bundles_every_reading():
    result = insights.compute(journey_data(), min_customers=3)
    assert result.readings[:3] == result.journeys.readings
    assert result.readings == [
        *result.journeys.readings, *result.trending.readings, *result.cross_selling.readings,
    ]


def test_no_customers_gives_empty_frames():
    data = journey_data().for_stores([])
    result = insights.compute(data)
    assert insights.brand_paths(data).empty
    assert result.journeys.first_brands.empty
    assert result.journeys.upgrade_share is None
    assert result.trending.products.empty
    assert result.cross_selling.brands.empty
    assert result.readings == []


def test_customers_without_history_give_empty_frames():
    result = insights.compute(data_of(record(1, []), record(2, [])))
    assert result.journeys.branded_customers == 0
    assert result.trending.brands.empty
    assert result.cross_selling.categories.empty


def test_times_uses_comma_decimal():
    assert insights.times(2.06) == "2,1×"
    assert insights.times(1.5) == "1,5×"


def assert_same_figures(one: insights.Insights, other: insights.Insights) -> None:
    for mine, theirs in (
        (one.journeys.first_brands, other.journeys.first_brands),
        (one.journeys.tier_upgrades, other.journeys.tier_upgrades),
        (one.journeys.brand_upgrades, other.journeys.brand_upgrades),
        (one.trending.products, other.trending.products),
        (one.trending.brands, other.trending.brands),
        (one.cross_selling.brands, other.cross_selling.brands),
        (one.cross_selling.categories, other.cross_selling.categories),
    ):
        pd.testing.assert_frame_equal(mine, theirs)
    assert one.journeys.upgraded == other.journeys.upgraded
    assert one.readings == other.readings


@pytest.mark.parametrize("limits", [{"MASK_BITS": 0}, {"MASK_BITS": 0, "DENSE_LIMIT": 0}])
def test_many_brands_count_from_the_items_with_the_same_figures(monkeypatch, limits):
    data = data_of(*journey_records(), *cross_records(first=10))
    by_sets = insights.compute(data, min_customers=1)
    assert by_sets.journeys.upgraded and len(by_sets.cross_selling.top)
    for name, value in limits.items():
        monkeypatch.setattr(tally, name, value)
    assert tally.value_sets(data, "brand") is None
    assert_same_figures(by_sets, insights.compute(data, min_customers=1))


def test_history_in_any_row_order_gives_the_same_figures():
    data = data_of(*journey_records(), *cross_records(first=10))
    history = data.history_items.iloc[::-1].reset_index(drop=True)
    shuffled = CustomerData(data.customers, data.recent_items, history, data.products)
    assert not tally.history_in_order(shuffled)
    assert_same_figures(insights.compute(data, min_customers=1), insights.compute(shuffled, min_customers=1))
    pd.testing.assert_frame_equal(insights.brand_paths(data), insights.brand_paths(shuffled))

