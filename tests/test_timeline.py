"""The timeline (SPEC §11): events of a recording and of a sync, trends over time, tier upgrades."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services import insights, timeline, trends, upgrades
from services.interests import Customer, InvalidBatch, apply_event, product_key
from services.timeline import Event, events_between, events_for_batch
from tests.records import frame_of as data_of
from tests.records import raw_record as record

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def kinds_and_products(events: list[Event]) -> list[tuple[str, tuple[str, ...]]]:
    return [(event.kind, event.products) for event in events]


# --- events ------------------------------------------------------------------------------


def test_event_refuses_an_unknown_kind_or_source_in_portuguese():
    with pytest.raises(ValueError, match="Tipo de evento desconhecido: “pedido”"):
        Event("rec1", "Jardins", NOW, "whatsapp", "pedido", ("Submariner",))
    with pytest.raises(ValueError, match="Origem de evento desconhecida: “email”"):
        Event("rec1", "Jardins", NOW, "email", "interesse", ("Submariner",))
    with pytest.raises(ValueError, match="precisa de ao menos um produto"):
        Event("rec1", "Jardins", NOW, "whatsapp", "retorno")


def test_event_keeps_time_in_utc_and_products_as_a_tuple():
    naive = Event("rec1", "Jardins", datetime(2026, 1, 5, 10), "loja", "compra", ["Submariner"], 58900.0)
    assert naive.at == datetime(2026, 1, 5, 10, tzinfo=UTC)
    assert naive.products == ("Submariner",)
    sao_paulo = datetime(2026, 1, 5, 7, tzinfo=ZoneInfo("America/Sao_Paulo"))
    moved = Event("rec1", "Jardins", sao_paulo, "whatsapp", "conversa").at
    assert (moved, moved.tzinfo) == (datetime(2026, 1, 5, 10, tzinfo=UTC), UTC)


# --- a recording: the SPEC §3 journey ------------------------------------------------------

JOURNEY = [
    (["Submariner", "GMT-Master II", "Datejust"], NOW - 120 * DAY),
    (["Anel Diamante", "Cartier Love"], NOW - 113 * DAY),
    (["Nautilus 5711", "Aquanaut", "Calatrava"], NOW - 60 * DAY),
    (["Grand Complications", "Twenty-4", "Golden Ellipse"], NOW - 30 * DAY),
    (["Submariner"], NOW - 2 * DAY),
]


def test_the_journey_gives_one_interesse_per_batch_and_a_retorno_for_the_re_mention():
    customer = None
    seen = []
    for batch, at in JOURNEY:
        seen.append(events_for_batch(customer, batch, at, "whatsapp", "rec1", "Jardins"))
        customer = apply_event(customer or Customer("rec1", "Jardins", "+5511987654321"), batch, at)
    assert [kinds_and_products(events) for events in seen] == [
        [("interesse", ("Submariner", "GMT-Master II", "Datejust"))],
        [("interesse", ("Anel Diamante", "Cartier Love"))],
        [("interesse", ("Nautilus 5711", "Aquanaut", "Calatrava"))],
        [("interesse", ("Grand Complications", "Twenty-4", "Golden Ellipse"))],
        [("retorno", ("Submariner",))],
    ]
    assert seen[-1][0].at == NOW - 2 * DAY
    assert {event.customer_id for events in seen for event in events} == {"rec1"}


def test_a_mixed_batch_splits_into_interesse_and_retorno_with_the_spelling_on_record():
    before = Customer("rec1", "Jardins", "+5511987654321", interests=["Submariner"],
                      interests_all=["Ánel Diamante", "Submariner"])
    events = events_for_batch(before, ["Royal Oak", "anel  diamante", "royal oak"], NOW)
    assert kinds_and_products(events) == [("interesse", ("Royal Oak",)), ("retorno", ("Ánel Diamante",))]
    assert {(e.customer_id, e.store, e.source) for e in events} == {("rec1", "Jardins", "whatsapp")}


def test_an_item_of_interests_missing_from_the_history_is_already_on_record():
    legacy = Customer("rec1", "Jardins", "+5511987654321", interests=["Daytona"])
    assert kinds_and_products(events_for_batch(legacy, ["daytona"], NOW)) == [("retorno", ("Daytona",))]


def test_an_interest_recorded_in_the_store_is_a_visit_too():
    events = events_for_batch(None, ["Submariner"], NOW, "loja", "rec9", "Jardins")
    assert kinds_and_products(events) == [("interesse", ("Submariner",)), ("visita", ("Submariner",))]
    assert {event.source for event in events} == {"loja"}


def test_an_empty_batch_is_refused_like_the_recording_rule():
    with pytest.raises(InvalidBatch):
        events_for_batch(None, [" ", ""], NOW, "whatsapp", "rec1", "Jardins")


# --- a sync --------------------------------------------------------------------------------


def customer(recent: list[str], history: list[str] | None = None, days_ago: float | None = 10) -> Customer:
    last = None if days_ago is None else NOW - days_ago * DAY
    return Customer("rec1", "Jardins", "+5511987654321", interests=list(recent),
                    interests_all=list(recent if history is None else history), last_interaction=last)


def test_a_record_new_to_the_mirror_gives_interesse_at_its_last_interaction():
    after = customer(["Submariner", "Datejust"], days_ago=1)
    events = events_between(None, after, NOW)
    assert kinds_and_products(events) == [("interesse", ("Submariner", "Datejust"))]
    assert events[0].at == NOW - DAY


@pytest.mark.parametrize(
    ("before", "after", "again"),
    [
        (["A", "B", "C", "D", "E"], ["B", "C", "D", "E", "A"], ("A",)),
        (["A", "B", "C"], ["A", "C", "B"], ("B",)),
        (["A", "B", "C"], ["B", "C", "A"], ("A",)),
        (["A", "B", "C", "D", "E"], ["C", "D", "E", "B", "A"], ("B", "A")),
    ],
)
def test_a_re_mention_gives_retorno_for_the_shortest_tail_the_rule_explains(before, after, again):
    events = events_between(customer(before), customer(after, before, days_ago=1), NOW)
    assert kinds_and_products(events) == [("retorno", again)]
    assert events[0].at == NOW - DAY


def test_a_history_item_back_in_interests_is_a_retorno():
    before = customer(["B", "C", "D", "E", "F"], ["A", "B", "C", "D", "E", "F"])
    after = customer(["C", "D", "E", "F", "a"], ["A", "B", "C", "D", "E", "F"], days_ago=1)
    assert kinds_and_products(events_between(before, after, NOW)) == [("retorno", ("A",))]


def test_a_reply_without_products_is_a_conversa():
    before = customer(["Submariner"], days_ago=5)
    events = events_between(before, replace(before, last_interaction=NOW - DAY), NOW)
    assert kinds_and_products(events) == [("conversa", ())]
    assert events[0].at == NOW - DAY


def test_a_record_changed_twice_between_syncs_gives_the_union_at_the_later_time():
    before = customer(["A", "B", "C"], days_ago=9)
    middle = apply_event(before, ["D", "E"], NOW - 5 * DAY)
    after = apply_event(middle, ["A"], NOW - 2 * DAY)
    assert after.interests == ["B", "C", "D", "E", "A"]
    events = events_between(before, after, NOW)
    assert kinds_and_products(events) == [("interesse", ("D", "E")), ("retorno", ("A",))]
    assert {event.at for event in events} == {NOW - 2 * DAY}


def test_nothing_changed_gives_no_event():
    before = customer(["A", "B"], ["Z", "A", "B"])
    assert events_between(before, replace(before), NOW) == []


def test_a_product_change_without_a_new_last_interaction_is_dated_at_the_sync():
    before = customer(["A"], days_ago=3)
    after = replace(before, interests=["A", "B"], interests_all=["A", "B"])
    events = events_between(before, after, NOW)
    assert kinds_and_products(events) == [("interesse", ("B",))]
    assert events[0].at == NOW


def test_an_item_removed_by_hand_is_no_retorno():
    before = customer(["A", "B", "C"])
    assert events_between(before, replace(before, interests=["A", "B"]), NOW) == []


ITEMS = st.lists(st.sampled_from("ABCDEFGH"), max_size=8, unique=True)


@settings(max_examples=200, deadline=None)
@given(
    history=ITEMS, recent_size=st.integers(0, 5),
    batches=st.lists(ITEMS.filter(bool), min_size=1, max_size=3),
)
def test_a_sync_sees_at_most_what_the_recordings_produced(history, recent_size, batches):
    """Interesse: the same; retorno: part of the recordings', and every product new to the front."""
    before = customer(history[len(history) - recent_size:], history, days_ago=30)
    after, produced = before, []
    for i, batch in enumerate(batches):
        produced += events_for_batch(after, batch, NOW - (20 - i) * DAY)
        after = apply_event(after, batch, NOW - (20 - i) * DAY)
    seen = events_between(before, after, NOW)

    def of_kind(events: list[Event], kind: str) -> set[str]:
        return {p for event in events if event.kind == kind for p in event.products}

    assert of_kind(seen, "interesse") == of_kind(produced, "interesse")
    assert of_kind(seen, "retorno") <= of_kind(produced, "retorno")
    if len(batches) == 1:
        new_to_front = (set(batches[0]) & set(after.interests)) - set(before.interests)
        assert new_to_front <= of_kind(seen, "interesse") | of_kind(seen, "retorno")
    assert all(event.at == after.last_interaction for event in seen)


