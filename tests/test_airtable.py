"""The Airtable adapter against the local fake: schema, field representations, writes and faults."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.frame import build
from services.interests import InvalidPhone
from services.store.airtable import (
    AuthError,
    ClientPolicy,
    MissingField,
    NotFound,
    PermissionDenied,
    RateLimited,
    RequestRejected,
    ServerError,
    Unreachable,
    UnsupportedField,
    detect_schema,
)
from services.store.airtable.sync import sync
from services.store.base import StoreError, UnknownStore
from tests.airtable_helpers import (
    FAST,
    SEEDED_AT,
    STORES,
    TOKEN,
    Base,
    customers_schema,
    fake,  # noqa: F401  (fixture)
    make_base,
    phone_of,
)
from tests.fake_airtable import FakeAirtable

AT = datetime(2026, 11, 1, 12, tzinfo=UTC)
JARDINS = STORES[0]


@pytest.fixture(params=["list", "text"])
def base(request: pytest.FixtureRequest, fake: FakeAirtable) -> Base:  # noqa: F811
    """The user's base with interests as multiple select, and one with long text."""
    return make_base(fake, kind=request.param)


@pytest.fixture
def store(base: Base, tmp_path: Path):
    synced = base.store(tmp_path / "mirror.db")
    sync(synced)
    return synced


def test_schema_detects_each_representation_and_the_tenant_link(base: Base, tmp_path: Path):
    schema = detect_schema(base.store(tmp_path / "m.db").client)
    expected = "multipleSelects" if base.kind == "list" else "multilineText"
    assert schema.fields["interests"].type == expected
    assert schema.fields["interests_all"].is_list == (base.kind == "list")
    assert schema.tenant_is_link and schema.tenants_primary == "name"
    assert schema.has("opt_out") and schema.products is not None


def test_tenant_as_plain_text_and_no_products_table(fake: FakeAirtable, tmp_path: Path):  # noqa: F811
    base = make_base(fake, link=False, products=False)
    store = base.store(tmp_path / "m.db")
    sync(store)
    schema = store.schema()
    assert not schema.tenant_is_link and schema.products is None
    assert store.stores() == sorted(STORES)
    assert store.catalog() == {}


def test_mirror_keeps_raw_values_as_the_base_holds_them(base: Base, store):
    raw = store.raw_customers(STORES)
    assert len(raw) == 30
    sample = raw.iloc[0]
    assert isinstance(sample["interests_all"], list if base.kind == "list" else str)
    assert sample["store"] in STORES  # the link was resolved to the tenant's name
    data = build(raw, store.catalog())
    assert data.customers["depth"].min() == 3
    assert data.customers["phone"].iloc[0] == phone_of(0)


def test_products_table_feeds_the_catalog(store):
    catalog = store.catalog()
    assert catalog["submariner 0"].brand == "Rolex"
    assert catalog["anel solitario"].category == "jewelry"
    assert catalog["colar misterioso"].category == "jewelry"


def test_opt_out_is_optional(fake: FakeAirtable, tmp_path: Path):  # noqa: F811
    fake.add_base("appNOOPTOUT000001", {"Tenants": [{"name": "name", "type": "singleLineText"}],
                                        "Customers": customers_schema(opt_out=False)})
    schema = detect_schema(Base(fake, "appNOOPTOUT000001", {}, "list", True).store(tmp_path / "m.db").client)
    assert not schema.has("opt_out")


# --- writes ---------------------------------------------------------------------


def test_recording_writes_the_fields_own_representation(base: Base, store):
    customer_id = store.find(JARDINS, phone_of(0)).id
    saved = store.record(JARDINS, phone_of(0), ["Nautilus 5711", "Datejust"], AT)
    fields = base.fields(customer_id)
    if base.kind == "list":
        assert fields["interests_all"] == ["Submariner 0", "Datejust", "Aquanaut 0", "Nautilus 5711"]
    else:
        assert fields["interests_all"] == "Submariner 0, Datejust, Aquanaut 0, Nautilus 5711"
    assert saved.interests == ["Submariner 0", "Aquanaut 0", "Nautilus 5711", "Datejust"]
    assert fields["last_interaction"].startswith("2026-11-01T12:00:00")
    # the mirror row was updated at once, in the same representation
    row = store.raw_customers([JARDINS]).set_index("id").loc[customer_id]
    assert row["interests_all"] == fields["interests_all"]


