"""Sign-in in a real browser: Streamlit's OIDC against a local provider, and who sees what (SPEC §10)."""

from __future__ import annotations

import json
import os
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

from services.audit import AuditLog  # noqa: E402
from services.store.sqlite import SqliteStore  # noqa: E402

pytestmark = [
    pytest.mark.e2e,
    # CI must run the browser suite (make test installs chromium), never pass by skipping it.
    pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                       reason="Debian's chromium is not installed"),
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
HOSTILE_PHONE = "+5511987659999"
SCRIPT, BOLD, JS_LINK, IMG = ("<script>alert(1)</script>", "**bold**", "[link](javascript:alert(2))",
                              "<img src=x onerror=alert(3)>")
HOSTILE_NAME = f"{SCRIPT} {BOLD} {JS_LINK} {IMG}"
HOSTILE_PRODUCTS = [f"{IMG} Submariner", "[clique](javascript:alert(5))", "**Daytona**"]
CUSTOMERS.append(
    {"id": "recA2", "store": JARDINS, "phone": HOSTILE_PHONE, "name": HOSTILE_NAME,
     "interests": HOSTILE_PRODUCTS, "interests_all": ["Datejust", *HOSTILE_PRODUCTS],
     "created_at": "2025-01-10T10:00:00Z", "last_interaction": "2025-05-20T10:00:00Z"},
)
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


def test_hostile_names_and_products_are_shown_as_text(page: Page, app: VitrineServer) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, app, MANAGER)
    search = page.get_by_role("textbox", name="Telefone ou nome do cliente")
    search.fill("(11) 98765-9999")
    search.press("Enter")
    card = page.locator(".st-key-clientes_card")
    expect(card.get_by_text(HOSTILE_NAME, exact=True)).to_be_visible(timeout=TIMEOUT)
    settled(page)
    chips = card.get_by_test_id("stMarkdownContainer")
    expect(chips.get_by_text("**Daytona**").first).to_be_visible()
    expect(chips.get_by_text(f"{IMG} Submariner").first).to_be_visible()
    main = page.get_by_test_id("stMain")
    for dangerous in ("img[src='x']", "a[href^='javascript']", "a[href*='alert']", "[onerror]"):
        expect(main.locator(dangerous)).to_have_count(0)
    expect(main.locator("script")).to_have_count(0)
    expect(main.locator("strong", has_text="bold")).to_have_count(0)
    expect(main.locator("strong", has_text="Daytona")).to_have_count(0)
    assert dialogs == []


def test_a_download_is_audited_and_the_admin_sees_it(
    browser: Browser, app: VitrineServer, db: Path, tmp_path: Path
) -> None:
    before = len(AuditLog(db).entries())
    context = browser.new_context(accept_downloads=True)
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    sign_in(page, app, MANAGER)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text(MANAGER)).to_be_visible(timeout=TIMEOUT)
    sidebar.get_by_role("link", name="Campanhas").click()
    page.get_by_text("Personalizada", exact=True).click()
    settled(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Baixar CSV").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    with page.expect_download() as workbook:
        page.get_by_role("button", name="Baixar XLSX").click()
    assert workbook.value.suggested_filename.endswith(".xlsx")
    context.close()

    text = saved.read_text("utf-8-sig")
    rows = text.strip().splitlines()[1:]
    assert len(rows) == 2 and "Alice Jardinsmark" in text
    for trace in LEBLON_ONLY:
        assert trace not in text
    entries = AuditLog(db).entries()
    assert len(entries) == before + 2
    xlsx, entry = entries.iloc[0], entries.iloc[1]
    assert (entry["who"], entry["stores"], entry["format"], entry["rows"], entry["channel"]) == (
        MANAGER, [JARDINS], "csv", 2, "dashboard")
    assert entry["filename"] == saved.name
    assert (xlsx["who"], xlsx["format"], xlsx["rows"]) == (MANAGER, "xlsx", 2)
    assert json.loads(entry["segment"])["terms"] == []

    admin = browser.new_context()
    admin.set_default_timeout(TIMEOUT)
    page = admin.new_page()
    sign_in(page, app, ADMIN)
    page.get_by_test_id("stSidebar").get_by_role("link", name="Auditoria").click()
    expect(page.get_by_role("heading", name="Auditoria de exportações")).to_be_visible()
    expect(page.get_by_text(f"{before + 2} exportações")).to_be_visible()
    admin.close()


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
            expect(page.get_by_test_id("stSidebar").get_by_text(f"{len(CUSTOMERS)} clientes")).to_be_visible()
        context.close()
