"""Saved campaigns: the control split, outcomes from the timeline, results, readings, links (SPEC §12)."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from services.campaign_results import (
    NO_CLEAR_DIFFERENCE,
    OUTCOME_COLUMNS,
    campaign_results_json,
    funnel,
    outcomes,
    reading,
    results,
)
from services.campaigns import (
    CONTROLE,
    ENVIO,
    Campaign,
    InvalidCampaign,
    Member,
    control_split,
    held_out,
    members_frame,
    product_link,
)
from services.segments import PRIMARY, SECONDARY
from services.stats import newcombe, wilson

JUNE_1 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
STORE = "Vitrine Jardins"
PRIMARY_IDS = [f"rec{i:03d}" for i in range(25)]
SECONDARY_IDS = [f"sec{i:03d}" for i in range(7)]


def campaign(cid: int = 1, sent_at: datetime | None = JUNE_1, terms: tuple[str, ...] = ("Submariner",),
             **changes: object) -> Campaign:
    values: dict[str, object] = dict(
        id=cid, name=f"Campanha {cid}", stores=(STORE,), preset="estoque",
        segment={"terms": list(terms), "scope": "all"},
        templates={PRIMARY: "O {produto} chegou!", SECONDARY: "Lembra do {produto}?"},
        created_by="ana@vitrine.com.br", created_at=JUNE_1 - timedelta(hours=2), sent_at=sent_at,
        control_share=0.1, seed=7, terms=terms,
    )
    values.update(changes)
    return Campaign(**values)  # type: ignore[arg-type]


def members(cid: int, rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    """``(customer_id, tier, group)`` rows as a campaign's members."""
    return members_frame(
        Member(cid, customer, STORE, "+5511988887777", "Maria Silva", tier, group, (), "Olá")
        for customer, tier, group in rows
    )


def event(customer: str, at: datetime, source: str, kind: str, products: tuple[str, ...] = (),
          value: float = math.nan) -> dict[str, object]:
    return {"customer_id": customer, "store": STORE, "at": at, "source": source, "kind": kind,
            "products": list(products), "value_brl": value}


def timeline(*rows: dict[str, object]) -> pd.DataFrame:
    frame = pd.DataFrame(
        list(rows), columns=["customer_id", "store", "at", "source", "kind", "products", "value_brl"]
    )
    frame["at"] = pd.to_datetime(frame["at"], utc=True).dt.as_unit("ns")
    return frame


def row_of(frame: pd.DataFrame, customer: str, cid: int = 1) -> pd.Series:
    found = frame[(frame["customer_id"] == customer) & (frame["campaign_id"] == cid)]
    assert len(found) == 1
    return found.iloc[0]


# --- Control split --------------------------------------------------------------


@pytest.mark.parametrize(("size", "share", "expected"), [
    (25, 0.1, 3),   # 2.5 rounds half up
    (7, 0.1, 1),
    (4, 0.1, 0),
    (5, 0.5, 3),
    (10, 0.15, 2),  # 1.5, whatever 0.15 is in binary
    (10, 0.35, 4),
    (40, 0.0, 0),
])
def test_held_out_is_share_times_tier_rounded_half_up(size: int, share: float, expected: int) -> None:
    assert held_out(size, share) == expected


def test_control_split_holds_out_exactly_its_share_of_each_tier() -> None:
    split = control_split({PRIMARY: PRIMARY_IDS, SECONDARY: SECONDARY_IDS}, 0.1, seed=7)
    assert set(split) == set(PRIMARY_IDS) | set(SECONDARY_IDS)
    assert sum(split[i] == CONTROLE for i in PRIMARY_IDS) == 3
    assert sum(split[i] == CONTROLE for i in SECONDARY_IDS) == 1
    assert set(split.values()) == {ENVIO, CONTROLE}


def test_the_same_seed_and_list_give_the_same_split_in_any_order() -> None:
    first = control_split({PRIMARY: PRIMARY_IDS, SECONDARY: SECONDARY_IDS}, 0.1, seed=7)
    shuffled = PRIMARY_IDS[:]
    random.Random(3).shuffle(shuffled)
    again = control_split({SECONDARY: SECONDARY_IDS[::-1], PRIMARY: shuffled}, 0.1, seed=7)
    assert again == first