# --- trending over the timeline --------------------------------------------------------------


def asked(customer_id: str, product: str, days_ago: float, kind: str = "interesse",
          store: str = "Jardins") -> Event:
    return Event(customer_id, store, NOW - days_ago * DAY, "whatsapp", kind, (product,))


def trend_events() -> list[Event]:
    events = [asked("old", "Explorer", 150)]  # the timeline starts 150 days ago
    # Nautilus: 6 customers in the 90 days before, 5 in the last 30 (one asked twice; one
    # exactly 30 days ago, which is the window before): (5/30) / (6/90) = 2.5.
    events += [asked(f"n{i}", "Nautilus 5711", 40 + i) for i in range(5)]
    events += [asked("n5", "Nautilus 5711", 30)]
    events += [asked(f"n{i}", "Nautilus 5711", 2 + i, "retorno") for i in range(6, 11)]
    events += [asked("n6", "Nautilus 5711", 1)]
    # Aquanaut: 6 customers in the last 30 days, none before (a visit is not an ask): new.
    events += [asked(f"a{i}", "Aquanaut", 5 + i) for i in range(6)]
    events += [Event("a0", "Jardins", NOW - 60 * DAY, "loja", "visita", ("Aquanaut",))]
    # Golden Ellipse: 4 customers now, 1 before: a ratio of 12 but too few customers;
    # another store's asks do not count.
    events += [asked(f"g{i}", "Golden Ellipse", 3 + i) for i in range(4)]
    events += [asked("g9", "Golden Ellipse", 50), asked("x1", "Golden Ellipse", 4, store="Leblon")]
    # Submariner: 5 now, 12 before: (5/30) / (12/90) = 1.25. Datejust: 5 now, 10 before: exactly 1.5.
    events += [asked(f"s{i}", "Submariner", 4) for i in range(5)]
    events += [asked(f"s{i}", "Submariner", 35 + i) for i in range(5, 17)]
    events += [asked(f"d{i}", "Datejust", 6) for i in range(5)]
    events += [asked(f"d{i}", "Datejust", 80) for i in range(5, 15)]
    # Beyond the 120 days: not counted.
    events += [asked(f"o{i}", "Aquanaut", 130) for i in range(3)]
    return events


