"""The sign-in gate in the app (AppTest): local mode, refusals, and each user's stores only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from services.store.sqlite import SqliteStore
from tests.apptext import screen

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
PAGES = ("clientes", "campanhas", "resultados", "metricas", "insights")

JARDINS, LEBLON = "Vitrine Jardins", "Vitrine Leblon"
# ASCII names and phones, so they can be looked for in any rendered element.
ALICE = {"id": "recA1", "store": JARDINS, "phone": "+5511987650001", "name": "Alice Jardinsmark",
         "interests": ["Submariner"], "interests_all": ["Datejust", "Submariner"],
         "created_at": "2025-01-10T10:00:00Z", "last_interaction": "2025-06-01T10:00:00Z"}
BRUNA = {"id": "recB1", "store": LEBLON, "phone": "+5521988880002", "name": "Bruna Leblonmark",
         "interests": ["Nautilus 5711"], "interests_all": ["Aquanaut", "Nautilus 5711"],
         "created_at": "2025-01-10T10:00:00Z", "last_interaction": "2025-06-01T10:00:00Z"}
LEBLON_SECRETS = ("Bruna", "Leblonmark", "88880002", "8888-0002", "Nautilus 5711")

AUTH = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "test-cookie-secret-test-cookie-secret",
    "client_id": "vitrine",
    "client_secret": "vitrine-secret",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}
ACCESS = {"admins": ["dona@vitrine.com.br"], "stores": {"ana@vitrine.com.br": [JARDINS]}}


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "vitrine.db"
    store = SqliteStore(path)
    store.set_meta("source", "test")
    for name in (JARDINS, LEBLON):
        store.add_store(name)
    store.insert_raw([ALICE, BRUNA])
    monkeypatch.setenv("VITRINE_DB", str(path))
    return path


@pytest.fixture
def bound_to() -> Iterator[callable]:
    """Set ``server.address`` for the test, as ``streamlit run --server.address`` would."""
    before = st_config.get_option("server.address")

    def bind(address: str | None) -> None:
        st_config.set_option("server.address", address)

    yield bind
    st_config.set_option("server.address", before)


def app(user: dict | None = None, access: dict | None = ACCESS) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets = {"_": {}}  # local mode: never a developer's real secrets.toml
    if user is not None:
        at.secrets = {"auth": AUTH, **({"access": access} if access is not None else {})}
        at.user = user
    return at




def signed_in(email: str) -> dict:
    return {"is_logged_in": True, "email": email, "email_verified": True}


def test_local_mode_shows_the_badge_and_every_store(db: Path, bound_to) -> None:
    bound_to("127.0.0.1")
    at = app().run()
    assert not at.exception
    assert any("modo local" in m.value for m in at.sidebar.markdown)
    assert [s.options for s in at.sidebar.multiselect] == [[JARDINS, LEBLON]]


@pytest.mark.parametrize("address", ["0.0.0.0", None, "192.168.0.10", "::"])
def test_local_mode_refuses_any_address_but_loopback(db: Path, bound_to, address: str | None) -> None:
    bound_to(address)
    at = app().run()
    assert not at.exception
    assert "não abre sem login" in at.error[0].value
    assert "Alice" not in screen(at) and "Bruna" not in screen(at)
    assert not at.metric and not at.sidebar.multiselect


@pytest.fixture
def host_header(monkeypatch: pytest.MonkeyPatch) -> callable:
    """Give this session's request a ``Host`` header (AppTest has no request, so none by default)."""
    from types import SimpleNamespace

    from streamlit.runtime import context

    def send(*hosts: str) -> None:
        client = SimpleNamespace(headers=[("Host", host) for host in hosts], cookies={})
        monkeypatch.setattr(context, "_get_client_context", lambda: client)

    return send