def test_a_different_seed_draws_a_different_control_group() -> None:
    held = {
        seed: {i for i, g in control_split({PRIMARY: PRIMARY_IDS}, 0.2, seed).items() if g == CONTROLE}
        for seed in (7, 8)
    }
    assert len(held[7]) == len(held[8]) == 5
    assert held[7] != held[8]


@pytest.mark.parametrize("share", [0.6, -0.1, math.nan, "10%"])
def test_a_control_share_outside_zero_to_half_is_refused_in_portuguese(share: object) -> None:
    with pytest.raises(InvalidCampaign, match="entre 0% e 50%"):
        control_split({PRIMARY: PRIMARY_IDS}, share, seed=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidCampaign):
        campaign(control_share=share)


def test_a_customer_in_both_tiers_is_refused() -> None:
    with pytest.raises(InvalidCampaign, match="mais de uma vez"):
        control_split({PRIMARY: ["a", "b"], SECONDARY: ["b"]}, 0.1, seed=1)


# --- Outcomes inside and outside the window ----------------------------------------


def test_each_outcome_counts_inside_the_window_and_not_outside() -> None:
    c = campaign(terms=("Submariner",))
    crew = members(1, [(cid, PRIMARY, ENVIO) for cid in ("at_send", "day1", "day14", "late", "future")])
    events = timeline(
        # Exactly at sent_at: before the message could be read.
        event("at_send", JUNE_1, "whatsapp", "interesse", ("Submariner",)),
        event("at_send", JUNE_1, "loja", "visita"),
        event("day1", JUNE_1 + timedelta(days=1), "whatsapp", "retorno", ("Submariner Date",)),
        event("day1", JUNE_1 + timedelta(days=2), "loja", "visita"),
        event("day1", JUNE_1 + timedelta(days=3), "loja", "compra", ("Submariner",), 78_900.0),
        # The window's last instant is included...
        event("day14", JUNE_1 + timedelta(days=14), "loja", "compra", ("Datejust",), 61_800.0),
        event("day14", JUNE_1 + timedelta(days=14), "whatsapp", "conversa"),
        # ...the next second is not.
        event("late", JUNE_1 + timedelta(days=14, seconds=1), "whatsapp", "interesse", ("Submariner",)),
        event("late", JUNE_1 + timedelta(days=14, seconds=1), "loja", "compra", ("Submariner",), 5.0),
        # After the reference time: not yet happened, as far as the rule knows.
        event("future", JUNE_1 + timedelta(days=6), "whatsapp", "conversa"),
    )
    frame = outcomes([c], crew, events, window_days=14, now=JUNE_1 + timedelta(days=5) + timedelta(days=9))
    assert list(frame.columns) == list(OUTCOME_COLUMNS)

    def flags(customer: str) -> tuple[bool, bool, bool, bool, float]:
        r = row_of(frame, customer)
        return (bool(r.respondeu), bool(r.perguntou), bool(r.visitou), bool(r.comprou), float(r.revenue_brl))

    assert flags("at_send") == (False, False, False, False, 0.0)
    assert flags("day1") == (True, True, True, True, 78_900.0)
    assert flags("day14") == (True, False, False, True, 61_800.0)
    assert flags("late") == (False, False, False, False, 0.0)
    assert flags("future") == (True, False, False, False, 0.0)
    early = outcomes([c], crew, events, now=JUNE_1 + timedelta(days=5))
    assert not row_of(early, "future").respondeu
    assert not row_of(early, "day14").comprou


