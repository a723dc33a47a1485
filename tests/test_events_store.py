"""The event log (SPEC §11): the events table beside the customers, its order, scope and transactions."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from services import timeline
from services.store.events import EventLog, stored_time
from services.store.sqlite import SqliteStore
from services.timeline import Event

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def sample() -> list[Event]:
    return [
        Event("rec1", "Jardins", NOW - 10 * DAY, "whatsapp", "interesse",
              ("Submariner", "Datejust 36, aço e ouro")),
        Event("rec2", "Leblon", NOW - 5 * DAY, "loja", "visita", ("Ánel Diamante",)),
        Event("rec1", "Jardins", NOW - 2 * DAY, "whatsapp", "retorno", ("Submariner",)),
        Event("rec1", "Jardins", NOW - 2 * DAY, "whatsapp", "conversa"),
        Event("rec1", "Jardins", NOW - DAY, "importacao", "compra", ("Submariner",), 58_900.5),
    ]


@pytest.fixture
def log(tmp_path):
    events = EventLog(tmp_path / "vitrine.db")
    events.append(sample())
    return events


def test_a_customers_events_come_back_newest_first(log):
    got = log.for_customer("rec1")
    assert [event.kind for event in got] == ["compra", "conversa", "retorno", "interesse"]
    assert got[0] == Event("rec1", "Jardins", NOW - DAY, "importacao", "compra", ("Submariner",), 58_900.5)
    assert got[-1].products == ("Submariner", "Datejust 36, aço e ouro")
    assert [event.kind for event in log.for_customer("rec1", limit=2)] == ["compra", "conversa"]
    assert log.for_customer("nobody") == []


def test_the_frame_holds_every_event_oldest_first_with_its_types(log):
    frame = log.frame()
    assert list(frame.columns) == list(timeline.EVENT_COLUMNS)
    assert frame["kind"].tolist() == ["interesse", "visita", "retorno", "conversa", "compra"]
    assert frame["at"].tolist() == [pd.Timestamp(event.at) for event in sample()]
    assert str(frame["at"].dtype) == "datetime64[us, UTC]"
    assert all(isinstance(frame[column].dtype, pd.CategoricalDtype)
               for column in ("customer_id", "store", "source", "kind"))
    assert list(frame["kind"].cat.categories) == list(timeline.KINDS)
    assert frame["products"].tolist()[:2] == [["Submariner", "Datejust 36, aço e ouro"], ["Ánel Diamante"]]
    assert frame["products"].tolist()[3] == []
    assert frame["value_brl"].isna().tolist() == [True, True, True, True, False]
    assert frame["value_brl"].iloc[-1] == 58_900.5
    pd.testing.assert_frame_equal(frame, timeline.frame_of(sample()))


def test_events_appended_out_of_order_are_read_in_time_order_ties_as_appended(tmp_path):
    log = EventLog(tmp_path / "vitrine.db")
    late = Event("rec1", "Jardins", NOW, "whatsapp", "conversa")
    log.append([late, *sample()])
    assert log.frame()["at"].is_monotonic_increasing
    tied = log.frame()[lambda f: f["at"] == pd.Timestamp(NOW - 2 * DAY)]
    assert tied["kind"].tolist() == ["retorno", "conversa"]


def test_the_frame_is_scoped_by_store_and_start(log):
    assert log.frame(stores=["Leblon"])["customer_id"].tolist() == ["rec2"]
    assert len(log.frame(stores=["Jardins", "Leblon"])) == 5
    assert log.frame(stores=[]).empty
    assert list(log.frame(stores=[]).columns) == list(timeline.EVENT_COLUMNS)
    assert log.frame(since=NOW - 2 * DAY)["kind"].tolist() == ["retorno", "conversa", "compra"]
    jardins_lately = log.frame(stores=["Jardins"], since=NOW - 3 * DAY)
    assert jardins_lately["kind"].tolist() == ["retorno", "conversa", "compra"]
    assert log.frame(stores=["Centro"]).empty


def test_count_span_and_version(log):
    assert log.count() == 5
    assert log.span() == (NOW - 10 * DAY, NOW - DAY)
    before = log.version()
    log.append([Event("rec3", "Leblon", NOW, "whatsapp", "conversa")])
    assert log.version() != before
    assert log.span() == (NOW - 10 * DAY, NOW)
    log.clear()
    assert (log.count(), log.span(), log.frame().empty) == (0, None, True)


def test_the_timeline_start_is_set_once(log):
    assert log.since() is None
    log.mark_since(NOW - 30 * DAY)
    log.mark_since(NOW)
    assert log.since() == NOW - 30 * DAY


def test_events_roll_back_with_the_callers_transaction(tmp_path):
    store = SqliteStore(tmp_path / "vitrine.db")
    log = EventLog(store.path)
    with pytest.raises(RuntimeError), store.connect() as db:
        db.execute("INSERT INTO stores VALUES ('Jardins', NULL)")
        log.append(sample(), db=db)
        assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 5
        raise RuntimeError("a sync that fails half-way")
    assert log.count() == 0
    assert store.stores() == []
    with store.connect() as db:
        log.append(sample()[:2], db=db)
        log.mark_since(NOW, db=db)
    assert (log.count(), log.since()) == (2, NOW)


def test_an_existing_file_gains_the_table_and_loses_nothing(tmp_path):
    path = tmp_path / "vitrine.db"
    store = SqliteStore(path)
    store.add_store("Jardins")
    store.record("Jardins", "+5511987654321", ["Submariner"], NOW)  # dates its interest: one event
    EventLog(path).append(sample())
    again = EventLog(path)
    assert again.count() == 1 + 5
    assert store.find("Jardins", "+5511987654321").interests == ["Submariner"]
    names = {row[0] for row in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")}
    assert {"events", "events_customer_at", "events_at", "events_store_at", "customers"} <= names


def test_stored_times_sort_as_text_in_time_order():
    half = timedelta(microseconds=500_000)
    moments = [NOW, NOW + half, NOW + 2 * half, datetime(2026, 3, 1, 12)]
    assert stored_time(moments[0]) == "2026-03-01T12:00:00.000000Z"
    assert stored_time(moments[3]) == stored_time(NOW)  # naive reads as UTC
    texts = [stored_time(moment) for moment in moments[:3]]
    assert texts == sorted(texts)