@pytest.mark.parametrize("host", ["localhost:8501", "127.0.0.1:8501"])
def test_local_mode_opens_as_localhost_or_127_0_0_1(db: Path, bound_to, host_header, host: str) -> None:
    bound_to("127.0.0.1")
    host_header(host)
    at = app().run()
    assert not at.exception and not at.error
    assert [s.options for s in at.sidebar.multiselect] == [[JARDINS, LEBLON]]


@pytest.mark.parametrize("hosts", [("rebound.example:8501",), ("localhost:8501", "rebound.example")])
def test_local_mode_refuses_a_page_opened_under_another_name(
    db: Path, bound_to, host_header, hosts: tuple[str, ...]
) -> None:
    """DNS rebinding: another site's name re-pointed at 127.0.0.1 reaches the loopback server."""
    bound_to("127.0.0.1")
    host_header(*hosts)
    at = app().run()
    assert not at.exception
    assert "só abre como localhost" in at.error[0].value
    assert "rebound.example" not in screen(at)
    assert "Alice" not in screen(at) and "Bruna" not in screen(at)
    assert not at.metric and not at.sidebar.multiselect


def test_not_signed_in_sees_only_the_sign_in_button(db: Path) -> None:
    at = app({"is_logged_in": False}).run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Entrar"]
    assert "Alice" not in screen(at) and "Bruna" not in screen(at)
    assert not at.metric


@pytest.mark.parametrize("user", [
    signed_in("estranho@gmail.com"),
    {"is_logged_in": True},
    {"is_logged_in": True, "email": "dona@vitrine.com.br", "email_verified": False},
])
def test_unknown_or_unverified_email_gets_no_data_and_a_logout(db: Path, user: dict) -> None:
    at = app(user).run()
    assert not at.exception
    assert at.title[0].value == "Sem acesso"
    assert [b.label for b in at.button] == ["Sair"]
    text = screen(at)
    assert "Alice" not in text and "Bruna" not in text
    assert not at.metric and not at.sidebar.multiselect


def test_auth_without_access_section_lets_nobody_in(db: Path) -> None:
    at = app(signed_in("dona@vitrine.com.br"), access=None).run()
    assert at.title[0].value == "Sem acesso"


def test_an_unreadable_access_section_is_an_error_not_a_way_in(db: Path) -> None:
    at = app(signed_in("dona@vitrine.com.br"), access={"admin": ["dona@vitrine.com.br"]}).run()
    assert not at.exception
    assert "[access]" in at.error[0].value
    assert not at.metric


def test_manager_whose_stores_are_missing_from_the_data_gets_no_access(db: Path) -> None:
    access = {"stores": {"ana@vitrine.com.br": ["Vitrine Fechada"]}}
    at = app(signed_in("ana@vitrine.com.br"), access=access).run()
    assert at.title[0].value == "Sem acesso"


def test_a_manager_passes_the_gate_of_an_empty_base_so_a_first_sync_can_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "empty.db"
    SqliteStore(path).set_meta("source", "test")
    monkeypatch.setenv("VITRINE_DB", str(path))
    at = app(signed_in("ana@vitrine.com.br")).run()
    assert not at.exception
    assert "Sem acesso" not in [t.value for t in at.title]
    assert any("0 clientes" in c.value for c in at.sidebar.caption)


@pytest.mark.parametrize("page", PAGES)
def test_manager_sees_only_their_store_on_every_page(db: Path, page: str) -> None:
    at = app(signed_in("ana@vitrine.com.br")).run()
    at.switch_page(f"../pages/{page}.py").run()
    assert not at.exception
    text = screen(at)
    assert "ana@vitrine.com.br" in text
    assert not at.sidebar.multiselect
    assert any(JARDINS in c.value for c in at.sidebar.caption)
    for secret in (LEBLON, *LEBLON_SECRETS):
        assert secret not in text, (page, secret)


def test_manager_has_no_audit_page(db: Path) -> None:
    at = app(signed_in("ana@vitrine.com.br")).run()
    with pytest.raises(ValueError, match="auditoria"):
        at.switch_page("../pages/auditoria.py")


