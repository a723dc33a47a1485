"""A full sync reads several parts of the table at once: every record once, faults contained."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from pyairtable.formulas import to_formula_str

from services.store.airtable import ClientPolicy, ServerError
from services.store.airtable.client import partition_formulas
from services.store.airtable.sync import Progress, sync
from tests.airtable_helpers import (
    REAL_RATE,
    STORES,
    TOKEN,
    Base,
    fake,  # noqa: F401  (fixture)
    make_base,
    rate_limited,
)
from tests.fake_airtable import FakeAirtable, Formula, Record, _Ctx

ITERATOR_GONE = {"error": {"type": "LIST_RECORDS_ITERATOR_NOT_AVAILABLE",
                           "message": "The list records iterator is no longer available"}}


def part_of(info) -> str:
    """Which part of the table a list request reads: "" for the unfiltered first page, else "0"…"4"."""
    formula = info.query.get("filterByFormula", [""])[0]
    return formula.rsplit("=", 1)[1] if "RECORD_ID" in formula else ""


def customer_pages(server: FakeAirtable) -> list:
    """The list requests of the Customers table (by name or id), in arrival order."""
    table_id = server.bases[next(iter(server.bases))].table("Customers").id
    return [r for r in server.log if r.kind in ("list", "list_post") and r.table in ("Customers", table_id)]


def snapshot(store) -> tuple:
    raw = store.raw_customers(store.stores())
    return (store.version(), sorted(map(tuple, raw.astype(str).to_numpy().tolist())),
            store.events.count(), store.events.version())


@pytest.fixture
def base(fake: FakeAirtable) -> Base:  # noqa: F811
    return make_base(fake, customers=1_234)


def test_every_record_is_read_exactly_once_across_the_parts(base: Base, tmp_path: Path):
    store = base.store(tmp_path / "mirror.db")
    base.fake.reset_stats()
    report = sync(store)
    assert report.fetched == 1_234 == report.customers  # no record read twice, none missed
    assert store.mirror.record_ids() == {r["id"] for r in base.fake.records(base.base_id, "Customers")}
    reads = Counter(part_of(r) for r in customer_pages(base.fake))
    assert reads[""] == 1 and sorted(reads) == ["", "0", "1", "2", "3", "4"]
    # the parts are even: about 247 records each, so three pages each
    assert all(reads[str(k)] == 3 for k in range(5))


def test_a_record_id_of_any_shape_falls_in_exactly_one_part(fake: FakeAirtable):  # noqa: F811
    base = make_base(fake, customers=1, products=False)
    table = fake.table(base.base_id, "Customers")
    formulas = [Formula(to_formula_str(f), table) for f in partition_formulas(5)]
    (template,) = table.records.values()
    shapes = ["recAAAAAAAAAAAAAA", "rec00000000000009", "recZZZZZZZZZZZZZz", "rec-weird_id!", "r", ""]
    for record_id in shapes:
        record = Record(record_id, template.fields, template.created_time, template.modified_time)
        context = _Ctx(fake, fake.bases[base.base_id], table, record, fake.now())
        assert sum(f.matches(context) for f in formulas) == 1, record_id


def test_the_parts_are_read_at_the_same_time(tmp_path: Path):
    """Each page takes the server 0.3 s: the five parts' first pages were all asked before one came back."""
    with FakeAirtable(tokens=[TOKEN], rate_limit_per_sec=None, seed=8, page_latency=0.3) as server:
        base = make_base(server, customers=1_234, products=False)
        store = base.store(tmp_path / "mirror.db")
        server.reset_stats()
        sync(store)
        firsts = [r.at for r in customer_pages(server) if part_of(r) and "offset" not in r.query]
        assert len(firsts) == 5 and max(firsts) - min(firsts) < 0.3


def test_slow_pages_are_read_in_parts_under_the_one_throttle(tmp_path: Path):
    """At Airtable's real rate, 300 ms a page leaves one walk below the throttle: the table is
    read in parts at once, and the parallel walks never cause a 429."""
    with FakeAirtable(tokens=[TOKEN], rate_limit_per_sec=5, block_seconds=30.0, seed=9,
                      page_latency=0.3) as server:
        base = make_base(server, customers=2_000, products=False)
        store = base.store(tmp_path / "mirror.db", replace(REAL_RATE, block_seconds=30.0))
        server.reset_stats()
        report = sync(store)
        assert report.fetched == 2_000 and rate_limited(server) == 0
        assert sorted({part_of(r) for r in customer_pages(server)}) == ["", "0", "1", "2", "3", "4"]


