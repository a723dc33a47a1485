"""Sign-in in a real browser: Streamlit's OIDC against a local provider, and who sees what (SPEC §10)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from oidc_provider import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    OidcProvider,
    VitrineServer,
    access_toml,
    free_port,
)

from services.store.sqlite import SqliteStore  # noqa: E402

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]

JARDINS, LEBLON = "Vitrine Jardins", "Vitrine Leblon"
ADMIN, MANAGER, STRANGER = "dona@vitrine.com.br", "ana@vitrine.com.br", "estranho@gmail.com"
CUSTOMERS = [
    {"id": "recA1", "store": JARDINS, "phone": "+5511987650001", "name": "Alice Jardinsmark",
     "interests": ["Submariner"], "interests_all": ["Datejust", "Submariner"],
     "created_at": "2025-01-10T10:00:00Z", "last_interaction": "2025-06-01T10:00:00Z"},
    {"id": "recB1", "store": LEBLON, "phone": "+5521988880002", "name": "Bruna Leblonmark",
     "interests": ["Nautilus 5711"], "interests_all": ["Aquanaut", "Nautilus 5711"],
     "created_at": "2025-01-10T10:00:00Z", "last_interaction": "2025-06-01T10:00:00Z"},
]
ANY_CUSTOMER = ("Alice", "Jardinsmark", "Bruna", "Leblonmark", "87650001", "88880002")
LEBLON_ONLY = (LEBLON, "Bruna", "Leblonmark", "88880002", "8888-0002")
TIMEOUT = 30_000


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("signin") / "vitrine.db"
    store = SqliteStore(path)
    store.set_meta("source", "test")
    for name in (JARDINS, LEBLON):
        store.add_store(name)
    store.insert_raw(CUSTOMERS)
    return path


@pytest.fixture(scope="module")
def idp() -> Iterator[OidcProvider]:
    with OidcProvider(users=[ADMIN, MANAGER, STRANGER]) as provider:
        yield provider


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, db: Path, idp: OidcProvider) -> Iterator[VitrineServer]:
    port = free_port()
    secrets = idp.auth_toml(port) + access_toml(admins=[ADMIN], stores={MANAGER: [JARDINS]})
    with VitrineServer(tmp_path_factory.mktemp("signin-app"), db, secrets, port=port) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()  # fresh cookies: nobody is signed in
    context.set_default_timeout(TIMEOUT)
    yield context.new_page()
    context.close()


def sign_in(page: Page, app: VitrineServer, email: str) -> None:
    """Open the app, press Entrar, and pick ``email`` on the provider's form."""
    page.goto(app.url)
    page.get_by_role("button", name="Entrar").click()
    expect(page.get_by_role("heading", name="Authorize Client")).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("button", name=email, exact=True).click()


def settled(page: Page) -> None:
    """Wait until the script run of the page has finished."""
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")


def assert_absent(page: Page, texts: tuple[str, ...]) -> None:
    body = page.locator("body").inner_text()
    html = page.content()
    for text in texts:
        assert text not in body, text
        assert text not in html, text


def test_nobody_sees_data_before_signing_in(page: Page, app: VitrineServer) -> None:
    page.goto(app.url)
    expect(page.get_by_role("button", name="Entrar")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_role("link", name="Clientes")).to_have_count(0)
    assert_absent(page, ANY_CUSTOMER + (JARDINS, LEBLON))


def test_unknown_email_gets_sem_acesso_with_no_data_and_can_sign_out(page: Page, app: VitrineServer) -> None:
    sign_in(page, app, STRANGER)
    expect(page.get_by_role("heading", name="Sem acesso")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text(STRANGER)).to_be_visible()
    expect(page.get_by_role("link", name="Clientes")).to_have_count(0)
    assert_absent(page, ANY_CUSTOMER + (JARDINS, LEBLON))

    page.get_by_role("button", name="Sair").click()
    page.get_by_role("button", name="End session").click()  # the provider's logout confirmation
    expect(page.get_by_role("button", name="Entrar")).to_be_visible(timeout=TIMEOUT)


def test_store_manager_sees_only_their_store_on_every_page(page: Page, app: VitrineServer) -> None:
    sign_in(page, app, MANAGER)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text(MANAGER)).to_be_visible(timeout=TIMEOUT)
    expect(sidebar.get_by_text(f"Loja: {JARDINS}")).to_be_visible()
    expect(sidebar.get_by_role("link", name="Auditoria")).to_have_count(0)
    for title in ("Clientes", "Campanhas", "Métricas", "Insights"):
        sidebar.get_by_role("link", name=title).click()
        expect(page).to_have_url(app.url + ("/" if title == "Clientes" else f"/{_slug(title)}"))
        settled(page)
        expect(page.get_by_test_id("stException")).to_have_count(0)
        assert_absent(page, LEBLON_ONLY)


def test_store_manager_cannot_open_the_audit_page_by_its_address(page: Page, app: VitrineServer) -> None:
    sign_in(page, app, MANAGER)
    expect(page.get_by_test_id("stSidebar").get_by_text(MANAGER)).to_be_visible(timeout=TIMEOUT)
    page.goto(app.url + "/auditoria")
    expect(page.get_by_test_id("stSidebar").get_by_text(MANAGER)).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_role("heading", name="Auditoria de exportações")).to_have_count(0)


def test_admin_sees_every_store_and_the_audit_page(page: Page, app: VitrineServer) -> None:
    sign_in(page, app, ADMIN)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text(ADMIN)).to_be_visible(timeout=TIMEOUT)
    stores = sidebar.get_by_test_id("stMultiSelect")
    expect(stores.get_by_text(JARDINS)).to_be_visible()
    expect(stores.get_by_text(LEBLON)).to_be_visible()
    sidebar.get_by_role("link", name="Auditoria").click()
    expect(page.get_by_role("heading", name="Auditoria de exportações")).to_be_visible()


def _slug(title: str) -> str:
    return {"Campanhas": "campanhas", "Métricas": "metricas", "Insights": "insights"}[title]


@pytest.mark.parametrize("address, shown", [
    ("127.0.0.1", "modo local"),
    ("0.0.0.0", "não abre sem login"),
])
def test_without_auth_local_mode_only_on_loopback(
    tmp_path: Path, db: Path, browser: Browser, address: str, shown: str
) -> None:
    with VitrineServer(tmp_path, db, secrets=None, address=address) as server:
        context = browser.new_context()
        page = context.new_page()
        page.goto(server.url)
        expect(page.get_by_text(shown).first).to_be_visible(timeout=TIMEOUT)
        if address == "0.0.0.0":
            expect(page.get_by_role("link", name="Clientes")).to_have_count(0)
            assert_absent(page, ANY_CUSTOMER + (JARDINS, LEBLON))
        else:
            expect(page.get_by_test_id("stSidebar").get_by_text("2 clientes")).to_be_visible()
        context.close()
