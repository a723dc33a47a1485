"""Campaign lists: tiers, filters, left-out reasons, presets and their messages (SPEC §5)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from services.frame import build
from services.interests import iso, record_batch
from services.messages import Templates, render_message
from services.segments import (
    COLUMNS,
    EXCLUSION_REASONS,
    PRESETS,
    CampaignList,
    InvalidSegment,
    Segment,
    build_list,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
_phones = itertools.count(1)

# The user's customer journey (SPEC §3), event by event.
WEEK_1 = ["Submariner", "GMT-Master II", "Datejust"]
WEEK_2 = ["Anel Diamante", "Cartier Love"]
MONTH_2 = ["Nautilus 5711", "Aquanaut", "Calatrava"]
MONTH_3 = ["Grand Complications", "Twenty-4", "Golden Ellipse"]
LATER = ["Submariner"]


def journey(*batches: list[str]) -> dict[str, list[str]]:
    recent: list[str] = []
    history: list[str] = []
    for batch in batches:
        recent, history = record_batch(recent, history, batch)
    return {"interests": recent, "interests_all": history}


AFTER_MONTH_2 = journey(WEEK_1, WEEK_2, MONTH_2)
AFTER_MONTH_3 = journey(WEEK_1, WEEK_2, MONTH_2, MONTH_3)
AFTER_LATER = journey(WEEK_1, WEEK_2, MONTH_2, MONTH_3, LATER)


def days_ago(days: float) -> str:
    return iso(NOW - timedelta(days=days))


def record(id_: str, **fields: object) -> dict[str, object]:
    base = {
        "id": id_, "store": "Loja A", "phone": f"+55119876{next(_phones):05d}", "name": "Ana Souza",
        "interests": [], "interests_all": [], "created_at": "2026-01-01T00:00:00Z",
        "last_interaction": days_ago(30), "opt_out": False,
    }
    return base | fields


def frame(*records: dict[str, object]):
    return build(pd.DataFrame(list(records)))


def rows_by_id(result: CampaignList) -> dict[str, dict[str, object]]:
    return {id_: row for id_, row in zip(result.rows.index, result.rows.to_dict("records"), strict=True)}


# --- The journey's scenarios -------------------------------------------------------


def test_journey_state_before_re_mention_matches_the_spec():
    assert AFTER_MONTH_3["interests"] == [
        "Aquanaut", "Calatrava", "Grand Complications", "Twenty-4", "Golden Ellipse",
    ]
    assert AFTER_LATER["interests"][-1] == "Submariner"
    assert len(AFTER_LATER["interests_all"]) == 11


def test_submariner_three_months_ago_is_secondary_when_back_in_stock():
    data = frame(record("c1", **AFTER_MONTH_3))
    result = build_list(data, PRESETS["estoque"].segment_for(["Submariner"]), NOW)
    row = rows_by_id(result)["c1"]
    assert row["tier"] == "secondary"
    assert row["matched"] == "Submariner"
    assert row["message"] == "Lembra do Submariner? Temos novidades. Ainda tem interesse?"
    assert result.counts == {"primary": 0, "secondary": 1}


def test_submariner_asked_again_makes_the_customer_primary():
    data = frame(record("c1", **AFTER_LATER))
    result = build_list(data, PRESETS["estoque"].segment_for(["Submariner"]), NOW)
    row = rows_by_id(result)["c1"]
    assert row["tier"] == "primary"
    assert row["matched"] == "Submariner"
    assert row["message"] == "O Submariner que você procurou está disponível! Quer agendar visita?"


def test_scope_recent_has_no_secondary_tier():
    data = frame(record("old", **AFTER_MONTH_3), record("hot", **AFTER_LATER))
    result = build_list(data, Segment(("Submariner",), scope="recent"), NOW)
    assert list(result.rows.index) == ["hot"]
    assert result.counts == {"primary": 1, "secondary": 0}


def test_patek_matches_nautilus_through_its_brand():
    data = frame(record("c1", **AFTER_MONTH_2))
    result = build_list(data, Segment(("Patek",), scope="recent"), NOW)
    assert rows_by_id(result)["c1"]["matched"] == "Calatrava, Aquanaut, Nautilus 5711"


def test_joia_matches_anel_diamante_by_category():
    data = frame(record("c1", interests=["Anel Diamante"], interests_all=["Anel Diamante"]),
                 record("c2", interests=["Daytona"], interests_all=["Daytona"]))
    result = build_list(data, Segment(("joia",)), NOW)
    assert list(result.rows.index) == ["c1"]
    assert result.rows.loc["c1", "matched"] == "Anel Diamante"


def test_terms_are_any_of():
    data = frame(record("a", interests=["Daytona"], interests_all=["Daytona"]),
                 record("b", interests=["Tank Must"], interests_all=["Tank Must"]),
                 record("c", interests=["Speedmaster"], interests_all=["Speedmaster"]))
    result = build_list(data, Segment(("rolex", "cartier")), NOW)
    assert sorted(result.rows.index) == ["a", "b"]


def test_matched_lists_recent_matches_first_then_older_history_newest_first():
    data = frame(record("c1", **AFTER_LATER))
    result = build_list(data, Segment(("rolex",)), NOW)
    # Submariner was re-mentioned (newest of interests); GMT and Datejust are only history.
    assert result.rows.loc["c1", "matched"] == "Submariner, Datejust, GMT-Master II"


def test_matched_for_a_primary_includes_history_matches_after_recent_ones():
    data = frame(record("c1", **AFTER_MONTH_3))
    result = build_list(data, Segment(("Patek",)), NOW)
    assert result.rows.loc["c1", "matched"] == (
        "Golden Ellipse, Twenty-4, Grand Complications, Calatrava, Aquanaut, Nautilus 5711"
    )


def test_no_terms_puts_everyone_passing_the_filters_in_primary():
    data = frame(record("a", **AFTER_MONTH_3), record("b"), record("c", **AFTER_MONTH_2))
    result = build_list(data, Segment(), NOW)
    assert result.counts == {"primary": 3, "secondary": 0}
    assert set(result.rows["matched"]) == {""}


# --- Brands ------------------------------------------------------------------------


def test_brands_are_the_history_brands_most_frequent_first():
    data = frame(record("c1", **AFTER_MONTH_3))
    result = build_list(data, Segment(("Submariner",)), NOW)
    # Patek 6 items, Rolex 3, Cartier 1; Anel Diamante has no brand.
    assert result.rows.loc["c1", "brands"] == "Patek Philippe, Rolex, Cartier"


def test_brand_ties_go_to_the_most_recently_asked():
    plain = journey(["Submariner"], ["Speedmaster"])
    again = journey(["Submariner"], ["Speedmaster"], ["Submariner"])
    data = frame(record("plain", **plain), record("again", **again))
    result = build_list(data, Segment(), NOW)
    assert result.rows.loc["plain", "brands"] == "Omega, Rolex"
    # Submariner is first in the history but the newest of interests.
    assert result.rows.loc["again", "brands"] == "Rolex, Omega"


# --- Left out ----------------------------------------------------------------------


def test_each_left_out_reason_is_counted_once_under_the_first_that_applies():
    submariner = {"interests": ["Submariner"], "interests_all": ["Submariner"]}
    data = frame(
        record("optout", opt_out=True, phone="n/d", last_interaction=days_ago(1), **submariner),
        record("nophone", phone="n/d", last_interaction=days_ago(1), **submariner),
        record("talking", last_interaction=days_ago(2), **submariner),
        record("ok", **submariner),
        # Would be left out, but is not on the list anyway: counted nowhere.
        record("nomatch", opt_out=True, interests=["Daytona"], interests_all=["Daytona"]),
        record("shallow", opt_out=True, phone="n/d", last_interaction=days_ago(1),
               interests=["Submariner"], interests_all=["Submariner"]),
    )
    segment = Segment(("Submariner",), max_depth=5)
    result = build_list(data, segment, NOW)
    assert list(result.rows.index) == ["ok"]
    # "shallow" passes the depth filter and every reason applies to it: opted out.
    assert result.excluded == {
        "opted_out": 2, "invalid_phone": 1, "recently_active": 1, "duplicate_phone": 0,
    }
    assert tuple(result.excluded) == EXCLUSION_REASONS


SUBMARINER = {"interests": ["Submariner"], "interests_all": ["Submariner"]}


def test_a_ninth_digit_pair_in_one_store_gives_one_row_and_one_duplicate_phone():
    data = frame(
        record("new", phone="+5511987654321", last_interaction=days_ago(20), **SUBMARINER),
        record("old", phone="+551187654321", last_interaction=days_ago(40), **SUBMARINER),
    )
    result = build_list(data, Segment(("Submariner",)), NOW)
    assert list(result.rows.index) == ["new"]
    assert result.excluded["duplicate_phone"] == 1


def test_an_exact_duplicate_phone_in_one_store_gives_one_row_and_one_duplicate_phone():
    data = frame(
        record("shallow", phone="+5511987654321", **SUBMARINER),
        record("deep", phone="+5511987654321", interests=["Submariner"],
               interests_all=["Datejust", "Submariner"]),
    )
    result = build_list(data, Segment(("Submariner",)), NOW)
    # Same tier and date: the larger depth stays.
    assert list(result.rows.index) == ["deep"]
    assert result.excluded["duplicate_phone"] == 1
    assert result.total == 1 and result.counts == {"primary": 1, "secondary": 0}


def test_the_same_phone_in_two_stores_is_kept_in_each_store_list():
    data = frame(
        record("a", store="Loja A", phone="+5511987654321", **SUBMARINER),
        record("b", store="Loja B", phone="+551187654321", **SUBMARINER),
    )
    both = build_list(data, Segment(("Submariner",)), NOW)
    assert set(both.rows.index) == {"a", "b"}
    assert both.excluded["duplicate_phone"] == 0
    for store, id_ in (("Loja A", "a"), ("Loja B", "b")):
        alone = build_list(data.for_stores([store]), Segment(("Submariner",), stores=(store,)), NOW)
        assert list(alone.rows.index) == [id_]
        assert alone.excluded == dict.fromkeys(EXCLUSION_REASONS, 0)


def test_the_primary_record_wins_over_a_more_recent_secondary_one_with_the_same_phone():
    data = frame(
        record("hot", phone="+5511987654321", last_interaction=days_ago(50), **SUBMARINER),
        record("warm", phone="+551187654321", last_interaction=days_ago(10),
               interests=["Datejust"], interests_all=["Submariner", "Datejust"]),
    )
    result = build_list(data, Segment(("Submariner",), scope="all"), NOW)
    assert list(result.rows.index) == ["hot"]
    assert list(result.rows["tier"]) == ["primary"]
    assert result.excluded["duplicate_phone"] == 1


def test_an_opted_out_duplicate_is_not_counted_as_duplicate_phone_and_does_not_shadow():
    data = frame(
        # The better record by every rank, but opted out: the other one stays.
        record("left", phone="+5511987654321", opt_out=True, last_interaction=days_ago(10),
               **SUBMARINER),
        record("stays", phone="+551187654321", last_interaction=days_ago(60), **SUBMARINER),
    )
    result = build_list(data, Segment(("Submariner",)), NOW)
    assert list(result.rows.index) == ["stays"]
    assert result.excluded == {**dict.fromkeys(EXCLUSION_REASONS, 0), "opted_out": 1}


def test_customers_outside_the_filters_are_not_counted_as_left_out():
    submariner = {"interests": ["Submariner"], "interests_all": ["Submariner"]}
    data = frame(
        record("deep_optout", opt_out=True, **submariner),
        record("ok", **submariner),
    )
    result = build_list(data, Segment(("Submariner",), min_depth=2), NOW)
    assert result.total == 0
    assert sum(result.excluded.values()) == 0


def test_quiet_window_is_n_days_and_zero_turns_it_off():
    submariner = {"interests": ["Submariner"], "interests_all": ["Submariner"]}
    data = frame(
        record("today", last_interaction=days_ago(0.1), **submariner),
        record("almost", last_interaction=days_ago(6.9), **submariner),
        record("week", last_interaction=days_ago(7), **submariner),
    )
    quiet = build_list(data, Segment(("Submariner",)), NOW)
    assert list(quiet.rows.index) == ["week"]
    assert quiet.excluded["recently_active"] == 2
    off = build_list(data, Segment(("Submariner",), quiet_days=0), NOW)
    assert list(off.rows.index) == ["today", "almost", "week"]
    assert off.excluded["recently_active"] == 0


def test_inactive_days_keeps_only_customers_quiet_for_at_least_n_days():
    data = frame(
        record("d59", last_interaction=days_ago(59)),
        record("d60", last_interaction=days_ago(60)),
        record("d200", last_interaction=days_ago(200)),
        record("never", last_interaction=None),
    )
    result = build_list(data, Segment(inactive_days=60), NOW)
    # A customer with no recorded interaction counts as inactive, and sorts last.
    assert list(result.rows.index) == ["d60", "d200", "never"]
    assert pd.isna(result.rows.loc["never", "days_since"])
    assert pd.isna(result.rows.loc["never", "last_interaction"])


def test_no_last_interaction_is_never_inside_the_quiet_window():
    data = frame(record("never", last_interaction=None))
    assert list(build_list(data, Segment(quiet_days=30), NOW).rows.index) == ["never"]


def test_depth_range_is_inclusive_on_history_length():
    def deep(id_: str, n: int) -> dict[str, object]:
        items = [f"Produto {i}" for i in range(n)]
        return record(id_, interests=items[-5:], interests_all=items)

    data = frame(deep("d2", 2), deep("d3", 3), deep("d10", 10), deep("d11", 11))
    result = build_list(data, Segment(min_depth=3, max_depth=10), NOW)
    assert sorted(result.rows.index) == ["d10", "d3"]
    assert dict(result.rows["depth"]) == {"d3": 3, "d10": 10}


def test_legacy_record_is_matched_through_its_repaired_history():
    data = frame(record("c1", interests=["Submariner"], interests_all=["Datejust"]))
    result = build_list(data, Segment(("Submariner",)), NOW)
    assert result.rows.loc["c1", "tier"] == "primary"
    assert result.rows.loc["c1", "depth"] == 2


def test_the_list_covers_every_store_of_the_data_it_is_given():
    data = frame(record("a", store="Loja A"), record("b", store="Loja B"))
    assert build_list(data, Segment(), NOW).total == 2
    only_b = build_list(data.for_stores(["Loja B"]), Segment(stores=("Loja B",)), NOW)
    assert list(only_b.rows.index) == ["b"]
    # The data is already limited to the campaign's stores: no customer is "of another store".
    assert set(only_b.excluded) == set(EXCLUSION_REASONS)
    assert "other_store" not in only_b.excluded


# --- Rows ----------------------------------------------------------------------------


def test_rows_have_exactly_the_spec_columns_and_values():
    data = frame(record("c1", name="maria DA silva", phone="(11) 98765-4321",
                        last_interaction="2026-10-25T15:00:00Z", **AFTER_MONTH_3))
    result = build_list(data, PRESETS["estoque"].segment_for(["Submariner"]), NOW)
    assert tuple(result.rows.columns) == COLUMNS
    assert result.rows.index.name == "id"
    row = result.rows.loc["c1"]
    assert row["name"] == "maria DA silva"
    assert row["phone"] == "+5511987654321"
    assert row["store"] == "Loja A"
    assert row["last_interaction"] == date(2026, 10, 25)
    assert row["days_since"] == 29
    assert row["depth"] == 11


def test_dates_are_shown_in_the_time_zone_of_now():
    from zoneinfo import ZoneInfo

    data = frame(record("c1", last_interaction="2026-10-25T01:30:00Z"))
    sao_paulo = NOW.astimezone(ZoneInfo("America/Sao_Paulo"))
    assert build_list(data, Segment(), NOW).rows.loc["c1", "last_interaction"] == date(2026, 10, 25)
    assert build_list(data, Segment(), sao_paulo).rows.loc["c1", "last_interaction"] == date(2026, 10, 24)


def test_naive_now_is_read_as_utc():
    data = frame(record("c1", last_interaction=days_ago(10)))
    naive = NOW.replace(tzinfo=None)
    assert build_list(data, Segment(), naive).rows.loc["c1", "days_since"] == 10


def test_primary_rows_come_first_then_the_most_recent_interaction():
    rolex_now = {"interests": ["Daytona"], "interests_all": ["Daytona"]}
    rolex_before = {"interests": ["Speedmaster"], "interests_all": ["Daytona", "Speedmaster"]}
    data = frame(
        record("p_old", last_interaction=days_ago(40), **rolex_now),
        record("s_new", last_interaction=days_ago(8), **rolex_before),
        record("p_new", last_interaction=days_ago(10), **rolex_now),
        record("s_old", last_interaction=days_ago(90), **rolex_before),
        record("p_never", last_interaction=None, **rolex_now),
    )
    result = build_list(data, Segment(("rolex",)), NOW)
    assert list(result.rows.index) == ["p_new", "p_old", "p_never", "s_new", "s_old"]
    assert list(result.rows["tier"]) == ["primary"] * 3 + ["secondary"] * 2
    assert list(result.rows["days_since"][:2]) == [10, 40]


def test_an_empty_base_gives_an_empty_list():
    data = build(pd.DataFrame(columns=["id", "store", "phone", "name", "interests", "interests_all",
                                       "created_at", "last_interaction", "opt_out"]))
    result = build_list(data, PRESETS["estoque"].segment_for(["Submariner"]), NOW)
    assert result.total == 0
    assert tuple(result.rows.columns) == COLUMNS
    assert result.counts == {"primary": 0, "secondary": 0}


def test_nobody_matching_gives_an_empty_list():
    data = frame(record("c1", **AFTER_MONTH_3))
    result = build_list(data, Segment(("Daytona",)), NOW)
    assert result.total == 0


# --- Segment validation ------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"quiet_days": -1}, "menor que zero"),
        ({"inactive_days": -5}, "menor que zero"),
        ({"min_depth": -1}, "menor que zero"),
        ({"max_depth": -2}, "menor que zero"),
        ({"min_depth": 5, "max_depth": 3}, "maior que a máxima"),
        ({"scope": "everything"}, "Escopo desconhecido"),
        ({"quiet_days": 1.5}, "inteiro"),
        ({"inactive_days": True}, "inteiro"),
    ],
)
def test_invalid_segments_are_refused_in_portuguese(changes, words):
    with pytest.raises(InvalidSegment, match=words):
        Segment(**changes)


def test_invalid_segment_is_a_value_error():
    assert issubclass(InvalidSegment, ValueError)


def test_segment_cleans_its_terms_and_stores():
    segment = Segment(["  Submariner ", "submariner", "", "Patek"], stores=["Loja A", "Loja A"])
    assert segment.terms == ("Submariner", "Patek")
    assert segment.stores == ("Loja A",)
    assert Segment("Daytona").terms == ("Daytona",)


# --- Presets -------------------------------------------------------------------------


def test_presets_hold_the_spec_defaults_and_messages():
    # The SPEC's messages, with the Portuguese names of their placeholders (SPEC §5).
    assert list(PRESETS) == ["novidade", "estoque", "reengajamento", "marca"]
    available = "O {produto} que você procurou está disponível! Quer agendar visita?"

    novidade = PRESETS["novidade"]
    assert novidade.label == "Chegou novidade"
    assert (novidade.segment.scope, novidade.segment.quiet_days) == ("recent", 7)
    assert novidade.templates == Templates(available, None)
    assert novidade.needs_terms

    estoque = PRESETS["estoque"]
    assert estoque.label == "De volta ao estoque"
    assert (estoque.segment.scope, estoque.segment.quiet_days) == ("all", 7)
    assert estoque.templates == Templates(
        available, "Lembra do {produto}? Temos novidades. Ainda tem interesse?"
    )

    reengajamento = PRESETS["reengajamento"]
    assert reengajamento.label == "Reengajamento"
    assert reengajamento.segment.terms == ()
    assert (reengajamento.segment.inactive_days, reengajamento.segment.min_depth) == (60, 4)
    assert reengajamento.templates.primary == (
        "Vi que você se interessou por {marcas}. Temos novos modelos. Quer conhecer?"
    )
    assert not reengajamento.needs_terms

    marca = PRESETS["marca"]
    assert marca.label == "Fãs da marca"
    assert (marca.segment.scope, marca.segment.inactive_days) == ("all", 60)
    launch = "Novos modelos {marca} chegaram. Gostaria de conhecer?"
    assert marca.templates == Templates(launch, launch)


def test_preset_segment_takes_the_users_terms_and_stores():
    segment = PRESETS["novidade"].segment_for(["Nautilus"], stores=["Loja B"], quiet_days=0)
    assert segment == Segment(("Nautilus",), scope="recent", quiet_days=0, stores=("Loja B",))


def test_new_arrival_preset_reaches_recent_interest_only():
    data = frame(record("old", **AFTER_MONTH_3), record("hot", **AFTER_LATER))
    result = build_list(data, PRESETS["novidade"].segment_for(["Submariner"]), NOW,
                        PRESETS["novidade"].templates)
    assert list(result.rows.index) == ["hot"]
    assert result.rows.loc["hot", "message"] == (
        "O Submariner que você procurou está disponível! Quer agendar visita?"
    )


def test_reengagement_preset_names_the_customers_brands():
    data = frame(
        record("serious", last_interaction=days_ago(90), **AFTER_MONTH_3),
        record("recent", last_interaction=days_ago(20), **AFTER_MONTH_3),
        record("shallow", last_interaction=days_ago(90), interests=["Daytona"], interests_all=["Daytona"]),
    )
    preset = PRESETS["reengajamento"]
    result = build_list(data, preset.segment_for(), NOW, preset.templates)
    assert list(result.rows.index) == ["serious"]
    assert result.rows.loc["serious", "message"] == (
        "Vi que você se interessou por Patek Philippe, Rolex e Cartier. "
        "Temos novos modelos. Quer conhecer?"
    )


def test_reengagement_without_known_brands_still_reads_well():
    jewels = ["Anel Diamante", "Colar de Pérolas", "Brinco de Esmeralda", "Pingente Coração"]
    data = frame(record("c1", last_interaction=days_ago(90), interests=jewels, interests_all=jewels))
    preset = PRESETS["reengajamento"]
    result = build_list(data, preset.segment_for(), NOW, preset.templates)
    assert result.rows.loc["c1", "brands"] == ""
    assert result.rows.loc["c1", "message"] == (
        "Vi que você se interessou. Temos novos modelos. Quer conhecer?"
    )


def test_brand_fans_preset_names_the_brand_of_the_most_recent_match():
    data = frame(
        record("warm", last_interaction=days_ago(61), **AFTER_MONTH_2),
        record("active", last_interaction=days_ago(10), **AFTER_MONTH_2),
    )
    preset = PRESETS["marca"]
    result = build_list(data, preset.segment_for(["Patek"]), NOW, preset.templates)
    assert list(result.rows.index) == ["warm"]
    assert result.rows.loc["warm", "message"] == (
        "Novos modelos Patek Philippe chegaram. Gostaria de conhecer?"
    )


def test_brand_fans_with_a_brandless_jewel_drop_the_brand_cleanly():
    data = frame(record("c1", last_interaction=days_ago(61), interests=["Anel Diamante"],
                        interests_all=["Anel Diamante"]))
    preset = PRESETS["marca"]
    result = build_list(data, preset.segment_for(["joia"]), NOW, preset.templates)
    assert result.rows.loc["c1", "message"] == "Novos modelos chegaram. Gostaria de conhecer?"


def test_default_templates_follow_the_segment():
    data = frame(record("c1", **AFTER_MONTH_3), record("c2", last_interaction=days_ago(90), **AFTER_MONTH_3))
    with_terms = build_list(data, Segment(("Submariner",)), NOW)
    assert with_terms.rows.loc["c1", "message"].startswith("Lembra do Submariner?")
    without = build_list(data, Segment(inactive_days=60), NOW)
    assert without.rows.loc["c2", "message"].startswith("Vi que você se interessou por Patek Philippe")


def test_secondary_rows_use_the_primary_template_when_there_is_no_secondary_one():
    data = frame(record("c1", **AFTER_MONTH_3))
    result = build_list(data, Segment(("Submariner",)), NOW, Templates("Oi {first_name}: {product}."))
    assert result.rows.loc["c1", "message"] == "Oi Ana: Submariner."


def test_list_messages_use_the_customer_names():
    data = frame(
        record("maria", name="maria DA silva", **AFTER_LATER),
        record("anon", name="", **AFTER_LATER),
    )
    templates = Templates("Olá {first_name}, o {product} chegou! ({name}, {store})")
    result = build_list(data, Segment(("Submariner",)), NOW, templates)
    assert result.rows.loc["maria", "message"] == (
        "Olá Maria, o Submariner chegou! (Maria da Silva, Loja A)"
    )
    assert result.rows.loc["anon", "message"] == "Olá, o Submariner chegou! (Loja A)"


def test_quiet_days_zero_also_keeps_a_future_dated_customer():
    data = frame(record("skewed", last_interaction=iso(NOW + timedelta(hours=3))))
    assert build_list(data, Segment(), NOW).excluded["recently_active"] == 1
    result = build_list(data, Segment(quiet_days=0), NOW)
    assert list(result.rows.index) == ["skewed"]
    assert result.rows.loc["skewed", "days_since"] == 0


def test_a_store_scoped_frame_builds_its_own_list():
    data = frame(
        record("a", store="Loja A", **AFTER_LATER),
        record("b", store="Loja B", **AFTER_LATER),
        record("c", store="Loja A", **AFTER_MONTH_3),
    )
    result = build_list(data.for_stores(["Loja A"]), Segment(("Submariner",)), NOW)
    assert list(result.rows.index) == ["a", "c"]
    assert list(result.rows["tier"]) == ["primary", "secondary"]
    assert "other_store" not in result.excluded


# --- Properties against a plain-Python reading of SPEC §5 ------------------------------

TITLES = [
    "Submariner", "GMT-Master II", "Datejust", "Daytona", "Nautilus 5711", "Aquanaut", "Calatrava",
    "Cartier Love", "Tank Must", "Speedmaster Moonwatch", "Anel Diamante", "Colar de Pérolas",
    "Produto Misterioso", "Vintage Alhambra",
]
TERMS = ["rolex", "Patek", "joia", "Submariner", "relogio", "Cartier", "anel", "nada disso"]
PHONES = ["+5511987654321", "+5511987650001", "+5521999990000", "n/d", "", "+44 20 7946 0958",
          "(11) 8765-4321", "+5511912340000"]
NAMES = ["maria DA silva", "", "=HYPERLINK(\"x\")", "joão", "Sr. Pedro Alves", "123"]


def _reference(data, segment, now):
    """SPEC §5 read literally, one customer at a time."""
    from collections import Counter

    from services.catalog import terms_mask
    from services.interests import phone_key, product_key
    from services.segments import E164

    products = data.products
    best: dict[tuple[str, str], tuple[tuple[object, ...], str]] = {}
    hits = set(products.index[terms_mask(list(segment.terms), products)]) if segment.terms else set()
    day = timedelta(days=1)
    rows, excluded = {}, dict.fromkeys(EXCLUSION_REASONS, 0)
    for c in data.customers.itertuples():
        recent = [product_key(item) for item in c.recent]
        history = [product_key(item) for item in c.history]
        if not segment.terms:
            tier = "primary"
        elif any(k in hits for k in recent):
            tier = "primary"
        elif segment.scope == "all" and any(k in hits for k in history):
            tier = "secondary"
        else:
            continue
        age = None if pd.isna(c.last_interaction) else now - c.last_interaction.to_pydatetime()
        if segment.inactive_days is not None and age is not None and age < segment.inactive_days * day:
            continue
        if segment.min_depth is not None and c.depth < segment.min_depth:
            continue
        if segment.max_depth is not None and c.depth > segment.max_depth:
            continue
        if c.opt_out:
            excluded["opted_out"] += 1
        elif not isinstance(c.phone, str) or not E164.match(c.phone):
            excluded["invalid_phone"] += 1
        elif segment.quiet_days and age is not None and age < segment.quiet_days * day:
            excluded["recently_active"] += 1
        else:
            # One row per WhatsApp number of a store: primary, then the most recent
            # interaction, then the deepest history, then the first record.
            stamp = float("inf") if age is None else age.total_seconds()
            rank = (tier != "primary", stamp, -c.depth, c.Index)
            number = (c.store, phone_key(c.phone))
            if number in best:
                excluded["duplicate_phone"] += 1
                if rank >= best[number][0]:
                    continue
                del rows[best[number][1]]
            best[number] = (rank, c.id)
            newest_recent = [k for k in reversed(recent) if k in hits]
            if segment.scope == "all":
                newest_recent += [k for k in reversed(history) if k in hits and k not in recent]
            matched = [products.loc[k, "title"] for k in newest_recent]
            brand_of = {k: products.loc[k, "brand"] for k in history}
            counts = Counter(b for b in brand_of.values() if isinstance(b, str) and b)
            recency = {}
            for pos, k in enumerate(history):
                b = brand_of[k]
                if isinstance(b, str) and b:
                    rank = (1, recent.index(k)) if k in recent else (0, pos)
                    recency[b] = max(recency.get(b, (-1, -1)), rank)
            brands = sorted(counts, key=lambda b: (-counts[b], tuple(-x for x in recency[b])))
            rows[c.id] = (tier, ", ".join(matched), ", ".join(brands))
    return rows, excluded


def _records():
    from hypothesis import strategies as st

    items = st.lists(st.sampled_from(TITLES), max_size=8)
    return st.lists(
        st.fixed_dictionaries({
            "store": st.sampled_from(["Loja A", "Loja B"]),
            "phone": st.sampled_from(PHONES),
            "name": st.sampled_from(NAMES),
            "batches": st.lists(items, max_size=4),
            "age_hours": st.one_of(st.none(), st.integers(-48, 24 * 120)),
            "opt_out": st.booleans(),
        }),
        max_size=14,
    )


def _segments():
    from hypothesis import strategies as st

    depth = st.one_of(st.none(), st.integers(0, 6))
    return st.builds(
        lambda terms, scope, quiet, inactive, low, high, stores: Segment(
            tuple(terms), scope, quiet, inactive,
            min(low, high) if low is not None and high is not None else low,
            max(low, high) if low is not None and high is not None else high,
            tuple(stores),
        ),
        st.lists(st.sampled_from(TERMS), max_size=3),
        st.sampled_from(["recent", "all"]),
        st.integers(0, 14),
        st.one_of(st.none(), st.integers(0, 90)),
        depth, depth,
        st.lists(st.sampled_from(["Loja A", "Loja B"]), max_size=2),
    )


def _frame_of(generated, segment):
    """The generated customers, limited to the segment's stores as every caller does."""
    data = _built(generated)
    return data.for_stores(segment.stores) if segment.stores else data


