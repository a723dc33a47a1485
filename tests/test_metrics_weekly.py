"""Coverage, recency and depth week by week, as the base stood then, from the timeline (SPEC §6, §11)."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services import metrics, timeline
from services.frame import CustomerData
from services.interests import iso, product_key
from services.timeline import Event
from services.weekly import TOTAL, weekly_metrics
from tests.records import frame_of as data_of
from tests.records import raw_record as record

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
COLUMNS = ["customers", "covered", "coverage", "recency_days", "recency_median_days", "depth"]


def at(days_ago: float) -> datetime:
    return NOW - days_ago * DAY


def customer(n: int, history: list[str], created: float | None, last: float | None,
             store: str = "Jardins") -> dict[str, object]:
    return record(n, history, store=store, created_at=None if created is None else iso(at(created)),
                  last_interaction=None if last is None else iso(at(last)))


def hand_data() -> tuple[CustomerData, list[Event]]:
    data = data_of(
        customer(1, ["A", "B"], created=50, last=1),
        customer(2, ["C"], created=11, last=11),  # joined between the first two week ends; C undated
        customer(3, ["D"], created=None, last=8, store="Leblon"),  # joins with its first event
        customer(4, [], created=60, last=None),  # never covered
        customer(5, ["E"], created=60, last=None),  # covered, recency unknown
    )
    events = [
        Event("rec1", "Jardins", at(40), "whatsapp", "interesse", ("A",)),
        Event("rec1", "Jardins", at(9), "whatsapp", "interesse", ("b",)),
        Event("rec1", "Jardins", at(1), "whatsapp", "conversa"),
        Event("rec3", "Leblon", at(8), "loja", "interesse", ("D",)),
        Event("rec5", "Jardins", at(3), "importacao", "compra", ("E",), 12_000.0),
    ]
    return data, events


def test_three_week_ends_rebuilt_by_hand():
    data, events = hand_data()
    weekly = weekly_metrics(data, timeline.frame_of(events), NOW, weeks=3)
    total = weekly[weekly["store"] == TOTAL].reset_index(drop=True)
    assert total["week_end"].tolist() == [pd.Timestamp(at(14)), pd.Timestamp(at(7)), pd.Timestamp(NOW)]
    # 14 days ago: customers 1, 4, 5; covered 1 (A only) and 5 (undated E); recency of 1 alone: 40 - 14.
    # 7 days ago: everyone; covered 1, 2, 3, 5; recency 9-7, 11-7, 8-7; depth (2 + 1 + 1 + 1) / 4.
    # now: recency 1, 11, 8 (the import is not a contact).
    expected = [
        [3, 2, 2 / 3, 26.0, 26.0, 1.0],
        [5, 4, 0.8, 7 / 3, 2.0, 1.25],
        [5, 4, 0.8, 20 / 3, 8.0, 1.25],
    ]
    assert total[COLUMNS].to_numpy().ravel().tolist() == pytest.approx(sum(expected, []))
    assert not total["before_timeline"].any()


def test_the_last_week_end_is_the_base_as_it_stands():
    data, events = hand_data()
    weekly = weekly_metrics(data, timeline.frame_of(events), NOW, weeks=3)
    today = metrics.compute(data, NOW)
    last = weekly[weekly["store"] == TOTAL].iloc[-1]
    assert (last["coverage"], last["depth"]) == (today.total.coverage, today.total.depth)
    assert last["recency_days"] == pytest.approx(today.total.recency_days)
    assert last["recency_median_days"] == pytest.approx(today.total.recency_median_days)


def test_per_store_rows_and_the_timeline_start():
    data, events = hand_data()
    weekly = weekly_metrics(data, timeline.frame_of(events), NOW, weeks=3, first_sync=at(10))
    leblon = weekly[weekly["store"] == "Leblon"]
    assert leblon["customers"].tolist() == [0, 1, 1]
    assert leblon["coverage"].isna().tolist() == [True, False, False]
    assert leblon["recency_days"].tolist()[1:] == pytest.approx([1.0, 8.0])
    assert weekly["store"].unique().tolist() == ["Jardins", "Leblon", TOTAL]
    assert weekly.groupby("store")["before_timeline"].apply(list).to_dict()["Jardins"] == [True, False, False]


def test_no_events_counts_every_item_as_present_and_flags_every_week():
    data, _ = hand_data()
    weekly = weekly_metrics(data, timeline.empty_frame(), NOW, weeks=3)
    total = weekly[weekly["store"] == TOTAL]
    assert total["before_timeline"].all()
    # Customer 3 has no date at all, so it always counts; customer 2 joined 11 days ago.
    assert total["customers"].tolist() == [4, 5, 5]
    assert total["depth"].tolist() == pytest.approx([4 / 3, 1.25, 1.25])


# --- the same figures, customer by customer and event by event ---------------------------


def reference(data: CustomerData, events: list[Event], now: datetime, weeks: int) -> pd.DataFrame:
    """The rule of ``weekly_metrics``' docstring, in plain Python."""
    ends = [now - timedelta(days=7 * k) for k in range(weeks - 1, -1, -1)]
    of_customer: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        of_customer[event.customer_id].append(event)
    people = data.customers.to_dict("records")
    rows = []
    for store in [*sorted({p["store"] for p in people}), TOTAL]:
        for end in ends:
            counted, depths, days = 0, [], []
            for person in people:
                if store != TOTAL and person["store"] != store:
                    continue
                mine = of_customer[person["id"]]
                created = None if pd.isna(person["created_at"]) else person["created_at"]
                joined = created if created is not None else min((e.at for e in mine), default=None)
                if joined is not None and joined > end:
                    continue
                counted += 1
                present = 0
                for item in person["history"]:
                    firsts = [e.at for e in mine if e.kind == "interesse"
                              and product_key(item) in {product_key(p) for p in e.products}]
                    if not firsts or min(firsts) <= end:
                        present += 1
                if not present:
                    continue
                depths.append(present)
                contacts = [e.at for e in mine if e.source in ("whatsapp", "loja") and e.at <= end]
                last = person["last_interaction"]
                if not pd.isna(last) and last <= end:
                    contacts.append(last)
                if contacts:
                    days.append((end - max(contacts)) / DAY)
            rows.append({
                "week_end": end, "store": store, "customers": counted, "covered": len(depths),
                "coverage": len(depths) / counted if counted else math.nan,
                "recency_days": statistics.fmean(days) if days else math.nan,
                "recency_median_days": statistics.median(days) if days else math.nan,
                "depth": statistics.fmean(depths) if depths else math.nan,
            })
    return pd.DataFrame(rows)