def test_perguntou_needs_a_product_the_campaign_terms_match() -> None:
    rolex = campaign(1, terms=("rolex",))
    crew = members(1, [("gmt", PRIMARY, ENVIO), ("love", PRIMARY, ENVIO), ("visit", PRIMARY, ENVIO)])
    day = JUNE_1 + timedelta(days=1)
    events = timeline(
        event("gmt", day, "whatsapp", "interesse", ("Cartier Love", "GMT-Master II")),  # brand of a line
        event("love", day, "whatsapp", "interesse", ("Cartier Love",)),
        event("visit", day, "loja", "visita", ("Submariner",)),  # a visit is not a question
    )
    frame = outcomes([rolex], crew, events)
    assert bool(row_of(frame, "gmt").perguntou)
    assert not row_of(frame, "love").perguntou
    assert bool(row_of(frame, "love").respondeu)
    assert not row_of(frame, "visit").perguntou
    assert bool(row_of(frame, "visit").visitou)


def test_a_re_engagement_campaign_counts_any_question() -> None:
    again = campaign(1, terms=())
    crew = members(1, [("anel", PRIMARY, ENVIO), ("talk", PRIMARY, ENVIO)])
    day = JUNE_1 + timedelta(days=1)
    events = timeline(event("anel", day, "loja", "interesse", ("Anel Diamante",)),
                      event("talk", day, "whatsapp", "conversa"))
    frame = outcomes([again], crew, events)
    assert bool(row_of(frame, "anel").perguntou) and not row_of(frame, "anel").respondeu
    assert not row_of(frame, "talk").perguntou and bool(row_of(frame, "talk").respondeu)


def test_several_purchases_count_once_and_their_values_add_up() -> None:
    crew = members(1, [("buyer", PRIMARY, ENVIO)])
    events = timeline(
        event("buyer", JUNE_1 + timedelta(days=2), "loja", "compra", ("Trinity",), 21_300.0),
        event("buyer", JUNE_1 + timedelta(days=3), "importacao", "compra", ("Tank Must",), 24_800.0),
        event("buyer", JUNE_1 + timedelta(days=4), "loja", "compra", ("Aliança",)),  # value unknown
    )
    r = row_of(outcomes([campaign()], crew, events), "buyer")
    assert bool(r.comprou)
    assert r.revenue_brl == pytest.approx(46_100.0)
    assert not r.respondeu


def test_an_event_counts_for_the_last_campaign_the_customer_was_in() -> None:
    june_5 = JUNE_1 + timedelta(days=4)
    first, second = campaign(1, sent_at=JUNE_1), campaign(2, sent_at=june_5)
    crew = pd.concat([
        members(1, [("both", PRIMARY, ENVIO), ("only_first", PRIMARY, ENVIO)]),
        members(2, [("both", SECONDARY, CONTROLE)]),
    ])
    events = timeline(
        event("both", JUNE_1 + timedelta(days=2), "loja", "visita"),  # before the second was sent
        event("both", june_5, "loja", "compra", ("Trinity",), 100.0),  # as the second was being sent
        event("both", june_5 + timedelta(days=2), "whatsapp", "conversa"),  # inside both windows
        event("only_first", june_5 + timedelta(days=2), "loja", "compra", ("Trinity",), 21_300.0),
    )
    frame = outcomes([first, second], crew, events)
    assert len(frame) == 3
    both_first, both_second = row_of(frame, "both", 1), row_of(frame, "both", 2)
    assert (bool(both_first.visitou), bool(both_first.respondeu)) == (True, False)
    assert (bool(both_second.visitou), bool(both_second.respondeu)) == (False, True)
    assert (both_first.revenue_brl, both_second.revenue_brl) == (100.0, 0.0)
    assert both_second.group == CONTROLE
    # The second campaign did not include this customer: the first keeps the purchase.
    assert row_of(frame, "only_first", 1).revenue_brl == 21_300.0


def test_a_campaign_not_yet_sent_has_members_and_no_outcomes() -> None:
    crew = members(1, [("x", PRIMARY, ENVIO)])
    events = timeline(event("x", JUNE_1 + timedelta(days=1), "whatsapp", "conversa"))
    frame = outcomes([campaign(sent_at=None)], crew, events)
    assert len(frame) == 1
    assert not frame[["respondeu", "perguntou", "visitou", "comprou"]].to_numpy().any()