def _built(generated):
    records = []
    for i, g in enumerate(generated):
        recent, history = [], []
        for batch in g["batches"]:
            if batch:
                recent, history = record_batch(recent, history, batch)
        last = None if g["age_hours"] is None else iso(NOW - timedelta(hours=g["age_hours"]))
        records.append(record(f"c{i}", store=g["store"], phone=g["phone"], name=g["name"],
                              interests=recent, interests_all=history, last_interaction=last,
                              opt_out=g["opt_out"]))
    if not records:
        return build(pd.DataFrame(columns=list(record("x"))))
    return frame(*records)


def test_lists_agree_with_a_plain_reading_of_the_spec():
    from hypothesis import given, settings

    @settings(max_examples=150, deadline=None)
    @given(_records(), _segments())
    def check(generated, segment):
        data = _frame_of(generated, segment)
        result = build_list(data, segment, NOW)
        expected_rows, expected_excluded = _reference(data, segment, NOW)
        assert result.excluded == expected_excluded
        got = {
            id_: (r["tier"], r["matched"], r["brands"])
            for id_, r in zip(result.rows.index, result.rows.to_dict("records"), strict=True)
        }
        assert got == expected_rows
        assert result.counts == {
            "primary": sum(t == "primary" for t, _, _ in got.values()),
            "secondary": sum(t == "secondary" for t, _, _ in got.values()),
        }

    check()