def test_multiple_select_gets_new_options_through_typecast(fake: FakeAirtable, tmp_path: Path):  # noqa: F811
    base = make_base(fake, kind="list")
    store = base.store(tmp_path / "m.db")
    sync(store)
    store.record(JARDINS, phone_of(0), ["Golden Ellipse"], AT)
    options = fake.table(base.base_id, "Customers").fields["interests_all"].choice_names()
    assert "Golden Ellipse" in options
    assert all(r.body.get("typecast") for r in fake.log if r.kind == "update")


def test_first_contact_creates_the_customer_linked_to_its_store(base: Base, store):
    saved = store.record(STORES[1], "(21) 9 7777-0001", ["Cartier Love"], AT, name="Ana  Souza")
    fields = base.fields(saved.id)
    assert fields["tenant_id"] == [base.tenants[STORES[1]]]
    assert fields["phone"] == "+5521977770001"
    assert fields["name"] == "Ana Souza"
    assert store.find(STORES[1], "+55 21 97777-0001").interests == ["Cartier Love"]


def test_customer_created_in_airtable_since_the_last_sync_is_found_not_duplicated(base: Base, store):
    (new_id,) = base.add_customers(1, start=500, store=JARDINS)
    assert store.find(JARDINS, phone_of(500)) is None  # the mirror does not know it yet
    saved = store.record(JARDINS, phone_of(500), ["Daytona"], AT)
    assert saved.id == new_id
    assert len(base.fake.records(base.base_id, "Customers")) == 31


def test_bad_phone_and_unknown_store_write_nothing(base: Base, store):
    base.fake.reset_stats()
    with pytest.raises(InvalidPhone):
        store.record(JARDINS, "n/d", ["Daytona"], AT)
    with pytest.raises(UnknownStore):
        store.record("Loja Z", phone_of(0), ["Daytona"], AT)
    assert base.fake.count(method="PATCH") == base.fake.count(method="POST") == 0


