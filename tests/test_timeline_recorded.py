"""The timeline as the stores write it: recordings, visits, purchases and what a sync derives (SPEC §11)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.recording import InvalidPurchase, record_interest, record_purchase, record_visit
from services.store import sqlite as sqlite_module
from services.store.base import CustomerNotFound
from services.store.sqlite import SqliteStore

STORE = "Vitrine Jardins"
PHONE = "+5511987654321"
T0 = datetime(2026, 1, 5, 10, tzinfo=UTC)


def kinds(store: SqliteStore, customer_id: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """The customer's events, oldest first, as (kind, source, products)."""
    return [(e.kind, e.source, e.products) for e in reversed(store.events.for_customer(customer_id))]


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    repo = SqliteStore(tmp_path / "v.db")
    repo.add_store(STORE)
    return repo


def test_a_recording_dates_new_products_and_a_remention(store: SqliteStore) -> None:
    first = record_interest(store, [STORE], STORE, PHONE, ["Submariner", "Datejust"], T0)
    record_interest(store, [STORE], STORE, PHONE, ["submariner", "Daytona"], T0 + timedelta(days=3))
    assert kinds(store, first.id) == [
        ("interesse", "whatsapp", ("Submariner", "Datejust")),
        ("interesse", "whatsapp", ("Daytona",)),
        ("retorno", "whatsapp", ("Submariner",)),
    ]
    newest = store.events.for_customer(first.id)[0]
    assert newest.at == T0 + timedelta(days=3)


def test_an_in_store_note_is_an_interest_and_a_visit(store: SqliteStore) -> None:
    saved = record_interest(store, [STORE], STORE, PHONE, "Cartier Love", T0, source="loja")
    assert kinds(store, saved.id) == [("interesse", "loja", ("Cartier Love",)),
                                      ("visita", "loja", ("Cartier Love",))]


def test_visits_and_purchases_need_an_existing_customer_and_a_positive_value(store: SqliteStore) -> None:
    with pytest.raises(CustomerNotFound):
        record_visit(store, [STORE], STORE, PHONE, T0)
    saved = record_interest(store, [STORE], STORE, PHONE, ["Daytona"], T0)
    record_visit(store, [STORE], STORE, "(11) 9 8765-4321", T0 + timedelta(days=1))
    for bad in (0, -10, float("nan")):
        with pytest.raises(InvalidPurchase):
            record_purchase(store, [STORE], STORE, PHONE, "Daytona", bad, T0)
    bought = record_purchase(store, [STORE], STORE, PHONE, "Daytona", 98500.0, T0 + timedelta(days=2))
    assert bought.value_brl == 98500.0
    assert kinds(store, saved.id)[-2:] == [("visita", "loja", ()), ("compra", "loja", ("Daytona",))]
    # a visit or a purchase is not an interest: the record itself did not change
    assert store.find(STORE, PHONE).interests == ["Daytona"]


def raw(customer_id: str, recent: list[str], history: list[str], last: datetime | None,
        name: str = "Ana") -> dict[str, object]:
    return {"id": customer_id, "store": STORE, "phone": PHONE, "name": name, "interests": recent,
            "interests_all": history, "created_at": "2025-01-01T00:00:00Z",
            "last_interaction": last.isoformat() if last else None, "opt_out": False}


def mirror(store: SqliteStore, rows: list[dict[str, object]], at: datetime) -> None:
    store.apply_mirror_changes(rows, (), None, None, {"last_sync_at": at.isoformat()}, synced_at=at)


def test_the_first_copy_has_no_dates_and_marks_when_the_timeline_starts(store: SqliteStore) -> None:
    store.replace_mirror([raw("rec1", ["A", "B"], ["A", "B"], T0)], [(STORE, None)], None, {},
                         synced_at=T0 + timedelta(hours=1))
    assert store.events.count() == 0
    assert store.events.since() == T0 + timedelta(hours=1)


def test_a_sync_dates_what_changed_from_the_copy_held(store: SqliteStore) -> None:
    store.replace_mirror([raw("rec1", ["A", "B", "C"], ["A", "B", "C"], T0),
                          raw("rec2", ["X"], ["X"], T0)], [(STORE, None)], None, {}, synced_at=T0)
    day = T0 + timedelta(days=1)
    mirror(store, [
        raw("rec1", ["B", "C", "A"], ["A", "B", "C"], day),                 # a re-mention of A
        raw("rec2", ["X"], ["X"], day + timedelta(hours=2)),                # a reply, no products
        raw("rec3", ["N"], ["N"], day + timedelta(hours=3)),                # new since the last sync
        raw("rec1b", ["Q"], ["Q"], None),                                   # new, no date: sync time
    ], T0 + timedelta(days=2))
    assert kinds(store, "rec1") == [("retorno", "whatsapp", ("A",))]
    assert kinds(store, "rec2") == [("conversa", "whatsapp", ())]
    assert kinds(store, "rec3") == [("interesse", "whatsapp", ("N",))]
    assert store.events.for_customer("rec1")[0].at == day
    assert store.events.for_customer("rec1b")[0].at == T0 + timedelta(days=2)


def test_a_record_changed_twice_between_syncs_shows_the_sum_of_both(store: SqliteStore) -> None:
    store.replace_mirror([raw("rec1", ["A"], ["A"], T0)], [(STORE, None)], None, {}, synced_at=T0)
    # between syncs the assistant recorded [B] then [A] again: the sync sees only the end state
    end = T0 + timedelta(days=4)
    mirror(store, [raw("rec1", ["B", "A"], ["A", "B"], end)], end + timedelta(hours=1))
    assert kinds(store, "rec1") == [("interesse", "whatsapp", ("B",)), ("retorno", "whatsapp", ("A",))]
    assert {e.at for e in store.events.for_customer("rec1")} == {end}


def test_an_unchanged_record_seen_again_gives_no_event(store: SqliteStore) -> None:
    store.replace_mirror([raw("rec1", ["A"], ["A"], T0)], [(STORE, None)], None, {}, synced_at=T0)
    mirror(store, [raw("rec1", ["A"], ["A"], T0, name="Ana Renomeada")], T0 + timedelta(days=1))
    assert store.events.count() == 0


def test_a_sync_stopped_midway_leaves_neither_rows_nor_events(store: SqliteStore,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    store.replace_mirror([raw("rec1", ["A"], ["A"], T0)], [(STORE, None)], None, {}, synced_at=T0)
    real = sqlite_module._raw_row
    calls = {"n": 0}

    def failing(row):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the process stopped in the middle of the write
        return real(row)

    monkeypatch.setattr(sqlite_module, "_raw_row", failing)
    with pytest.raises(KeyboardInterrupt):
        mirror(store, [raw("rec1", ["A", "B"], ["A", "B"], T0 + timedelta(days=1)),
                       raw("rec2", ["C"], ["C"], T0 + timedelta(days=1))], T0 + timedelta(days=2))
    monkeypatch.setattr(sqlite_module, "_raw_row", real)
    assert store.events.count() == 0
    assert store.find(STORE, PHONE).interests == ["A"]


def test_a_full_sync_never_deletes_the_timeline(store: SqliteStore) -> None:
    saved = record_interest(store, [STORE], STORE, PHONE, ["Daytona"], T0)
    before = store.events.count()
    store.replace_mirror([], [(STORE, None)], None, {}, synced_at=T0 + timedelta(days=1))
    assert store.events.count() == before
    assert kinds(store, saved.id) == [("interesse", "whatsapp", ("Daytona",))]