def trend_data():
    titles = ["Explorer", "Nautilus 5711", "Aquanaut", "Golden Ellipse", "Submariner", "Datejust"]
    return data_of(record(1, titles), record(2, ["Anel Diamante"]))


def test_trending_over_the_timeline_compares_customers_per_day():
    result = trends.trending(trend_data(), events=timeline.frame_of(trend_events()), now=NOW)
    assert result.mode == "timeline"
    assert result.reason == (
        "linha do tempo de 150 dias: clientes por dia nos últimos 30 dias contra os 90 anteriores"
    )
    products = result.products.set_index("title")
    columns = ["customers_recent", "customers_before", "lift", "trending", "is_new"]
    assert products.loc["Nautilus 5711", columns].tolist() == [5, 6, 2.5, True, False]
    assert products.loc["Datejust", columns].tolist() == [5, 10, 1.5, True, False]
    assert products.loc["Submariner", columns].tolist() == [5, 12, 1.25, False, False]
    assert products.loc["Golden Ellipse", columns].tolist() == [4, 1, 12.0, False, False]
    aquanaut = products.loc["Aquanaut"]
    assert (aquanaut["customers_recent"], aquanaut["customers_before"]) == (6, 0)
    assert bool(aquanaut["is_new"]) and bool(aquanaut["trending"]) and pd.isna(aquanaut["lift"])
    assert "Explorer" not in products.index
    # Trending first, the new one on top; then by lift.
    assert result.products["title"].tolist()[:3] == ["Aquanaut", "Nautilus 5711", "Datejust"]
    assert products.loc["Nautilus 5711", ["recent", "history"]].tolist() == [6, 6]