def test_two_writers_at_the_same_moment_never_lose_an_interest(base: Base, store, tmp_path: Path):
    """50 rounds of two programs (own client, own mirror) recording different products at once.

    The read-back waits at least 0.1 s (1.5 s against Airtable), so a loaded test machine
    does not stretch the other writer's read-to-write gap past it.
    """
    policy = replace(FAST, settle_seconds=0.1)
    store, other = base.store(tmp_path / "one.db", policy), base.store(tmp_path / "other.db", policy)
    sync(store)
    sync(other)
    customer_id = store.find(JARDINS, phone_of(3)).id
    rounds = 50
    failures: list[BaseException] = []

    def writer(program, barrier: threading.Barrier, product: str) -> None:
        try:
            barrier.wait()
            program.record(JARDINS, phone_of(3), [product], AT)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    for i in range(rounds):
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=writer, args=(program, barrier, f"Produto {side}{i}"))
                   for program, side in ((store, "A"), (other, "B"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not failures
    saved = base.fields(customer_id)["interests_all"]
    items = saved if isinstance(saved, list) else saved.split(", ")
    lost = [f"Produto {side}{i}" for i in range(rounds) for side in "AB" if f"Produto {side}{i}" not in items]
    assert lost == []
    assert len(items) == 3 + 2 * rounds
    # the writers did collide: some read-backs missed an item and were merged again
    assert base.fake.count(kind="update") > 2 * rounds


def test_a_concurrent_writer_that_drops_an_item_is_merged_again(base: Base, store, monkeypatch):
    """The read-back misses our item (another program overwrote it): merge and write again."""
    customer_id = store.find(JARDINS, phone_of(9)).id
    server = base.fake
    original = server._do_get
    calls = {"n": 0}

    def get_after_overwrite(b, table, info):
        calls["n"] += 1
        if calls["n"] == 2:  # right after our first PATCH: a stale writer puts the old list back
            server.edit_record(base.base_id, "Customers", customer_id,
                             {"interests_all": base.items(["Submariner 2", "Datejust", "Aquanaut 4"])})
        return original(b, table, info)

    monkeypatch.setattr(server, "_do_get", get_after_overwrite)
    store.record(JARDINS, phone_of(9), ["Royal Oak"], AT)
    assert base.fake.count(kind="update") == 2
    saved = base.fields(customer_id)["interests_all"]
    assert "Royal Oak" in (saved if isinstance(saved, list) else saved.split(", "))


# --- faults ------------------------------------------------------------------------


def assert_clean(exc: BaseException) -> None:
    """The message is Portuguese prose, and the token is nowhere in it or its chain."""
    seen: BaseException | None = exc
    while seen is not None:
        assert TOKEN not in str(seen) and TOKEN not in repr(seen)
        seen = seen.__cause__ or seen.__context__


def test_bad_token_401(base: Base, tmp_path: Path):
    store = base.store(tmp_path / "m.db", token="patWRONG.token")
    with pytest.raises(AuthError) as caught:
        sync(store)
    assert "recusou o token (401)" in str(caught.value)
    assert "patWRONG" not in str(caught.value)
    assert_clean(caught.value)


def test_token_without_access_403(base: Base, tmp_path: Path):
    base.fake.token_bases[TOKEN] = {"appSOMEOTHERBASE1"}
    with pytest.raises(PermissionDenied) as caught:
        sync(base.store(tmp_path / "m.db"))
    assert "não tem permissão" in str(caught.value) and "data.records:read" in str(caught.value)
    assert_clean(caught.value)


def test_unknown_base_404(fake: FakeAirtable, tmp_path: Path):  # noqa: F811
    base = Base(fake, "appDOESNOTEXIST01", {}, "list", True)
    with pytest.raises(NotFound) as caught:
        sync(base.store(tmp_path / "m.db"))
    assert "appDOESNOTEXIST01" in str(caught.value) and "404" in str(caught.value)
    assert_clean(caught.value)


def test_unknown_table_is_named(base: Base, tmp_path: Path):
    with pytest.raises(NotFound) as caught:
        sync(base.store(tmp_path / "m.db", customers_table="Clientes"))
    assert "“Clientes” não existe" in str(caught.value)


@pytest.mark.parametrize("missing", ["interests_all", "tenant_id", "phone"])
def test_missing_required_field_is_named_with_how_to_add_it(base: Base, tmp_path: Path, missing: str):
    base.fake.remove_field(base.base_id, "Customers", missing)
    with pytest.raises(MissingField) as caught:
        sync(base.store(tmp_path / "m.db"))
    message = str(caught.value)
    assert caught.value.field_name == missing
    assert f"“{missing}” não existe na tabela “Customers”" in message
    assert "clique em “+”" in message
    assert_clean(caught.value)


def test_field_removed_after_the_first_sync_is_named(base: Base, store):
    base.fake.remove_field(base.base_id, "Customers", "interests_all")
    with pytest.raises(MissingField) as caught:
        sync(store)
    assert "“interests_all” não existe na tabela “Customers”" in str(caught.value)
    assert store.get_meta("last_error") == str(caught.value)


def test_interest_field_of_another_type_is_explained(fake: FakeAirtable, tmp_path: Path):  # noqa: F811
    fake.add_base("appWRONGTYPE00001", {"Tenants": [{"name": "name", "type": "singleLineText"}],
                                        "Customers": customers_schema(history="number")})
    with pytest.raises(UnsupportedField, match="Seleção múltipla"):
        sync(Base(fake, "appWRONGTYPE00001", {}, "list", True).store(tmp_path / "m.db"))


def test_429_storm_waits_out_the_block_and_completes(base: Base, store):
    """Airtable keeps answering 429 for a while: the client waits the block each time."""
    base.fake.inject(status=429, times=4)
    saved = store.record(JARDINS, phone_of(12), ["Overseas"], AT)
    assert "Overseas" in saved.interests_all
    assert base.fake.count() >= 4 + 3


def test_429_that_never_ends_is_reported(base: Base, tmp_path: Path):
    store = base.store(tmp_path / "m.db", policy=ClientPolicy(rate=None, block_seconds=0.01, max_blocks=2))
    base.fake.inject(status=429, times=None)
    with pytest.raises(RateLimited, match="429"):
        sync(store)


def test_pyairtable_default_would_have_given_up(fake: FakeAirtable):  # noqa: F811
    """Why the policy exists: pyairtable's own retry raises RetryError within about 3 s."""
    import requests

    base = make_base(fake, customers=1)
    base.fake.inject(status=429, times=None)
    with pytest.raises(requests.exceptions.RetryError):
        base.fake.api(TOKEN).table(base.base_id, "Customers").first()


def test_other_422_is_reported_with_airtables_reason(base: Base, store):
    base.fake.inject(status=422, times=1, body={"error": {
        "type": "INVALID_FILTER_BY_FORMULA", "message": "The formula for filtering records is invalid"}})
    with pytest.raises(RequestRejected) as caught:
        sync(store)
    assert str(caught.value).startswith("O Airtable recusou a requisição (422 INVALID_FILTER_BY_FORMULA)")
    assert caught.value.error_type == "INVALID_FILTER_BY_FORMULA"


def test_server_errors_are_retried_then_reported(base: Base, store):
    base.fake.inject(status=503, times=2)
    assert sync(store).requests == 3  # two 503s, then the answer
    base.fake.inject(status=502, times=None)
    with pytest.raises(ServerError, match="instável"):
        sync(store)


def test_every_request_has_a_timeout(base: Base, tmp_path: Path):
    store = base.store(tmp_path / "m.db", policy=ClientPolicy(
        rate=None, timeout=(1.0, 0.3), network_retries=1, retry_backoff=0.01))
    base.fake.inject(delay=1.0, times=None)
    with pytest.raises(Unreachable, match="não respondeu a tempo") as caught:
        sync(store)
    assert_clean(caught.value)


def test_network_down(base: Base, tmp_path: Path):
    settings = base.settings()
    base.fake.stop()
    from services.store.airtable import AirtableStore

    store = AirtableStore(tmp_path / "m.db", settings, FAST)
    with pytest.raises(Unreachable, match="Sem conexão com o Airtable") as caught:
        sync(store)
    assert_clean(caught.value)
    assert isinstance(caught.value, StoreError)


def test_token_never_in_repr_or_logs(base: Base, store, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    base.fake.inject(status=429, times=1)
    base.fake.inject(status=500, times=1)
    store.record(JARDINS, phone_of(6), ["Tank"], AT)
    assert TOKEN not in repr(store) and TOKEN not in repr(store.client) and TOKEN not in repr(store.settings)
    assert TOKEN not in caplog.text
    assert TOKEN not in (store.get_meta("last_error") or "")


# --- uniting the two records of one phone --------------------------------------------------


def add_twins(base: Base) -> tuple[str, str]:
    """Customer 100 of Jardins twice: an old record without the ninth digit, a newer one with it."""
    old = {**base.customer(100, store=JARDINS, history=["Submariner 1", "Datejust"]),
           "phone": "(11) 8000-0100", "last_interaction": "2025-01-01T10:00:00.000Z"}
    new = {**base.customer(100, store=JARDINS, history=["Aquanaut 2"]), "name": "",
           "last_interaction": "2025-09-01T10:00:00.000Z"}
    new.pop("name")
    old_id, new_id = base.fake.add_records(base.base_id, "Customers", [old, new],
                                           created_time=SEEDED_AT)
    return old_id, new_id


def interest_items(value: object) -> list[str]:
    return value if isinstance(value, list) else value.split(", ")


def test_uniting_twins_keeps_every_interest_then_deletes_the_duplicate(base: Base, tmp_path: Path):
    old_id, new_id = add_twins(base)
    store = base.store(tmp_path / "m.db")
    sync(store)
    kept = store.merge(JARDINS, [old_id, new_id], AT)
    assert (kept.id, kept.phone, kept.name) == (new_id, phone_of(100), "Cliente 100")
    fields = base.fields(new_id)
    assert interest_items(fields["interests_all"]) == ["Submariner 1", "Datejust", "Aquanaut 2"]
    assert fields["last_interaction"].startswith("2025-09-01")
    assert old_id not in {r["id"] for r in base.fake.records(base.base_id, "Customers")}
    assert old_id not in store.mirror.record_ids()
    assert store.find(JARDINS, "(11) 8000-0100").interests_all == ["Submariner 1", "Datejust", "Aquanaut 2"]


def test_a_write_to_the_duplicate_while_uniting_is_merged_before_it_is_deleted(
        base: Base, tmp_path: Path, monkeypatch):
    old_id, new_id = add_twins(base)
    store = base.store(tmp_path / "m.db")
    sync(store)
    server = base.fake
    original = server._do_update
    calls = {"n": 0}

    def update_then_assistant_writes(b, table, info):
        answer = original(b, table, info)
        calls["n"] += 1
        if calls["n"] == 1:  # the assistant records an interest on the old record meanwhile
            server.edit_record(base.base_id, "Customers", old_id,
                               {"interests_all": base.items(["Submariner 1", "Datejust", "Royal Oak"])})
        return answer

    monkeypatch.setattr(server, "_do_update", update_then_assistant_writes)
    store.merge(JARDINS, [old_id, new_id], AT)
    assert calls["n"] == 2
    assert "Royal Oak" in interest_items(base.fields(new_id)["interests_all"])
    assert old_id not in {r["id"] for r in base.fake.records(base.base_id, "Customers")}
