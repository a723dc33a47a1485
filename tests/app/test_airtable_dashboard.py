"""The dashboard pointed at the local Airtable (AppTest): shows the base, refreshes, survives faults."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from services.store.sqlite import SqliteStore
from tests.airtable_helpers import STORES, TOKEN, Base, make_base
from tests.apptext import screen
from tests.fake_airtable import FakeAirtable

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
PAGES = ("clientes", "campanhas", "resultados", "metricas", "insights")


@pytest.fixture
def base() -> Iterator[Base]:
    # Airtable's real rate limit: the dashboard's own throttle keeps under it.
    with FakeAirtable(tokens=[TOKEN], rate_limit_per_sec=5, block_seconds=0.5, seed=21) as server:
        yield make_base(server, customers=45)


@pytest.fixture(autouse=True)
def local_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh mirror file, local mode (loopback, no sign-in) and clean Streamlit caches."""
    path = tmp_path / "vitrine.db"
    monkeypatch.setenv("VITRINE_DB", str(path))
    for name in ("AIRTABLE_API_KEY", "AIRTABLE_BASE_ID", "AIRTABLE_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    before = st_config.get_option("server.address")
    st_config.set_option("server.address", "127.0.0.1")
    st.cache_data.clear()
    st.cache_resource.clear()
    yield path
    st.cache_data.clear()
    st.cache_resource.clear()
    st_config.set_option("server.address", before)


def point_at(base: Base, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRTABLE_API_KEY", TOKEN)
    monkeypatch.setenv("AIRTABLE_BASE_ID", base.base_id)
    monkeypatch.setenv("AIRTABLE_ENDPOINT_URL", base.fake.url)


def open_app(secrets: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets = secrets or {"_": {}}  # never a real secrets.toml
    return at.run()




def sidebar_text(at: AppTest) -> str:
    return "\n".join(c.value for c in at.sidebar.caption)


def test_the_dashboard_shows_the_airtable_base(base: Base, monkeypatch, local_app: Path):
    point_at(base, monkeypatch)
    at = open_app()
    assert not at.exception
    assert "45 clientes" in sidebar_text(at)
    assert "Airtable · atualizado agora há pouco" in sidebar_text(at)
    assert [s.options for s in at.sidebar.multiselect] == [list(STORES)]
    mirror = SqliteStore(local_app)
    assert mirror.get_meta("source") == "airtable"  # the demo was never made
    assert not [r for r in base.fake.log if r.status == 429]
    for page in PAGES:
        at.switch_page(f"../pages/{page}.py").run()
        assert not at.exception, page
    assert TOKEN not in screen(at)


def test_secrets_configure_the_base_too(base: Base, local_app: Path):
    at = open_app({"airtable": {"AIRTABLE_API_KEY": TOKEN, "AIRTABLE_BASE_ID": base.base_id,
                                "AIRTABLE_ENDPOINT_URL": base.fake.url}})
    assert not at.exception
    assert "45 clientes" in sidebar_text(at)


def test_the_refresh_button_brings_the_changes(base: Base, monkeypatch):
    point_at(base, monkeypatch)
    at = open_app()
    base.add_customers(2, start=700, just_now=True)
    base.fake.reset_stats()
    at.sidebar.button(key="fonte_atualizar").click().run()
    assert not at.exception
    assert "47 clientes" in sidebar_text(at)
    assert base.fake.count() == 1  # an incremental sync: one request
    assert "Sincronização incremental: 2 registros lidos" in sidebar_text(at)


def test_a_fault_shows_a_banner_and_keeps_the_last_mirror(base: Base, monkeypatch):
    point_at(base, monkeypatch)
    at = open_app()
    base.add_customers(2, start=700, just_now=True)
    base.fake.valid_tokens = {"patREVOKED.0"}  # the token was revoked in Airtable
    at.sidebar.button(key="fonte_atualizar").click().run()
    assert not at.exception
    warnings = " ".join(w.value for w in at.sidebar.warning)
    assert "recusou o token (401)" in warnings and "Mostrando a cópia local" in warnings
    assert "45 clientes" in sidebar_text(at)  # the last good mirror stays on screen
    assert TOKEN not in screen(at)
    base.fake.valid_tokens = {TOKEN}
    at.sidebar.button(key="fonte_atualizar").click().run()
    assert not at.sidebar.warning and "47 clientes" in sidebar_text(at)


def test_network_down_on_refresh(base: Base, monkeypatch):
    point_at(base, monkeypatch)
    at = open_app()
    base.fake.inject(drop=True, times=None)  # every connection cut (the app's retries included)
    at.sidebar.button(key="fonte_atualizar").click().run()
    assert not at.exception
    assert "Sem conexão com o Airtable" in " ".join(w.value for w in at.sidebar.warning)
    assert "45 clientes" in sidebar_text(at)


def test_a_first_sync_that_fails_says_why_and_shows_no_demo(base: Base, monkeypatch, local_app: Path):
    point_at(base, monkeypatch)
    base.fake.remove_field(base.base_id, "Customers", "interests_all")
    at = open_app()
    assert not at.exception
    errors = " ".join(e.value for e in at.sidebar.error)
    assert "“interests_all” não existe na tabela “Customers”" in errors
    assert SqliteStore(local_app).is_empty()
    base.fake.add_field(base.base_id, "Customers", {"name": "interests_all", "type": "multilineText"})
    at.sidebar.button(key="fonte_tentar").click().run()
    assert not at.exception and not at.sidebar.error
    assert "45 clientes" in sidebar_text(at)


def record_from_the_clientes_page(at: AppTest, phone: str, products: str) -> AppTest:
    at.text_input(key="clientes_query").input(phone).run()
    at.multiselect(key="clientes_record_products").set_value([products]).run()
    # The base's Products table does not hold it: recorded once confirmed.
    at.checkbox(key="clientes_record_outside_ok").check().run()
    return at.button(key="clientes_record_save").click().run()


def test_an_interest_recorded_on_screen_is_written_to_airtable(base: Base, monkeypatch, local_app: Path):
    point_at(base, monkeypatch)
    at = record_from_the_clientes_page(open_app(), "(11) 98000-0003", "Royal Oak")
    assert not at.exception
    assert "Interesse registrado" in at.success[0].value
    customer = SqliteStore(local_app).find(STORES[0], "(11) 98000-0003")
    fields = base.fields(customer.id)
    assert fields["interests_all"][-1] == "Royal Oak"  # a multiple select, written as a list
    assert customer.interests_all[-1] == "Royal Oak"  # and the mirror row at once


def test_a_write_that_fails_is_reported_on_screen(base: Base, monkeypatch, local_app: Path):
    point_at(base, monkeypatch)
    at = open_app()
    base.fake.inject(status=403, times=None, method="PATCH")
    at = record_from_the_clientes_page(at, "(11) 98000-0003", "Royal Oak")
    assert not at.exception
    assert "não tem permissão" in at.error[0].value
    assert "Royal Oak" not in SqliteStore(local_app).find(STORES[0], "(11) 98000-0003").interests_all
    assert TOKEN not in screen(at)


@pytest.mark.parametrize("bad_token", ["patLeakMe12345.abcdef\n0123456789abcdef", "patçãoLeak.0123456789"])
def test_a_token_that_cannot_be_one_is_named_never_shown(monkeypatch, bad_token: str):
    monkeypatch.setenv("AIRTABLE_API_KEY", bad_token)
    monkeypatch.setenv("AIRTABLE_BASE_ID", "appBase0000000001")
    at = open_app()
    assert not at.exception
    text = screen(at)
    assert "AIRTABLE_API_KEY" in text
    for part in [bad_token, *bad_token.splitlines()]:
        assert part not in text