def test_list_invariants_hold_for_any_base():
    from hypothesis import given, settings

    from services.segments import E164

    @settings(max_examples=100, deadline=None)
    @given(_records(), _segments())
    def check(generated, segment):
        data = _frame_of(generated, segment)
        result = build_list(data, segment, NOW)
        table = result.rows
        customers = data.customers.set_index("id")
        assert tuple(table.columns) == COLUMNS
        assert table.index.is_unique  # primary and secondary are disjoint
        assert set(table["tier"]) <= {"primary", "secondary"}
        if segment.scope == "recent" or not segment.terms:
            assert (table["tier"] == "primary").all()
        assert all(E164.match(phone) for phone in table["phone"])
        assert not customers.loc[table.index, "opt_out"].any()
        if segment.stores:
            assert set(table["store"]) <= set(segment.stores)
        tiers = (table["tier"] == "secondary").tolist()
        assert tiers == sorted(tiers)
        for tier in ("primary", "secondary"):
            stamps = customers.loc[table.index[table["tier"] == tier], "last_interaction"]
            known = stamps.dropna().tolist()
            assert known == sorted(known, reverse=True)
            assert stamps.isna().tolist() == sorted(stamps.isna().tolist())
        if segment.quiet_days:
            assert (table["days_since"].dropna() >= segment.quiet_days).all()
        numbers = customers.loc[table.index, ["store", "phone_key"]]
        assert not numbers.duplicated().any()

    check()