# --- Results, JSON, reading, funnel ---------------------------------------------------


def outcome_rows(cid: int, tier: str, group: str, n: int, replied: int, bought: int = 0) -> list[dict]:
    return [
        {"campaign_id": cid, "customer_id": f"{cid}-{tier}-{group}-{i}", "store": STORE, "tier": tier,
         "group": group, "respondeu": i < replied, "perguntou": False, "visitou": i < bought,
         "comprou": i < bought, "revenue_brl": 1_000.0 if i < bought else 0.0}
        for i in range(n)
    ]


def test_results_give_rates_with_wilson_and_the_lift_over_control_with_newcombe() -> None:
    frame = pd.DataFrame(outcome_rows(1, PRIMARY, ENVIO, 20, replied=5, bought=2)
                         + outcome_rows(1, PRIMARY, CONTROLE, 10, replied=1)
                         + outcome_rows(2, PRIMARY, ENVIO, 50, replied=50))
    got = results(campaign(1), frame)
    sent = got[PRIMARY][ENVIO]
    assert (sent["members"], sent["respondeu"], sent["comprou"], sent["revenue_brl"]) == (20, 5, 2, 2_000.0)
    assert sent["rates"]["respondeu"].rate == 0.25
    assert tuple(sent["rates"]["respondeu"])[1:] == wilson(5, 20)
    assert tuple(got[PRIMARY]["lift"]["respondeu"]) == newcombe(5, 20, 1, 10)
    assert got[PRIMARY]["lift"]["respondeu"].diff == pytest.approx(0.15)
    empty = got[SECONDARY][ENVIO]
    assert empty["members"] == 0 and empty["rates"]["respondeu"].rate is None
    assert got[SECONDARY]["lift"]["respondeu"] is None


def test_results_json_has_exactly_the_agreed_keys() -> None:
    frame = pd.DataFrame(outcome_rows(1, PRIMARY, ENVIO, 4, replied=1, bought=1))
    data = campaign_results_json(campaign(1), frame, window_days=14)
    assert set(data) == {"id", "name", "sent_at", "window_days", "tiers"}
    assert set(data["tiers"]) == {"primary", "secondary"}
    for tier in data["tiers"].values():
        assert set(tier) == {"envio", "controle"}
        for group in tier.values():
            assert set(group) == {"members", "respondeu", "perguntou", "visitou", "comprou", "revenue_brl"}
    assert data["tiers"]["primary"]["envio"] == {
        "members": 4, "respondeu": 1, "perguntou": 0, "visitou": 1, "comprou": 1, "revenue_brl": 1_000.0,
    }
    assert (data["id"], data["sent_at"], data["window_days"]) == (1, "2025-06-01T12:00:00+00:00", 14)


def test_reading_claims_a_ratio_only_when_the_intervals_do_not_overlap() -> None:
    said = reading("principal", 0.42, (0.36, 0.48), "secundário", 0.20, (0.15, 0.25), "respondeu")
    assert said == "principal respondeu 2,1× mais que secundário"
    # The higher rate leads, whichever side it was given on.
    assert reading("secundário", 0.20, (0.15, 0.25), "principal", 0.42, (0.36, 0.48), "respondeu") == said
    assert reading("principal", 0.30, (0.20, 0.40), "secundário", 0.25, (0.35, 0.45), "respondeu") \
        == NO_CLEAR_DIFFERENCE == "ainda sem diferença clara"
    no_members = reading("principal", 0.3, (0.2, 0.4), "secundário", None, (0.0, 1.0), "comprou")
    assert no_members == NO_CLEAR_DIFFERENCE
    assert reading("principal", 0.12, (0.08, 0.17), "secundário", 0.0, (0.0, 0.03), "comprou") \
        == "principal comprou mais que secundário (12,0% contra 0%)"
    # Huge lists can separate rates whose ratio rounds to 1,0×: the gap is then told in points.
    assert reading("principal", 0.512, (0.510, 0.514), "secundário", 0.503, (0.501, 0.505), "visitou") \
        == "principal visitou 0,9 p.p. mais que secundário"


