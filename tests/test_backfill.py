"""Backfill of legacy records: the dry run counts, ``--apply`` repairs in batches of 10 and loses nothing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from services.interests import parse_interests
from services.store.airtable.backfill import (
    EMPTY_HISTORY,
    MISSING_ITEMS,
    OVER_LIMIT,
    backfill,
    repair_of,
    run_cli,
)
from services.store.airtable.sync import sync
from tests.airtable_helpers import Base, fake, make_base  # noqa: F401  (fixture)
from tests.fake_airtable import FakeAirtable

SEVEN = ["Submariner", "GMT-Master II", "Datejust", "Anel Diamante", "Cartier Love", "Nautilus 5711",
         "Aquanaut"]


@pytest.fixture(params=["list", "text"])
def base(request: pytest.FixtureRequest, fake: FakeAirtable) -> Base:  # noqa: F811
    """40 healthy customers, then 12 empty histories, 9 with items missing, 6 with over 5 recent."""
    base = make_base(fake, kind=request.param, customers=40)
    base.add_customers(12, start=100, recent=["Submariner", "Datejust"], history=[])
    base.add_customers(9, start=200, recent=["Daytona", "Tank"], history=["Tank"])
    base.add_customers(6, start=300, recent=SEVEN, history=SEVEN[:2])
    return base


def test_repair_of_each_legacy_shape():
    assert repair_of("r", "A, B", "").interests_all == ["A", "B"]
    assert repair_of("r", ["A", "B"], ["B"]).reasons == {MISSING_ITEMS}
    over = repair_of("r", SEVEN, SEVEN)
    assert over.reasons == {OVER_LIMIT} and over.interests == SEVEN[-5:] and over.interests_all == SEVEN
    assert repair_of("r", ["A"], ["A", "B"]) is None
    assert repair_of("r", "", "") is None


def test_dry_run_counts_and_writes_nothing(base: Base, tmp_path: Path):
    store = base.store(tmp_path / "m.db")
    base.fake.reset_stats()
    report = backfill(store)
    assert report.dry_run and report.scanned == 67 and report.to_change == 27
    assert report.reasons == {EMPTY_HISTORY: 12, MISSING_ITEMS: 15, OVER_LIMIT: 6}
    assert report.applied == 0
    assert base.fake.count(method="PATCH") == 0 and base.fake.count(method="POST") == 0
    pages = [r for r in base.fake.log if r.kind == "list"]
    assert sorted(pages[0].query["fields[]"]) == ["interests", "interests_all"]


def test_apply_repairs_in_batches_of_ten(base: Base, tmp_path: Path):
    store = base.store(tmp_path / "m.db")
    sync(store)
    base.fake.reset_stats()
    report = backfill(store, apply=True)
    assert report.applied == 27 and not report.not_confirmed
    batches = [r for r in base.fake.log if r.kind == "batch_update"]
    assert [len(r.body["records"]) for r in batches] == [10, 10, 7]
    assert all(r.body["typecast"] for r in batches)
    for record in base.fake.records(base.base_id, "Customers"):
        fields = record["fields"]
        assert isinstance(fields["interests_all"], list if base.kind == "list" else str)
        recent = parse_interests(fields.get("interests"))
        history = parse_interests(fields.get("interests_all"))
        assert len(recent) <= 5 and set(recent) <= set(history)
    assert backfill(store).to_change == 0
    # the mirror got the repaired rows at once
    raw = store.raw_customers(store.stores())
    assert all(len(parse_interests(v)) <= 5 for v in raw["interests"])


def test_over_limit_keeps_every_item_in_the_history(base: Base, tmp_path: Path):
    store = base.store(tmp_path / "m.db")
    backfill(store, apply=True)
    repaired = [r["fields"] for r in base.fake.records(base.base_id, "Customers")
                if parse_interests(r["fields"].get("interests")) == SEVEN[-5:]]
    assert len(repaired) == 6
    assert all(parse_interests(f["interests_all"]) == SEVEN for f in repaired)


def test_apply_merges_again_when_the_assistant_overwrites_a_record_meanwhile(
        base: Base, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    store = base.store(tmp_path / "m.db")
    server = base.fake
    original = server._do_batch_update
    state = {"done": False}

    def overwritten_after_first_batch(b, table, info):
        result = original(b, table, info)
        if not state["done"]:
            state["done"] = True
            victim = info.body["records"][0]["id"]
            # a stale writer puts back the legacy value and adds its own new product
            server.edit_record(base.base_id, "Customers", victim,
                               {"interests": base.items(["Submariner", "Datejust", "Royal Oak"]),
                                "interests_all": base.items(["Royal Oak"])})
            state["victim"] = victim
        return result

    monkeypatch.setattr(server, "_do_batch_update", overwritten_after_first_batch)
    report = backfill(store, apply=True)
    assert not report.not_confirmed
    fields = base.fields(state["victim"])
    assert set(parse_interests(fields["interests_all"])) >= {"Submariner", "Datejust", "Royal Oak"}


def test_cli_prints_the_counts(base: Base, tmp_path: Path):
    out, err = io.StringIO(), io.StringIO()
    assert run_cli(base.store(tmp_path / "m.db"), out=out, stream=err) == 0
    text = out.getvalue()
    assert "simulação" in text and "67 registros lidos, 27 a corrigir" in text
    assert "12 com interests_all vazio" in text and "--apply" in text
    out = io.StringIO()
    assert run_cli(base.store(tmp_path / "m.db"), apply=True, out=out, stream=err) == 0
    assert "27 registros gravados" in out.getvalue()