def test_hand_data_matches_the_plain_loop():
    data, events = hand_data()
    got = weekly_metrics(data, timeline.frame_of(events), NOW, weeks=3)
    pd.testing.assert_frame_equal(got[COLUMNS], reference(data, events, NOW, 3)[COLUMNS], check_dtype=False)


CATALOG = ["Submariner", "Datejust", "Nautilus 5711", "Aquanaut", "Anel Diamante", "Carrera"]
PEOPLE = st.lists(
    st.tuples(
        st.sampled_from(["Jardins", "Leblon"]),
        st.lists(st.sampled_from(CATALOG), unique=True, max_size=5),
        st.none() | st.floats(-3, 100),  # created, days ago
        st.none() | st.floats(-3, 100),  # last interaction, days ago
    ),
    min_size=1, max_size=6,
)
EVENTS = st.lists(
    st.tuples(
        st.integers(0, 7),  # customer (some not in the frame)
        st.floats(-5, 100),  # days ago
        st.sampled_from(timeline.SOURCES),
        st.sampled_from(["interesse", "retorno", "conversa", "visita"]),
        st.lists(st.sampled_from([*CATALOG, "submariner", "Cartier Love"]), min_size=1, max_size=3),
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(people=PEOPLE, raw_events=EVENTS, weeks=st.integers(1, 4))
def test_random_bases_match_the_plain_loop(people, raw_events, weeks):
    data = data_of(*(
        customer(i, history, created, last, store) for i, (store, history, created, last) in enumerate(people)
    ))
    events = [
        Event(f"rec{who}", "Jardins", at(days), source, kind, () if kind == "conversa" else tuple(items))
        for who, days, source, kind, items in raw_events
    ]
    got = weekly_metrics(data, timeline.frame_of(events), NOW, weeks=weeks)
    expected = reference(data, events, NOW, weeks)
    assert got["store"].tolist() == expected["store"].tolist()
    pd.testing.assert_frame_equal(got[COLUMNS], expected[COLUMNS], check_dtype=False, rtol=1e-9)


def test_an_event_at_a_week_end_counts_for_that_week():
    data = data_of(customer(1, ["A", "B"], created=30, last=7))
    events = [
        Event("rec1", "Jardins", at(7), "whatsapp", "interesse", ("A",)),
        Event("rec1", "Jardins", at(7) + timedelta(microseconds=1), "whatsapp", "interesse", ("B",)),
    ]
    weekly = weekly_metrics(data, timeline.frame_of(events), NOW, weeks=2)
    total = weekly[weekly["store"] == TOTAL]
    assert total["depth"].tolist() == [1.0, 2.0]
    assert total["recency_days"].tolist() == pytest.approx([0.0, 7.0])


def test_one_event_frame_read_for_several_scopes_and_times_gives_each_its_own_figures():
    data, events = hand_data()
    shared = timeline.frame_of(events)  # what the frame keeps between readings must not leak across them
    leblon, jardins = data.for_stores(["Leblon"]), data.for_stores(["Jardins"])
    readings = [(data, NOW), (leblon, NOW), (data, at(3)), (jardins, NOW)]
    for scoped, now in readings:
        fresh = weekly_metrics(scoped, timeline.frame_of(events), now, weeks=3)
        pd.testing.assert_frame_equal(weekly_metrics(scoped, shared, now, weeks=3), fresh)