def test_funnel_compares_primary_and_secondary_of_the_sent_groups_of_the_period() -> None:
    frame = pd.DataFrame(outcome_rows(1, PRIMARY, ENVIO, 10, replied=4, bought=1)
                         + outcome_rows(1, PRIMARY, CONTROLE, 10, replied=10)
                         + outcome_rows(1, SECONDARY, ENVIO, 20, replied=2)
                         + outcome_rows(9, SECONDARY, ENVIO, 5, replied=5))
    chart = funnel([campaign(1)], frame)
    assert list(chart.columns) == ["tier", "tier_label", "outcome", "step", "members", "count", "rate",
                                   "low", "high"]
    by = chart.set_index(["tier", "outcome"])
    assert by.loc[(PRIMARY, "respondeu"), ["members", "count", "rate"]].tolist() == [10, 4, 0.4]
    assert by.loc[(PRIMARY, "comprou"), "count"] == 1
    assert by.loc[(SECONDARY, "respondeu"), ["members", "count"]].tolist() == [20, 2]
    assert chart["tier_label"].tolist()[:1] == ["principal"]
    assert chart["step"].tolist() == [0, 1, 2, 0, 1, 2]


# --- Product links ------------------------------------------------------------------


def test_product_link_uses_the_base_url_and_the_key_and_tags_campaign_and_tier() -> None:
    link = product_link("Nautilus 5711", "nautilus 5711", None, "https://loja.example.com/produtos/",
                        "Fãs da marca — Junho", SECONDARY)
    assert link == (
        "https://loja.example.com/produtos/nautilus-5711?utm_source=whatsapp&utm_medium=vitrine"
        "&utm_campaign=fas-da-marca-junho&utm_content=secondary"
    )


def test_product_link_keeps_the_page_own_query_and_replaces_old_tags() -> None:
    link = product_link("Submariner", "submariner", "https://loja.example.com/p?id=42&utm_source=ig#fotos",
                        None, "Junho", PRIMARY)
    assert link == (
        "https://loja.example.com/p?id=42&utm_source=whatsapp&utm_medium=vitrine"
        "&utm_campaign=junho&utm_content=primary#fotos"
    )


@pytest.mark.parametrize(("url", "base"), [(None, None), ("javascript:alert(1)", None), ("", "")])
def test_no_page_means_no_link(url: str | None, base: str | None) -> None:
    assert product_link("Submariner", "submariner", url, base, "Junho", PRIMARY) is None


def test_a_categorical_timeline_gives_the_same_outcomes() -> None:
    crew = members(1, [("a", PRIMARY, ENVIO), ("b", SECONDARY, CONTROLE), ("c", PRIMARY, ENVIO)])
    events = timeline(
        event("a", JUNE_1 + timedelta(days=1), "whatsapp", "interesse", ("Submariner",)),
        event("b", JUNE_1 + timedelta(days=2), "loja", "compra", ("Datejust",), 61_800.0),
        event("zz", JUNE_1 + timedelta(days=2), "loja", "visita"),  # not a member
    )
    plain = outcomes([campaign()], crew, events)
    categorical = events.astype({column: "category" for column in ("customer_id", "source", "kind")})
    coded = outcomes([campaign()], crew, categorical)
    pd.testing.assert_frame_equal(plain, coded)
    assert plain["respondeu"].tolist() == [True, False, False]
    assert plain["revenue_brl"].tolist() == [0.0, 61_800.0, 0.0]


def test_of_two_campaigns_sent_at_the_same_moment_the_later_given_takes_the_event() -> None:
    crew = pd.concat([members(1, [("x", PRIMARY, ENVIO)]), members(2, [("x", PRIMARY, ENVIO)])])
    events = timeline(event("x", JUNE_1 + timedelta(days=1), "loja", "visita"))
    frame = outcomes([campaign(1), campaign(2)], crew, events)
    assert (bool(row_of(frame, "x", 1).visitou), bool(row_of(frame, "x", 2).visitou)) == (False, True)