def test_brands_trend_over_the_timeline_by_their_customers():
    result = trends.trending(trend_data(), events=timeline.frame_of(trend_events()), now=NOW)
    brands = result.brands.set_index("brand")
    # Patek Philippe: 5 + 6 + 4 customers now, 6 + 1 before: (15/30) / (7/90) = 6.43.
    patek = brands.loc["Patek Philippe"]
    assert (patek["customers_recent"], patek["customers_before"]) == (15, 7)
    assert patek["lift"] == pytest.approx(45 / 7)
    assert bool(patek["trending"])
    # Rolex: 10 now, 22 before: 1.36.
    rolex = brands.loc["Rolex", ["customers_recent", "customers_before", "trending"]]
    assert rolex.tolist() == [10, 22, False]
    assert result.readings == [
        "Aquanaut é novidade: 6 clientes nos últimos 30 dias, nenhum nos 90 anteriores",
        "Patek Philippe em alta: 6,4× mais clientes por dia nos últimos 30 dias que nos 90 anteriores",
    ]


def test_a_timeline_shorter_than_120_days_falls_back_to_the_share_ratio_and_says_why():
    recent = [event for event in trend_events() if event.at >= NOW - 100 * DAY]  # from 80 days ago
    result = trends.trending(trend_data(), events=timeline.frame_of(recent), now=NOW)
    assert result.mode == "share"
    assert result.reason == "linha do tempo de 80 dias: menos de 120"
    assert result.products["is_new"].sum() == 0
    since = trends.trending(trend_data(), events=timeline.frame_of(recent), now=NOW, since=NOW - 200 * DAY)
    assert (since.mode, since.span_days) == ("timeline", 200)


def test_without_a_timeline_trending_uses_the_share_ratio():
    result = insights.compute(trend_data()).trending
    assert result.mode == "share"
    assert result.reason.startswith("sem linha do tempo")
    assert trends.trending(trend_data(), events=timeline.empty_frame(), now=NOW).reason.startswith(
        "linha do tempo vazia"
    )
    with_timeline = insights.compute(trend_data(), events=timeline.frame_of(trend_events()), now=NOW)
    assert with_timeline.trending.mode == "timeline"


def test_the_share_threshold_is_halfway_to_the_highest_possible_ratio():
    deep = [record(i, [f"Antigo {j}" for j in range(5)] + [f"Novo {j}" for j in range(5)]) for i in range(5)]
    aquanaut = [record(i, ["Aquanaut"]) for i in range(5, 12)]
    moved_on = [record(12, ["Aquanaut", *(f"Z {j}" for j in range(5))])]
    result = trends.trending(data_of(*deep, *aquanaut, *moved_on))
    # Recent items 25 + 7 + 5 = 37, history items 50 + 7 + 6 = 63: M = 63/37, threshold = 100/74.
    assert result.threshold == pytest.approx(1 + (63 / 37 - 1) / 2)
    products = result.products.set_index("title")
    # Aquanaut: (7/37) / (8/63) = 1.49: under the old fixed 1.5, above this base's threshold.
    assert products.loc["Aquanaut", "lift"] == pytest.approx(441 / 296)
    assert bool(products.loc["Aquanaut", "trending"])
    assert products.loc["Aquanaut", ["customers_recent", "customers_before"]].tolist() == [7, 8]
    assert bool(products.loc["Novo 0", "trending"]) and not bool(products.loc["Z 0", "trending"])
    # Brands have their own M: Patek Philippe 7 recent of 8 gives M = 8/7 and lift 1 < 15/14.
    assert result.brand_threshold == pytest.approx(15 / 14)
    assert not bool(result.brands.set_index("brand").loc["Patek Philippe", "trending"])


def test_a_lift_exactly_at_the_share_threshold_is_trending():
    deep = [record(i, [f"Antigo {j}" for j in range(5)] + [f"Novo {j}" for j in range(5)]) for i in range(6)]
    holders = [record(i, ["Aquanaut"]) for i in range(6, 14)]
    moved_on = [record(i, ["Aquanaut", *(f"Z {i} {j}" for j in range(5))]) for i in (14, 15)]
    result = trends.trending(data_of(*deep, *holders, *moved_on))
    # Recent 30 + 8 + 10 = 48, history 60 + 8 + 12 = 80: threshold 128/96 = 4/3;
    # Aquanaut (8/48) / (10/80) = 4/3 exactly.
    aquanaut = result.products.set_index("title").loc["Aquanaut"]
    assert aquanaut["lift"] == pytest.approx(4 / 3) and result.threshold == pytest.approx(4 / 3)
    assert bool(aquanaut["trending"])


