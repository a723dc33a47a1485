"""The mirror against the local fake: full and incremental syncs, the sweep, and every fault mid-sync."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.store.airtable import ClientPolicy, Unreachable
from services.store.airtable.sync import Progress, is_current, last_error, mirror_age, sync
from tests.airtable_helpers import (
    STORES,
    TOKEN,
    Base,
    fake,  # noqa: F401  (fixture)
    make_base,
)
from tests.fake_airtable import FakeAirtable


def snapshot(store) -> tuple[str, list[tuple]]:
    """The mirror's version and every customer row, to prove it did not change."""
    raw = store.raw_customers(store.stores())
    return store.version(), sorted(map(tuple, raw.astype(str).to_numpy().tolist()))


def list_requests(server: FakeAirtable, table: str = "Customers") -> list:
    schema = server.bases[next(iter(server.bases))]
    table_id = schema.table(table).id
    return [r for r in server.log if r.kind in ("list", "list_post") and r.table in (table, table_id)]


@pytest.fixture
def base(fake: FakeAirtable) -> Base:  # noqa: F811
    return make_base(fake, customers=350)


@pytest.fixture
def store(base: Base, tmp_path: Path):
    synced = base.store(tmp_path / "mirror.db")
    sync(synced)
    return synced


def test_a_20000_customer_base_is_mirrored(fake: FakeAirtable, tmp_path: Path):  # noqa: F811
    base = make_base(fake, customers=20_000)
    store = base.store(tmp_path / "mirror.db")
    seen: list[Progress] = []
    report = sync(store, progress=seen.append)
    assert report.kind == "full" and report.fetched == 20_000 == report.customers
    assert len(store.raw_customers(STORES)) == 20_000
    held = sorted(store.mirror.record_ids())
    assert held == sorted(r["id"] for r in fake.records(base.base_id, "Customers"))
    # a first page, then five parts of the table read at once, each in full pages but its last;
    # plus the schema, the tenants and the products: nothing else
    pages = list_requests(fake)
    parts = Counter(r.query.get("filterByFormula", [""])[0] for r in pages)
    assert parts.pop("") == 1 and len(parts) == 5
    assert len(pages) <= 1 + 200 + 5 and report.requests == len(pages) + 3
    assert all(r.query.get("pageSize") == ["100"] for r in pages)
    # only the fields Vitrine uses are asked for ("notes" is never downloaded)
    assert "notes" not in pages[0].query["fields[]"] and "interests_all" in pages[0].query["fields[]"]
    counts = [p.done for p in seen if p.phase == "clientes"]
    assert counts == sorted(counts) and counts[-1] == 20_000
    assert store.get_meta("source") == "airtable" and store.get_meta("last_full_sync_at")


def test_incremental_sync_fetches_only_what_changed(base: Base, store):
    ids = sorted(store.mirror.record_ids())
    base.fake.edit_record(base.base_id, "Customers", ids[0], {"interests_all": base.items(["Daytona"])})
    base.fake.edit_record(base.base_id, "Customers", ids[1], {"name": "Novo Nome"})
    (new_id,) = base.add_customers(1, start=900)
    base.fake.edit_record(base.base_id, "Customers", new_id, {"name": "Recém-chegado"})
    base.fake.reset_stats()
    report = sync(store)
    assert report.kind == "incremental" and report.fetched == 3
    assert report.requests == 1 and not report.swept
    (request,) = base.fake.log
    assert request.query["filterByFormula"][0].startswith("LAST_MODIFIED_TIME()>=DATETIME_PARSE(")
    rows = store.raw_customers(STORES).set_index("id")
    assert rows.loc[ids[1], "name"] == "Novo Nome"
    assert rows.loc[new_id, "name"] == "Recém-chegado"
    assert rows.loc[ids[0], "interests_all"] == base.items(["Daytona"])
    assert len(rows) == 351


