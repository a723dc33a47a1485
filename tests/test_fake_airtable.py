"""The fake Airtable server, exercised through pyairtable itself."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import nullcontext as _no_error
from datetime import UTC, datetime
from typing import Any

import pyairtable.formulas as F
import pytest
import requests
from pyairtable import Api

from tests.fake_airtable import (
    FakeAirtable,
    Formula,
    FormulaError,
    ManualClock,
    fake_airtable,  # noqa: F401  (pytest fixture)
)

BASE = "appVITRINE0000001"
SCHEMA: dict[str, list[dict[str, Any]]] = {
    "Tenants": [{"name": "name", "type": "singleLineText"}],
    "Customers": [
        {"name": "phone", "type": "phoneNumber"},
        {"name": "name", "type": "singleLineText"},
        {"name": "tenant_id", "type": "multipleRecordLinks", "linkedTable": "Tenants"},
        {"name": "interests", "type": "multipleSelects", "choices": ["Anel Solitário"]},
        {"name": "interests_all", "type": "multilineText"},
        {"name": "created_at", "type": "dateTime"},
        {"name": "last_interaction", "type": "dateTime"},
        {"name": "opt_out", "type": "checkbox"},
    ],
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock("2024-03-01T10:00:00Z")


@pytest.fixture
def fake(clock: ManualClock) -> Iterator[FakeAirtable]:
    """A fake with the Vitrine schema: 1 store, 250 customers one second apart."""
    with FakeAirtable(seed=7, now=clock, rate_limit_per_sec=None) as server:
        server.add_base(BASE, SCHEMA, name="Vitrine")
        (store,) = server.add_records(BASE, "Tenants", [{"name": "Loja Centro"}])
        for i in range(250):
            server.add_records(
                BASE,
                "Customers",
                [
                    {
                        "phone": f"+551198765{i:04d}",
                        "name": f"Cliente {i}",
                        "tenant_id": [store],
                        "interests": ["Anel Solitário"] if i % 2 else [],
                        "interests_all": "Anel Solitário, Brinco Gota" if i % 2 else "",
                    }
                ],
            )
            clock.advance(1)
        yield server


def customers(fake: FakeAirtable, **kwargs: Any) -> Any:
    return fake.api(**kwargs).table(BASE, "Customers")


def error_of(exc: pytest.ExceptionInfo[requests.HTTPError]) -> tuple[int, Any]:
    response = exc.value.response
    assert response is not None
    return response.status_code, response.json()


# ------------------------------------------------------------------ listing


def test_lists_all_pages_with_fields_and_formula(fake: FakeAirtable) -> None:
    table = customers(fake)
    everything = table.all(page_size=40, fields=["phone", "interests"])
    assert len(everything) == 250
    assert fake.count(kind="list") == 7  # ceil(250 / 40)
    assert set(everything[1]["fields"]) == {"phone", "interests"}
    assert "interests" not in everything[0]["fields"]  # empty cells are omitted
    assert everything[0]["createdTime"] == "2024-03-01T10:00:00.000Z"

    since = datetime(2024, 3, 1, 10, 3, 19, tzinfo=UTC)  # customers 200..249 are newer
    formula = F.GT(F.LAST_MODIFIED_TIME(), F.DATETIME_PARSE(since))
    fake.reset_stats()
    recent = table.all(formula=formula, fields=["phone"])
    assert [r["fields"]["phone"] for r in recent] == [f"+551198765{i:04d}" for i in range(200, 250)]
    assert fake.count() == 1  # an incremental read of 50 records costs one request
    assert fake.log[0].query["filterByFormula"] == [F.to_formula_str(formula)]


def test_page_size_is_clamped_to_100(fake: FakeAirtable) -> None:
    pages = list(customers(fake).iterate(page_size=500))
    assert [len(p) for p in pages] == [100, 100, 50]


def test_long_formula_falls_back_to_post_list_records(fake: FakeAirtable) -> None:
    wanted = list(fake.table(BASE, "Customers").records)[:200]
    formula = F.OR(*(F.EQ(F.RECORD_ID(), rid) for rid in wanted * 3))
    assert len(F.to_formula_str(formula)) > 16_000
    found = customers(fake).all(formula=formula, fields=["name"])
    assert [r["id"] for r in found] == wanted
    assert fake.count(kind="list_post", method="POST") == 2
    assert fake.count(kind="list") == 0
    first_body = fake.log[0].body
    assert first_body["fields"] == ["name"] and "offset" not in first_body
    assert "offset" in fake.log[1].body


def test_sort_and_max_records(fake: FakeAirtable) -> None:
    found = customers(fake).all(sort=["-phone"], max_records=3, fields=["phone"])
    assert [r["fields"]["phone"] for r in found] == ["+551198765" + n for n in ("0249", "0248", "0247")]


def test_expired_offset_is_422(fake: FakeAirtable) -> None:
    pages = customers(fake).iterate(page_size=100)
    assert len(next(pages)) == 100
    fake.expire_offsets = True
    with pytest.raises(requests.HTTPError) as exc:
        next(pages)
    status, body = error_of(exc)
    assert status == 422
    assert body["error"]["type"] == "LIST_RECORDS_ITERATOR_NOT_AVAILABLE"


def test_offset_ttl_and_expire_all(fake: FakeAirtable) -> None:
    pages = customers(fake).iterate()
    next(pages)
    fake.expire_all_offsets()
    with pytest.raises(requests.HTTPError):
        next(pages)
    fake.offset_ttl = 0.05
    pages = customers(fake).iterate()
    next(pages)
    time.sleep(0.1)
    with pytest.raises(requests.HTTPError) as exc:
        next(pages)
    assert error_of(exc)[1]["error"]["type"] == "LIST_RECORDS_ITERATOR_NOT_AVAILABLE"


# ------------------------------------------------------------------ reads and writes


def test_get_update_and_batch_update(fake: FakeAirtable, clock: ManualClock) -> None:
    table = customers(fake)
    rid = next(iter(fake.table(BASE, "Customers").records))
    record = table.get(rid)
    assert record["fields"]["name"] == "Cliente 0"

    clock.set("2024-04-01T00:00:00Z")
    updated = table.update(rid, {"name": "Ana", "opt_out": True})
    assert updated["fields"]["name"] == "Ana" and updated["fields"]["opt_out"] is True
    assert updated["fields"]["phone"] == "+551198765" + "0000"  # full record comes back
    stored = fake.record(BASE, "Customers", rid)
    assert stored.modified_time == clock() and stored.fields["opt_out"] is True

    ids = list(fake.table(BASE, "Customers").records)[:12]
    fake.reset_stats()
    result = table.batch_update([{"id": i, "fields": {"interests_all": "Colar"}} for i in ids])
    assert len(result) == 12
    assert fake.count(kind="batch_update", method="PATCH") == 2  # 10 + 2
    assert all(fake.record(BASE, "Customers", i).fields["interests_all"] == "Colar" for i in ids)

    since = F.IS_AFTER(F.LAST_MODIFIED_TIME(), F.DATETIME_PARSE("2024-03-31T00:00:00Z"))
    assert {r["id"] for r in table.all(formula=since)} == set(ids) | {rid}

    cleared = table.update(rid, {"opt_out": False, "name": ""})
    assert "opt_out" not in cleared["fields"] and "name" not in cleared["fields"]


def test_batch_of_more_than_10_is_rejected(fake: FakeAirtable) -> None:
    ids = list(fake.table(BASE, "Customers").records)[:11]
    response = requests.patch(
        f"{fake.url}/v0/{BASE}/Customers",
        json={"records": [{"id": i, "fields": {"name": "x"}} for i in ids]},
        headers={"Authorization": f"Bearer {fake.token}"},
        timeout=5,
    )
    assert response.status_code == 422
    assert response.json()["error"]["type"] == "INVALID_RECORDS"
    assert fake.record(BASE, "Customers", ids[0]).fields["name"] == "Cliente 0"


def test_failed_batch_changes_nothing(fake: FakeAirtable) -> None:
    ids = list(fake.table(BASE, "Customers").records)[:2]
    with pytest.raises(requests.HTTPError) as exc:
        customers(fake).batch_update(
            [
                {"id": ids[0], "fields": {"name": "changed"}},
                {"id": ids[1], "fields": {"interests": ["Novo Item"]}},  # no typecast: refused
            ]
        )
    assert error_of(exc)[0] == 422
    assert fake.record(BASE, "Customers", ids[0]).fields["name"] == "Cliente 0"


def test_create_and_batch_create_and_delete(fake: FakeAirtable, clock: ManualClock) -> None:
    table = customers(fake)
    created = table.create({"phone": "+5511900000000", "created_at": "2024-05-01T09:30:00-03:00"})
    assert created["id"].startswith("rec") and len(created["id"]) == 17
    assert created["createdTime"] == "2024-03-01T10:04:10.000Z"
    assert created["fields"]["created_at"] == "2024-05-01T12:30:00.000Z"
    many = table.batch_create([{"phone": f"+55119000000{i:02d}"} for i in range(11)])
    assert len(many) == 11 and fake.count(kind="batch_create") == 2
    assert table.delete(created["id"])["deleted"] is True
    assert len(table.batch_delete([r["id"] for r in many])) == 11
    assert len(fake.table(BASE, "Customers").records) == 250


def test_multiple_select_needs_typecast_for_new_options(fake: FakeAirtable) -> None:
    table = customers(fake)
    rid = next(iter(fake.table(BASE, "Customers").records))
    with pytest.raises(requests.HTTPError) as exc:
        table.update(rid, {"interests": ["Anel Solitário", "Relógio Dourado"]})
    status, body = error_of(exc)
    assert status == 422
    assert body["error"]["type"] == "INVALID_MULTIPLE_CHOICE_OPTIONS"
    assert "Relógio Dourado" in body["error"]["message"]

    updated = table.update(rid, {"interests": ["Anel Solitário", "Relógio Dourado"]}, typecast=True)
    assert updated["fields"]["interests"] == ["Anel Solitário", "Relógio Dourado"]
    schema = fake.api().base(BASE).schema().table("Customers").field("interests")
    assert [c.name for c in schema.options.choices] == ["Anel Solitário", "Relógio Dourado"]


def test_wrong_value_types_are_422(fake: FakeAirtable) -> None:
    table = customers(fake)
    rid = next(iter(fake.table(BASE, "Customers").records))
    for fields in (
        {"interests": "Anel Solitário"},
        {"interests_all": ["a"]},
        {"opt_out": "yes"},
        {"created_at": "ontem"},
        {"tenant_id": ["recNOPE00000000000"]},
    ):
        with pytest.raises(requests.HTTPError) as exc:
            table.update(rid, fields)
        assert error_of(exc)[0] == 422, fields


def test_unknown_field_is_422_naming_it(fake: FakeAirtable) -> None:
    table = customers(fake)
    rid = next(iter(fake.table(BASE, "Customers").records))
    with pytest.raises(requests.HTTPError) as exc:
        table.update(rid, {"interesses": ["x"]})
    status, body = error_of(exc)
    assert (status, body["error"]["type"]) == (422, "UNKNOWN_FIELD_NAME")
    assert '"interesses"' in body["error"]["message"]
    with pytest.raises(requests.HTTPError) as exc:
        table.all(fields=["phone", "opt_in"])
    assert error_of(exc)[1]["error"]["type"] == "UNKNOWN_FIELD_NAME"
    with pytest.raises(requests.HTTPError) as exc:
        table.all(formula="{opt_in} = 1")
    assert error_of(exc)[1]["error"]["type"] == "INVALID_FILTER_BY_FORMULA"


def test_unknown_table_and_base_are_404(fake: FakeAirtable) -> None:
    api = fake.api()
    with pytest.raises(requests.HTTPError) as exc:
        api.table(BASE, "Clientes").all()
    status, body = error_of(exc)
    assert (status, body["error"]["type"]) == (404, "TABLE_NOT_FOUND")
    with pytest.raises(requests.HTTPError) as exc:
        api.table("appNOPE0000000000", "Customers").all()
    assert error_of(exc)[0] == 404
    with pytest.raises(requests.HTTPError) as exc:
        api.table(BASE, "Customers").get("recNOPE00000000000")
    assert error_of(exc)[0] == 404


def test_table_by_id(fake: FakeAirtable) -> None:
    table_id = fake.table(BASE, "Customers").id
    assert len(fake.api().table(BASE, table_id).all(max_records=5)) == 5


def test_bad_token_is_401_and_other_base_403(fake: FakeAirtable) -> None:
    with pytest.raises(requests.HTTPError) as exc:
        fake.api("patWRONG").table(BASE, "Customers").all()
    status, body = error_of(exc)
    assert (status, body["error"]["type"]) == (401, "AUTHENTICATION_REQUIRED")
    fake.valid_tokens.add("patOTHER")
    fake.token_bases["patOTHER"] = {"appSOMEOTHER00000"}
    with pytest.raises(requests.HTTPError) as exc:
        fake.api("patOTHER").table(BASE, "Customers").all()
    assert error_of(exc)[0] == 403


# ------------------------------------------------------------------ limits and faults


def test_rate_limit_blocks_then_recovers(fake: FakeAirtable) -> None:
    fake.rate_limit_per_sec = 5
    fake.block_seconds = 0.3
    table = customers(fake, retry_strategy=None)
    for _ in range(5):
        table.first()
    with pytest.raises(requests.HTTPError) as exc:
        table.first()
    status, body = error_of(exc)
    assert status == 429 and body["errors"][0]["error"] == "RATE_LIMIT_REACHED"
    time.sleep(0.1)
    with pytest.raises(requests.HTTPError):
        table.first()  # still blocked, even though the window has room
    assert fake.is_blocked(BASE)
    time.sleep(0.3)
    assert table.first() is not None

    # pyairtable's default retry (backoff 0, 0.2, 0.4... s) rides out a short block
    time.sleep(1.1)
    for _ in range(6):
        with pytest.raises(requests.HTTPError) if _ == 5 else _no_error():
            table.first()
    assert fake.is_blocked(BASE)
    fake.reset_stats()
    assert customers(fake).first() is not None
    assert [r.status for r in fake.log][0] == 429 and fake.log[-1].status == 200


def test_dropped_connection_raises_connection_error(fake: FakeAirtable) -> None:
    fake.inject(drop=True, kind="list", times=None)
    with pytest.raises(requests.ConnectionError):
        customers(fake, retry_strategy=None).all()
    fake.clear_faults()
    assert len(customers(fake).all(max_records=3)) == 3


def test_drop_mid_sync(fake: FakeAirtable) -> None:
    fake.inject(drop=True, match=lambda r: "offset" in r.query)  # the second page
    pages = customers(fake, retry_strategy=None).iterate()
    assert len(next(pages)) == 100
    with pytest.raises(requests.ConnectionError):
        next(pages)
    assert fake.log[-1].status is None


def test_drop_after_write_is_applied(fake: FakeAirtable) -> None:
    rid = next(iter(fake.table(BASE, "Customers").records))
    fake.inject(drop=True, after=True, method="PATCH")
    with pytest.raises(requests.ConnectionError):
        customers(fake, retry_strategy=None).update(rid, {"name": "Saved anyway"})
    assert fake.record(BASE, "Customers", rid).fields["name"] == "Saved anyway"


def test_injected_status_and_delay(fake: FakeAirtable) -> None:
    fault = fake.inject(status=503, times=1)
    table = customers(fake, retry_strategy=None)
    with pytest.raises(requests.HTTPError) as exc:
        table.first()
    assert error_of(exc)[0] == 503 and fault.hits == 1
    assert table.first() is not None

    fake.inject(delay=0.5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        customers(fake, retry_strategy=None, timeout=(2, 0.2)).first()


def test_page_latency_delays_pages_without_holding_up_other_requests(clock: ManualClock) -> None:
    with FakeAirtable(seed=7, now=clock, rate_limit_per_sec=None, page_latency=0.4) as server:
        server.add_base(BASE, SCHEMA)
        (rid,) = server.add_records(BASE, "Customers", [{"name": "Cliente 0"}])
        table = server.api().table(BASE, "Customers")
        arrived = threading.Event()
        server.inject(times=None, match=lambda info: info.kind == "list" and arrived.set())
        started = time.monotonic()
        page = threading.Thread(target=table.all)
        page.start()
        assert arrived.wait(5)  # the page request is in, its answer 0.4 s away
        assert table.get(rid)["fields"]["name"] == "Cliente 0"  # served meanwhile
        fetched = time.monotonic() - started
        page.join()
        assert fetched < 0.4 <= time.monotonic() - started


def test_counters_and_log(fake: FakeAirtable) -> None:
    table = customers(fake)
    table.all(page_size=100)
    rid = next(iter(fake.table(BASE, "Customers").records))
    table.get(rid)
    assert fake.requests_by_base[BASE] == 4
    assert fake.requests_by_kind[("GET", "list")] == 3
    assert fake.requests_by_kind[("GET", "get")] == 1
    assert [r.status for r in fake.log] == [200, 200, 200, 200]
    assert fake.log[-1].record_id == rid
    assert fake.errors == []


# ------------------------------------------------------------------ schema


def test_schema_via_pyairtable(fake: FakeAirtable) -> None:
    schema = fake.api().base(BASE).schema()
    tenants, custs = schema.table("Tenants"), schema.table("Customers")
    assert custs.id.startswith("tbl") and custs.primary_field_id == custs.fields[0].id
    assert [f.name for f in custs.fields] == [f["name"] for f in SCHEMA["Customers"]]
    link = custs.field("tenant_id")
    assert link.type == "multipleRecordLinks" and link.options.linked_table_id == tenants.id
    assert custs.field("interests").type == "multipleSelects"
    assert custs.field("opt_out").type == "checkbox"
    assert custs.views[0].name == "Grid view"
    assert fake.count(kind="meta_tables") == 1
    bases = fake.api().bases()
    assert [(b.id, b.name) for b in bases] == [(BASE, "Vitrine")]


def test_schema_changes_show_up(fake: FakeAirtable) -> None:
    fake.remove_field(BASE, "Customers", "opt_out")
    fake.add_field(BASE, "Customers", {"name": "notes", "type": "multilineText"})
    names = [f.name for f in fake.api().base(BASE).schema().table("Customers").fields]
    assert "opt_out" not in names and names[-1] == "notes"


# ------------------------------------------------------------------ formulas


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        (F.EQ(F.Field("name"), "Cliente 3"), [3]),
        (F.NE(F.Field("name"), "Cliente 0") & F.LT(F.Field("phone"), "+5511987650003"), [1, 2]),
        (F.OR(F.EQ(F.Field("name"), "Cliente 1"), F.EQ(F.Field("name"), "Cliente 2")), [1, 2]),
        (F.NOT(F.Field("opt_out")) & F.LTE(F.Field("phone"), "+5511987650001"), [0, 1]),
        (
            F.GTE(F.FIND("Brinco", F.Field("interests_all")), 1) & F.LT(F.Field("phone"), "+5511987650004"),
            [1, 3],
        ),
        (F.SEARCH("Cliente 24", F.Field("name")), list(range(240, 250)) + [24]),
        (F.EQ(F.LOWER(F.Field("name")), "cliente 7"), [7]),
        (
            F.EQ(F.FunctionCall("ARRAYJOIN", F.Field("interests")), "Anel Solitário")
            & F.LT(F.Field("phone"), "+5511987650004"),
            [1, 3],
        ),
        (
            F.EQ(F.FunctionCall("ARRAYJOIN", F.Field("tenant_id")), "Loja Centro")
            & F.LT(F.Field("phone"), "+5511987650002"),
            [0, 1],
        ),
        (F.IS_BEFORE(F.CREATED_TIME(), F.DATETIME_PARSE("2024-03-01T10:00:02Z")), [0, 1]),
        (F.EQ(F.Field("interests_all"), "") & F.LT(F.Field("phone"), "+5511987650003"), [0, 2]),
        ("AND({name}='Cliente 5', RECORD_ID()!='')", [5]),
        # the functions of a partitioned read (services/store/airtable/client.py partition_formulas)
        (F.EQ(F.RIGHT(F.Field("name"), 2), "17") | F.EQ(F.LEFT(F.Field("name"), 9), "Cliente 9"),
         [9, 17, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 117, 217]),
        (F.EQ(F.MOD(F.SUM(F.VALUE(F.RIGHT(F.Field("name"), 1)), 2), 10), 1)
         & F.LT(F.Field("phone"), "+5511987650030"), [9, 19, 29]),
        ("MOD(-3, 5)=2", list(range(250))),  # the remainder takes the divisor's sign
    ],
)
def test_formulas(fake: FakeAirtable, formula: Any, expected: list[int]) -> None:
    found = customers(fake).all(formula=formula, fields=["name"])
    numbers = [int(r["fields"]["name"].split()[1]) for r in found]
    assert sorted(numbers) == sorted(expected)


def test_formula_escaping_matches_pyairtable(fake: FakeAirtable) -> None:
    tricky = 'O\'Brien \\ "Zé" {x}'
    rid = next(iter(fake.table(BASE, "Customers").records))
    fake.edit_record(BASE, "Customers", rid, {"name": tricky})
    found = customers(fake).all(formula=F.match({"name": tricky}))
    assert [r["id"] for r in found] == [rid]


def test_unsupported_function_is_422(fake: FakeAirtable) -> None:
    with pytest.raises(requests.HTTPError) as exc:
        customers(fake).all(formula=F.WORKDAY(F.NOW(), 1))
    status, body = error_of(exc)
    assert (status, body["error"]["type"]) == (422, "INVALID_FILTER_BY_FORMULA")
    assert "WORKDAY" in body["error"]["message"]


def test_formula_parser_errors(fake: FakeAirtable) -> None:
    table = fake.table(BASE, "Customers")
    for bad in ("{name} =", "AND(", "{nope} = 1", "'unterminated", "NOT(1, 2)"):
        with pytest.raises(FormulaError):
            Formula(bad, table)


# ------------------------------------------------------------------ scale, fixture


def test_twenty_thousand_records_are_served_fast() -> None:
    with FakeAirtable(rate_limit_per_sec=None) as fake:
        fake.add_base(BASE, SCHEMA)
        fake.add_records(
            BASE,
            "Customers",
            ({"phone": f"+55119{i:08d}", "interests": ["Anel", "Colar"]} for i in range(20_000)),
        )
        started = time.perf_counter()
        everything = Api(fake.token, endpoint_url=fake.url).table(BASE, "Customers").all()
        elapsed = time.perf_counter() - started
    assert len(everything) == 20_000
    assert fake.count(kind="list") == 200
    assert elapsed < 10, elapsed


def test_module_fixture(fake_airtable: FakeAirtable) -> None:  # noqa: F811
    fake_airtable.add_base(BASE, {"Tenants": []})
    fake_airtable.add_records(BASE, "Tenants", [{"Name": "Loja"}])
    assert fake_airtable.api().table(BASE, "Tenants").all()[0]["fields"] == {"Name": "Loja"}
    assert fake_airtable.rate_limit_per_sec == 5