# --- tier upgrades over time ----------------------------------------------------------------


def test_median_days_from_first_brand_to_a_higher_tier():
    data = data_of(
        record(1, ["Carrera", "Submariner", "Nautilus 5711"]),
        record(2, ["Submariner", "Nautilus 5711"]),
        record(3, ["Submariner", "Aquanaut"]),  # the first brand predates the timeline
        record(4, ["Royal Oak", "Nautilus 5711"]),  # starts at the top
        record(5, ["Datejust", "Nautilus 5711"]),
    )
    start = NOW - 100 * DAY
    events = [
        Event("rec1", "Jardins", start, "whatsapp", "interesse", ("Carrera",)),
        Event("rec1", "Jardins", start + 10 * DAY, "whatsapp", "interesse", ("Submariner",)),
        Event("rec1", "Jardins", start + 20 * DAY, "whatsapp", "interesse", ("Nautilus 5711",)),
        Event("rec2", "Jardins", start, "loja", "interesse", ("Submariner",)),
        Event("rec2", "Jardins", start + 30 * DAY, "whatsapp", "interesse", ("Nautilus 5711",)),
        Event("rec3", "Jardins", start + 5 * DAY, "whatsapp", "interesse", ("Aquanaut",)),
        Event("rec4", "Jardins", start, "whatsapp", "interesse", ("Royal Oak", "Nautilus 5711")),
        Event("rec5", "Jardins", start, "whatsapp", "interesse", ("Datejust",)),
        Event("rec5", "Jardins", start + 5 * DAY, "whatsapp", "retorno", ("Nautilus 5711",)),
        Event("rec5", "Jardins", NOW + 5 * DAY, "whatsapp", "conversa"),
    ]
    # rec1 moved up (entry → luxury) after 10 days, rec2 after 30, rec5 after 5: median 10.
    assert upgrades.first_upgrade_days(data, timeline.frame_of(events), NOW) == (10.0, 3)
    assert upgrades.first_upgrade_days(data, timeline.empty_frame()) == (None, 0)


def test_a_move_up_after_now_is_not_counted_until_now_passes_it():
    data = data_of(
        record(1, ["Carrera", "Submariner", "Nautilus 5711"]),
        record(2, ["Submariner", "Nautilus 5711"]),
        record(6, ["Carrera", "Nautilus 5711"]),
    )
    start = NOW - 100 * DAY
    events = timeline.frame_of([
        Event("rec1", "Jardins", start, "whatsapp", "interesse", ("Carrera",)),
        Event("rec1", "Jardins", start + 10 * DAY, "whatsapp", "interesse", ("Submariner",)),
        Event("rec2", "Jardins", start, "loja", "interesse", ("Submariner",)),
        Event("rec6", "Jardins", start + 1 * DAY, "whatsapp", "interesse", ("Carrera",)),
        Event("rec2", "Jardins", start + 30 * DAY, "whatsapp", "interesse", ("Nautilus 5711",)),
        Event("rec6", "Jardins", NOW + 2 * DAY, "whatsapp", "retorno", ("Nautilus 5711",)),
    ])
    # At NOW: rec1 (10 days) and rec2 (30 days); rec6 moves up two days later (101 days).
    assert upgrades.first_upgrade_days(data, events, NOW) == (20.0, 2)
    assert upgrades.first_upgrade_days(data, events) == (30.0, 3)
    assert upgrades.first_upgrade_days(data, events, NOW - 80 * DAY) == (10.0, 1)


def test_event_items_share_keys_across_spellings():
    frame = timeline.frame_of([
        Event("rec1", "Jardins", NOW, "whatsapp", "interesse", ("Ánel Diamante", "Submariner")),
        Event("rec2", "Jardins", NOW, "whatsapp", "retorno", ("anel  diamante",)),
    ])
    rows, keys = timeline.event_items(frame)
    assert rows.tolist() == [0, 0, 1]
    assert list(keys.astype(object)) == [product_key("Anel Diamante"), "submariner", "anel diamante"]