def test_quick_pages_are_read_in_one_walk_from_the_first_page(tmp_path: Path):
    """Pages that come back at once let one walk fill the throttle: no part, no request lost."""
    with FakeAirtable(tokens=[TOKEN], rate_limit_per_sec=5, block_seconds=30.0, seed=9) as server:
        base = make_base(server, customers=1_234, products=False)
        store = base.store(tmp_path / "mirror.db", replace(REAL_RATE, block_seconds=30.0))
        server.reset_stats()
        report = sync(store)
        pages = customer_pages(server)
        assert report.fetched == 1_234 and len(pages) == 13 and {part_of(r) for r in pages} == {""}
        assert rate_limited(server) == 0


def test_one_slow_first_page_does_not_split_a_table_of_quick_pages(tmp_path: Path):
    """A hiccup on the first page alone (0.3 s, then quick pages): the second page shows the
    pages are quick, and the table is still read in one walk, with no page read twice."""
    with FakeAirtable(tokens=[TOKEN], rate_limit_per_sec=5, block_seconds=30.0, seed=9) as server:
        base = make_base(server, customers=1_234, products=False)
        store = base.store(tmp_path / "mirror.db", replace(REAL_RATE, block_seconds=30.0))
        table_id = server.bases[base.base_id].table("Customers").id
        server.inject(delay=0.3, times=1, match=lambda info: info.kind in ("list", "list_post")
                      and info.table in ("Customers", table_id) and "offset" not in info.query)
        server.reset_stats()
        report = sync(store)
        pages = customer_pages(server)
        assert report.fetched == 1_234 and len(pages) == 13 and {part_of(r) for r in pages} == {""}
        assert rate_limited(server) == 0


def test_progress_is_told_in_the_callers_thread_429_pauses_too(tmp_path: Path):
    """A Streamlit page draws only from its own thread: pages and 429 waits reach it there."""
    with FakeAirtable(tokens=[TOKEN], rate_limit_per_sec=5, block_seconds=0.2, seed=3) as server:
        base = make_base(server, customers=2_000, products=False)
        store = base.store(tmp_path / "mirror.db", ClientPolicy(rate=None, block_seconds=0.2, max_blocks=8,
                                                                 retry_backoff=0.01))
        threads: set[threading.Thread] = set()
        phases: list[str] = []

        def progress(step: Progress) -> None:
            threads.add(threading.current_thread())
            phases.append(step.phase)

        report = sync(store, progress=progress)
        assert report.fetched == 2_000 and rate_limited(server) > 0 and "aguardando" in phases
        assert threads == {threading.current_thread()}


def test_an_expired_offset_restarts_only_its_part(base: Base, tmp_path: Path):
    store = base.store(tmp_path / "mirror.db")
    base.fake.inject(status=422, body=ITERATOR_GONE, times=1,
                     match=lambda info: part_of(info) == "2" and "offset" in info.query)
    seen: list[Progress] = []
    base.fake.reset_stats()
    report = sync(store, progress=seen.append)
    assert report.fetched == 1_234 and len(store.raw_customers(STORES)) == 1_234
    starts = Counter(part_of(r) for r in customer_pages(base.fake) if "offset" not in r.query)
    assert starts == {"": 1, "0": 1, "1": 1, "2": 2, "3": 1, "4": 1}
    assert any("recomeçando" in p.message for p in seen)
    counts = [p.done for p in seen if p.phase == "clientes"]
    assert counts[-1] == 1_234


def test_a_fault_in_one_part_leaves_the_mirror_and_timeline_unchanged(tmp_path: Path):
    with FakeAirtable(tokens=[TOKEN], rate_limit_per_sec=None, seed=10, page_latency=0.1) as server:
        base = make_base(server, customers=3_000, products=False)
        store = base.store(tmp_path / "mirror.db")
        sync(store)
        first = sorted(store.mirror.record_ids())[0]
        server.edit_record(base.base_id, "Customers", first, {"interests": base.items(["Daytona"]),
                                                              "interests_all": base.items(["Daytona"])})
        before = snapshot(store)
        server.reset_stats()
        server.inject(status=500, times=None,
                      match=lambda info: part_of(info) == "3" and "offset" in info.query)
        with pytest.raises(ServerError):
            sync(store, full=True)
        assert snapshot(store) == before
        # the other parts stopped after their current page instead of reading on (6 pages each)
        assert len(customer_pages(server)) < 1 + 5 * 6
        server.clear_faults()
        sync(store, full=True)
        assert snapshot(store) != before  # the change and its event arrive with the next sync


def test_a_single_walk_remains_for_a_table_of_one_page(fake: FakeAirtable, tmp_path: Path):  # noqa: F811
    base = make_base(fake, customers=80)
    fake.reset_stats()
    report = sync(base.store(tmp_path / "mirror.db"))
    assert report.fetched == 80 and [part_of(r) for r in customer_pages(fake)] == [""]