def test_incremental_sync_with_nothing_changed_costs_one_request(base: Base, store):
    sync(store)
    version = store.version()
    base.fake.reset_stats()
    report = sync(store)
    assert base.fake.count() == 1 == report.requests
    assert report.fetched == 0
    assert store.version() == version


def test_the_overlap_window_fetches_recent_changes_again(base: Base, store):
    ids = sorted(store.mirror.record_ids())
    base.fake.edit_record(base.base_id, "Customers", ids[5], {"name": "Editado"})
    sync(store)
    assert sync(store).fetched == 1  # still inside the 5-minute overlap: read again, harmlessly
    assert sync(store, overlap=timedelta(0)).fetched == 0


def test_a_deleted_record_is_found_by_the_sweep(base: Base, store):
    ids = sorted(store.mirror.record_ids())
    base.fake.delete_records(base.base_id, "Customers", ids[:2])
    assert sync(store).deleted == 0 and ids[0] in store.mirror.record_ids()  # not due yet
    base.fake.reset_stats()
    report = sync(store, sweep=True)
    assert report.swept and report.deleted == 2
    assert store.mirror.record_ids() == set(ids[2:])
    sweep_pages = [r for r in list_requests(base.fake)
                   if "LAST_MODIFIED_TIME" not in r.query.get("filterByFormula", [""])[0]]
    assert len(sweep_pages) == 1 + 5  # a first page, then five parts of 348 ids (a page each)
    assert all(r.query["fields[]"] == ["phone"] for r in sweep_pages)  # one small field


def test_the_sweep_runs_when_due(base: Base, store):
    ids = sorted(store.mirror.record_ids())
    base.fake.delete_records(base.base_id, "Customers", [ids[3]])
    later = datetime.now(UTC) + timedelta(hours=7)
    report = sync(store, now=lambda: later)
    assert report.swept and report.deleted == 1 and ids[3] not in store.mirror.record_ids()


def test_a_store_created_since_the_last_sync_appears(base: Base, store):
    (tenant,) = base.fake.add_records(base.base_id, "Tenants", [{"name": "Vitrine Moema"}])
    base.fake.add_records(base.base_id, "Customers",
                          [{**base.customer(950), "tenant_id": [tenant]}])
    report = sync(store)
    assert report.requests == 2  # the changed records, then the stores once
    assert "Vitrine Moema" in store.stores()
    assert store.mirror.store_ids()["Vitrine Moema"] == tenant


def test_429_storm_during_a_sync_waits_and_loses_nothing(tmp_path: Path):
    """The fake blocks after 5 requests a second; a client without throttle keeps hitting it."""
    with FakeAirtable(tokens=[TOKEN], rate_limit_per_sec=5, block_seconds=0.2, seed=3) as server:
        base = make_base(server, customers=2_000)
        store = base.store(tmp_path / "mirror.db", policy=ClientPolicy(
            rate=None, block_seconds=0.2, max_blocks=3, retry_backoff=0.01))
        waits: list[Progress] = []
        report = sync(store, progress=lambda p: waits.append(p) if p.phase == "aguardando" else None)
        assert sum(r.status == 429 for r in server.log) >= 3 and waits
        assert report.fetched == 2_000
        assert store.mirror.record_ids() == {r["id"] for r in server.records(base.base_id, "Customers")}
        assert last_error(store) is None


def test_the_client_throttle_never_causes_a_429(tmp_path: Path):
    """At Airtable's real rate (5 requests/s per base) Vitrine stays under the limit by itself."""
    with FakeAirtable(tokens=[TOKEN], rate_limit_per_sec=5, block_seconds=0.5, seed=4) as server:
        base = make_base(server, customers=1_000)
        store = base.store(tmp_path / "mirror.db", policy=ClientPolicy())
        report = sync(store)
        assert report.fetched == 1_000 and report.requests == 13
        assert not [r for r in server.log if r.status == 429]


