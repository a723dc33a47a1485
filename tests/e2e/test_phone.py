"""The three jobs on a phone (390×844): what a salesperson needs is on the first screens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apptest_support import KNOWN, KNOWN_PHONE, NOW, data_of
from e2e_support import screenshot
from openpyxl import load_workbook
from playwright.sync_api import Browser, Locator, Page, expect

from services.metrics import COVERAGE
from services.metrics import compute as metrics
from services.profile import profile
from services.search import search
from services.segments import PRESETS, build_list
from services.wording import days_ago

pytestmark = pytest.mark.e2e

SCREEN = {"width": 390, "height": 844}


@pytest.fixture
def phone(e2e_browser: Browser, vitrine: str) -> Iterator[Page]:
    """A phone's browser: 390×844, touch, the pixel density of a current phone."""
    context = e2e_browser.new_context(viewport=SCREEN, device_scale_factor=2, is_mobile=True,
                                      has_touch=True, accept_downloads=True, locale="pt-BR",
                                      timezone_id="America/Sao_Paulo")
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()


def within_screens(locator: Locator, screens: int = 1) -> None:
    """The element is drawn inside the first ``screens`` screens, without scrolling sideways."""
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    assert box is not None
    assert 0 <= box["y"] and box["y"] + box["height"] <= SCREEN["height"] * screens, box
    assert 0 <= box["x"] and box["x"] + box["width"] <= SCREEN["width"], box


def no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= SCREEN["width"]


def open_page(page: Page, url: str, title: str) -> None:
    page.goto(url)
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()


def test_visit_prep_the_card_answers_on_the_first_screen(phone: Page, vitrine: str, e2e_db: Path) -> None:
    open_page(phone, vitrine, "Clientes")
    box = phone.get_by_role("textbox", name="Telefone ou nome do cliente")
    box.fill("(11) 9 8765-4321")
    box.press("Enter")
    data = data_of(e2e_db)
    card = profile(data, int(search(data, KNOWN_PHONE)["cid"][0]), NOW)
    within_screens(phone.get_by_role("heading", name=KNOWN["name"]))
    facts = phone.get_by_test_id("stMarkdownContainer").filter(has_text=card.store)
    expect(facts).to_contain_text(f"último contato {days_ago(card.days_since)}")
    within_screens(facts)
    within_screens(phone.get_by_role("link", name="Abrir no WhatsApp"))
    for item in card.recent:
        within_screens(phone.get_by_text(item.label, exact=True))
    for point in card.talking_points:
        within_screens(phone.get_by_text(point, exact=True))
    no_sideways_scroll(phone)
    box.blur()
    screenshot(phone, "clientes-celular", full_page=False)


def test_a_campaign_list_counts_and_downloads_within_two_screens(phone: Page, vitrine: str,
                                                                 e2e_db: Path, tmp_path: Path) -> None:
    open_page(phone, f"{vitrine}/campanhas", "Campanhas")
    phone.get_by_role("radio", name="De volta ao estoque").click()
    terms = phone.get_by_role("combobox", name="Produtos, linhas ou marcas")
    terms.click()
    terms.fill("Submariner")
    terms.press("Enter")
    terms.press("Escape")
    terms.blur()
    data = data_of(e2e_db)
    preset = PRESETS["estoque"]
    result = build_list(data, preset.segment_for(["Submariner"], stores=data.stores), NOW, preset.templates)
    total = phone.get_by_test_id("stMetric").filter(has=phone.get_by_text("Total na lista", exact=True))
    expect(total.get_by_test_id("stMetricValue")).to_have_text(str(result.total))
    within_screens(total, screens=2)
    for label in ("Baixar CSV", "Baixar XLSX", "Baixar quem ficou de fora"):
        within_screens(phone.get_by_role("button", name=label), screens=2)
    no_sideways_scroll(phone)
    screenshot(phone, "campanhas-celular", full_page=False)

    with phone.expect_download() as download:
        phone.get_by_role("button", name="Baixar XLSX").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert load_workbook(path).active.max_row - 1 == result.total


def test_metricas_tiles_lead_on_a_phone(phone: Page, vitrine: str, e2e_db: Path) -> None:
    open_page(phone, f"{vitrine}/metricas", "Métricas")
    from dashboard.health import metric_value

    report = metrics(data_of(e2e_db), NOW)
    tile = phone.get_by_test_id("stMetric").filter(has=phone.get_by_text("Cobertura", exact=True))
    expect(tile.get_by_test_id("stMetricValue")).to_have_text(metric_value(COVERAGE, report.total))
    within_screens(tile)
    no_sideways_scroll(phone)
    screenshot(phone, "metricas-celular", full_page=False)


def test_insights_opens_on_a_phone(phone: Page, vitrine: str) -> None:
    open_page(phone, f"{vitrine}/insights", "Insights")
    expect(phone.get_by_test_id("stVegaLiteChart").first).to_be_visible()
    no_sideways_scroll(phone)
    screenshot(phone, "insights-celular", full_page=False)