def test_manager_cannot_widen_the_store_choice_through_session_state(db: Path) -> None:
    at = app(signed_in("ana@vitrine.com.br"))
    at.session_state["app_stores"] = [JARDINS, LEBLON]
    at.run()
    text = screen(at)
    assert "Bruna" not in text and LEBLON not in text


def test_admin_sees_every_store_and_the_audit_page(db: Path) -> None:
    at = app(signed_in("Dona@Vitrine.com.br")).run()
    assert not at.exception
    assert [s.options for s in at.sidebar.multiselect] == [[JARDINS, LEBLON]]
    at.switch_page("../pages/auditoria.py").run()
    assert not at.exception
    assert at.title[0].value == "Auditoria de exportações"


def test_the_audit_page_shows_local_time_and_the_list_in_words(db: Path) -> None:
    from datetime import UTC, datetime

    from services.audit import AuditLog, ExportEntry

    segment = {"campaign": "De volta ao estoque", "terms": ["Submariner"], "scope": "all",
               "quiet_days": 7, "inactive_days": None, "min_depth": None, "max_depth": None,
               "stores": [JARDINS], "templates": {"primary": "O {produto} chegou", "secondary": None}}
    AuditLog(db).append(ExportEntry(at=datetime(2026, 3, 1, 2, 30, tzinfo=UTC), who="dona@vitrine.com.br",
                                    stores=(JARDINS,), segment=segment, rows=12, format="csv",
                                    filename="x.csv"))
    at = app(signed_in("dona@vitrine.com.br")).run()
    at.switch_page("../pages/auditoria.py").run()
    shown = at.dataframe[0].value.iloc[0]
    # 02:30 UTC is 23:30 of the day before in São Paulo.
    assert str(shown["at"]) == "2026-02-28 23:30:00"
    assert shown["segment"] == ("De volta ao estoque · Submariner · recentes e histórico · "
                                "silêncio de 7 dias")
    assert shown["channel"] == "painel"


def test_audit_page_run_on_its_own_refuses_a_manager(db: Path) -> None:
    at = AppTest.from_file(str(ROOT / "pages" / "auditoria.py"), default_timeout=60)
    at.secrets = {"auth": AUTH, "access": ACCESS}
    at.user = signed_in("ana@vitrine.com.br")
    at.run()
    assert "administradores" in at.error[0].value
    assert not at.dataframe


@pytest.mark.parametrize("query", ["(21) 98888-0002", "21 8888-0002", "88880002", "Bruna", "leblonmark"])
def test_manager_searching_for_another_stores_customer_finds_nothing(db: Path, query: str) -> None:
    at = app(signed_in("ana@vitrine.com.br")).run()
    at.text_input(key="clientes_query").input(query).run()
    assert not at.exception
    text = screen(at)
    assert "Nenhum cliente encontrado" in text
    for secret in (LEBLON, "Bruna Leblonmark", "Nautilus", "Aquanaut"):
        assert secret not in text, secret


@pytest.mark.parametrize("query", ["(21) 98888-0002", "+55 21 8888-0002"])
def test_a_number_of_a_store_the_manager_may_not_see_is_only_said_to_exist(db: Path, query: str) -> None:
    at = app(signed_in("ana@vitrine.com.br")).run()
    at.text_input(key="clientes_query").input(query).run()
    assert not at.exception
    assert [w.value for w in at.main.warning] == ["Este número já pertence a outra loja."]
    # No way to register it again here, and nothing of the other store: not even its name.
    assert "Cadastrar e registrar" not in [b.label for b in at.button]
    text = screen(at)
    for secret in (LEBLON, "Bruna", "Leblonmark", "Nautilus", "Aquanaut"):
        assert secret not in text, secret


def test_manager_sees_their_own_customer_by_phone(db: Path) -> None:
    at = app(signed_in("ana@vitrine.com.br")).run()
    at.text_input(key="clientes_query").input("(11) 98765-0001").run()
    assert not at.exception
    assert "Alice Jardinsmark" in screen(at)