def test_list_messages_are_render_message_of_each_row():
    from hypothesis import given, settings

    templates = Templates(
        "Olá {first_name}, o {product} da {brand} chegou! ({name}, {store}) {brands}.",
        "{first_name}, lembra do {product}? Você curte {brands}.",
    )

    @settings(max_examples=60, deadline=None)
    @given(_records(), _segments())
    def check(generated, segment):
        data = _frame_of(generated, segment)
        result = build_list(data, segment, NOW, templates)
        products = data.products.set_index("title")
        for r in result.rows.to_dict("records"):
            product = r["matched"].split(", ")[0] if r["matched"] else ""
            brand = products.loc[product, "brand"] if product else ""
            context = {
                "name": r["name"], "product": product, "brand": brand if isinstance(brand, str) else "",
                "brands": [b for b in r["brands"].split(", ") if b], "store": r["store"],
            }
            expected = render_message(templates.for_tier(r["tier"]), context)
            assert r["message"] == expected
            assert "{" not in r["message"]
            assert "  " not in r["message"]
            assert not any(f" {p}" in r["message"] for p in ",.!?;:")

    check()


def test_brands_are_the_same_when_counted_in_small_blocks(monkeypatch):
    import services.list_columns as list_columns

    data = frame(
        record("a", **AFTER_MONTH_3), record("b", **AFTER_LATER),
        record("c", **journey(["Submariner"], ["Speedmaster"], ["Submariner"])),
        record("d", interests=["Anel Diamante"], interests_all=["Anel Diamante"]),
        record("e", **AFTER_MONTH_2),
    )
    whole = build_list(data, Segment(), NOW).rows
    monkeypatch.setattr(list_columns, "_BRAND_BLOCK_CELLS", 3)
    blocks = build_list(data, Segment(), NOW).rows
    pd.testing.assert_frame_equal(whole, blocks)
    assert blocks.loc["c", "brands"] == "Rolex, Omega"


def test_the_preview_and_the_examples_are_the_rows_of_the_whole_list():
    # Counts and a preview come without rendering the list; they must be the same rows it would hold.
    records = []
    for i in range(30):
        fields = AFTER_LATER if i % 3 == 0 else AFTER_MONTH_3
        records.append(record(f"rec{i:02d}", name=f"Cliente {i:02d}", last_interaction=days_ago(10 + i),
                              **fields))
    data = frame(*records)
    segment = PRESETS["estoque"].segment_for(["Submariner"], quiet_days=0)
    fresh = build_list(data, segment, NOW)
    head = fresh.head(7)
    primary_example, secondary_example = fresh.first_of("primary"), fresh.first_of("secondary")
    whole = build_list(data, segment, NOW).rows
    assert fresh.counts == {"primary": 10, "secondary": 20}
    pd.testing.assert_frame_equal(head, whole.head(7))
    assert primary_example["name"] == whole[whole["tier"] == "primary"].iloc[0]["name"]
    assert secondary_example["name"] == whole[whole["tier"] == "secondary"].iloc[0]["name"]
    assert secondary_example["name"] != primary_example["name"]