def test_a_connection_dropped_mid_sync_leaves_the_mirror_unchanged(base: Base, store):
    before = snapshot(store)
    ids = sorted(store.mirror.record_ids())
    base.fake.edit_record(base.base_id, "Customers", ids[0], {"name": "Mudou"})
    base.fake.inject(drop=True, kind="list", times=None,  # every page of one part of the table
                     match=lambda info: info.query.get("filterByFormula", [""])[0].endswith(", 5)=3"))
    with pytest.raises(Unreachable) as caught:
        sync(store, full=True)
    assert snapshot(store) == before
    assert last_error(store) == str(caught.value) and "Sem conexão" in last_error(store)
    assert TOKEN not in last_error(store)
    assert store.get_meta("last_error_at")
    base.fake.clear_faults()
    report = sync(store)
    assert report.fetched == 1 and last_error(store) is None
    assert store.raw_customers(STORES).set_index("id").loc[ids[0], "name"] == "Mudou"


def test_a_response_lost_after_the_server_answered_is_retried(base: Base, store):
    base.fake.inject(drop=True, after=True, kind="list", times=1)
    assert sync(store, full=True).fetched == 350


@pytest.mark.parametrize("stop_at", ["esquema", "lojas", "clientes", "gravando"])
def test_a_sync_stopped_at_any_point_leaves_the_mirror_as_it_was(base: Base, store, stop_at: str):
    before = snapshot(store)
    base.fake.edit_record(base.base_id, "Customers", sorted(store.mirror.record_ids())[0], {"name": "Mudou"})

    def stop(progress: Progress) -> None:
        if progress.phase == stop_at and (stop_at != "clientes" or progress.done >= 200):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sync(store, full=True, progress=stop)
    assert snapshot(store) == before


def test_an_expired_offset_restarts_the_walk(base: Base, store):
    def expire_after_two_pages(progress: Progress) -> None:
        if progress.phase == "clientes" and progress.done == 200 and not expired:
            expired.append(True)
            base.fake.expire_all_offsets()

    expired: list[bool] = []
    report = sync(store, full=True, progress=expire_after_two_pages, partitions=1)  # a single walk
    assert expired and report.fetched == 350
    assert any(r.status == 422 for r in base.fake.log)
    assert len(store.raw_customers(STORES)) == 350


def test_meta_keeps_source_age_and_error(store):
    assert is_current(store)
    assert store.get_meta("source") == "airtable"
    age = mirror_age(store, datetime.now(UTC))
    assert age is not None and age < timedelta(minutes=1)
    assert last_error(store) is None


def test_another_base_in_the_same_file_gets_a_full_sync(base: Base, store, fake: FakeAirtable):  # noqa: F811
    other = make_base(fake, customers=5, base_id="appOTHERBASE00001")
    moved = other.store(store.path)
    report = sync(moved)
    assert report.kind == "full" and len(moved.raw_customers(STORES)) == 5


def test_the_demo_in_the_file_is_replaced(base: Base, tmp_path: Path):
    from services.store.sqlite import SqliteStore

    demo = SqliteStore(tmp_path / "vitrine.db")
    demo.add_store("Loja Demo")
    demo.insert_raw([{"id": "loc1", "store": "Loja Demo", "phone": "+5511987654321"}])
    demo.replace_products([("rolex", "Rolex", "Rolex", "watch", 1)])
    demo.set_meta("source", "demo")
    store = base.store(tmp_path / "vitrine.db")
    sync(store)
    assert "Loja Demo" not in store.stores() and "rolex" not in store.catalog()
    assert store.get_meta("source") == "airtable"


def test_progress_estimates_from_the_previous_mirror(base: Base, store):
    fractions = [p.fraction for p in _collect(store, full=True) if p.phase == "clientes"]
    assert fractions[0] is not None and 0 < fractions[0] < fractions[-1] <= 0.99


def _collect(store, **kwargs) -> list[Progress]:
    seen: list[Progress] = []
    sync(store, progress=seen.append, **kwargs)
    return seen
