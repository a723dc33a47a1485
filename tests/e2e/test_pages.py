"""The three jobs in a real browser: visit prep, a campaign with its downloads, metrics and insights."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd
import pytest
from apptest_support import HOSTILE, JARDINS, KNOWN, KNOWN_PHONE, NOW, data_of
from e2e_support import screenshot
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from dashboard.charts import WEEKLY_TITLES
from dashboard.health import metric_value as tile_value
from dashboard.health import weekly_reading
from services.audit import AuditLog
from services.exports import EXPORT_HEADERS
from services.insights import compute as insights
from services.insights import times
from services.metrics import COVERAGE
from services.metrics import compute as metrics
from services.segments import PRESETS, TIER_LABELS, build_list
from services.store.sqlite import SqliteStore
from services.weekly import weekly_metrics
from services.wording import percent

pytestmark = pytest.mark.e2e


def open_page(page: Page, url: str, title: str) -> None:
    page.goto(url)
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()


def metric_value(page: Page, label: str) -> str:
    tile = page.get_by_test_id("stMetric").filter(has=page.get_by_text(label, exact=True))
    return tile.get_by_test_id("stMetricValue").inner_text().strip()


def expect_metric(page: Page, label: str, value: str) -> None:
    tile = page.get_by_test_id("stMetric").filter(has=page.get_by_text(label, exact=True))
    expect(tile.get_by_test_id("stMetricValue")).to_have_text(value)


def expect_card_figure(page: Page, label: str, value: str) -> None:
    """One figure of the card's compact strip (a small label over a bold value)."""
    figure = page.locator(".st-key-clientes_tiles [data-testid='stMarkdownContainer']").filter(has_text=label)
    expect(figure.locator("strong")).to_have_text(value)


def search(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Telefone ou nome do cliente")
    box.fill(text)
    box.press("Enter")


def choose_product(page: Page, typed: str) -> None:
    """Type a product in the card's product field and take what it offers (the catalog's match)."""
    field = page.get_by_role("combobox", name="Produtos")
    field.click()
    field.fill(typed)
    field.press("Enter")
    field.press("Escape")


def test_phone_lookup_then_an_in_store_note_shows_on_the_card(e2e_page: Page, vitrine: str,
                                                              e2e_db: Path) -> None:
    page = e2e_page
    open_page(page, vitrine, "Clientes")
    search(page, "(11) 9 8765-4321")
    expect(page.get_by_role("heading", name=KNOWN["name"])).to_be_visible()
    expect(page.get_by_text("Foco recente: Patek Philippe (5 de 5)")).to_be_visible()
    expect(page.get_by_text("Subiu de faixa de preço: de Rolex para Patek Philippe")).to_be_visible()
    expect(page.get_by_role("link", name="Abrir no WhatsApp")).to_have_attribute(
        "href", "https://wa.me/5511987654321")
    expect_card_figure(page, "Interesses", "11")
    screenshot(page, "clientes")

    choose_product(page, "daytona")
    page.get_by_role("button", name="Registrar interesse").click()
    expect(page.get_by_text("Interesse registrado para Helena Vasconcelos: Daytona.")).to_be_visible()
    expect_card_figure(page, "Interesses", "12")
    chips = page.get_by_text(re.compile(r"· (Rolex|Patek Philippe)$"))
    expect(chips.first).to_have_text("Daytona · Rolex")
    saved = SqliteStore(e2e_db).find(JARDINS, KNOWN_PHONE)
    assert saved.interests[-1] == "Daytona" and len(saved.interests_all) == 12
    # The note is dated on the card's timeline: when, where, what.
    expect(page.get_by_text("hoje · na loja — Perguntou por Daytona")).to_be_visible()


def test_a_hostile_name_is_shown_as_typed(e2e_page: Page, vitrine: str) -> None:
    page = e2e_page
    open_page(page, vitrine, "Clientes")
    search(page, "Zed")
    heading = page.get_by_role("heading", name=re.compile("^Zed"))
    expect(heading).to_be_visible()
    shown = heading.inner_text().replace("\u2060", "")  # the invisible joiner that defuses autolinks
    assert shown.strip() == HOSTILE["name"]
    expect(heading.locator("a, strong, b, img")).to_have_count(0)


def test_back_in_stock_for_submariner_counts_and_both_downloads(e2e_page: Page, vitrine: str,
                                                                e2e_db: Path, tmp_path: Path) -> None:
    page = e2e_page
    open_page(page, f"{vitrine}/campanhas", "Campanhas")
    page.get_by_role("radio", name="De volta ao estoque").click()
    terms = page.get_by_role("combobox", name="Produtos, linhas ou marcas")
    terms.click()
    terms.fill("Submariner")
    terms.press("Enter")
    terms.press("Escape")
    expect(page.get_by_text("Total na lista")).to_be_visible()

    data = data_of(e2e_db)
    preset = PRESETS["estoque"]
    result = build_list(data, preset.segment_for(["Submariner"], stores=data.stores), NOW, preset.templates)
    expect_metric(page, "Principal", f"{result.counts['primary']:,}".replace(",", "."))
    expect_metric(page, "Secundário", f"{result.counts['secondary']:,}".replace(",", "."))
    expect_metric(page, "Total na lista", f"{result.total:,}".replace(",", "."))
    expect_metric(page, "Em conversa agora", str(result.excluded["recently_active"]))
    screenshot(page, "campanhas")

    with page.expect_download() as csv_download:
        page.get_by_role("button", name="Baixar CSV").click()
    csv_path = tmp_path / csv_download.value.suggested_filename
    csv_download.value.save_as(csv_path)
    assert csv_path.name == "de-volta-ao-estoque-submariner-2026-03-01.csv"
    raw = csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == result.total
    assert [r[EXPORT_HEADERS["phone"]] for r in rows] == result.rows["phone"].tolist()
    assert [r[EXPORT_HEADERS["tier"]] for r in rows] == result.rows["tier"].map(TIER_LABELS).tolist()
    assert all("Submariner" in r[EXPORT_HEADERS["matched"]] for r in rows)

    with page.expect_download() as xlsx_download:
        page.get_by_role("button", name="Baixar XLSX").click()
    xlsx_path = tmp_path / xlsx_download.value.suggested_filename
    xlsx_download.value.save_as(xlsx_path)
    assert xlsx_path.suffix == ".xlsx"
    sheet = load_workbook(xlsx_path).active
    table = list(sheet.iter_rows(values_only=True))
    assert list(table[0]) == list(EXPORT_HEADERS.values())
    assert len(table) - 1 == result.total
    assert [row[2] for row in table[1:]] == result.rows["phone"].tolist()
    header = list(table[0])
    days = header.index(EXPORT_HEADERS["days_since"])
    assert [row[days] for row in table[1:]] == [None if pd.isna(d) else int(d)
                                                for d in result.rows["days_since"]]
    link = sheet.cell(row=2, column=header.index(EXPORT_HEADERS["whatsapp"]) + 1)
    assert link.hyperlink.target.startswith("https://wa.me/" + result.rows["phone"].iloc[0][1:] + "?text=")

    with page.expect_download() as left_download:
        page.get_by_role("button", name="Baixar quem ficou de fora").click()
    left_path = tmp_path / left_download.value.suggested_filename
    left_download.value.save_as(left_path)
    left = list(load_workbook(left_path).active.iter_rows(values_only=True))
    assert left[0][0] == "Motivo" and len(left) - 1 == len(result.left_out)

    audit = AuditLog(e2e_db).entries()
    latest = audit.head(3)
    assert sorted(latest["format"]) == ["csv", "xlsx", "xlsx"]
    assert sorted(latest["rows"]) == sorted([result.total, result.total, len(result.left_out)])


def test_metricas_shows_the_coverage_the_services_compute(e2e_page: Page, vitrine: str,
                                                          e2e_db: Path) -> None:
    page = e2e_page
    open_page(page, f"{vitrine}/metricas", "Métricas")
    report = metrics(data_of(e2e_db), NOW)
    expect_metric(page, "Cobertura", tile_value(COVERAGE, report.total))
    expect(page.get_by_text("Qualidade dos dados")).to_be_visible()
    expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible()
    # Twelve weekly points per metric, rebuilt from the timeline: the reading under the chart
    # quotes the first and last of the services' twelve.
    history = weekly_metrics(data_of(e2e_db), SqliteStore(e2e_db).events.frame(), NOW)
    for metric in ("coverage", "recency_days", "depth"):
        assert history[history["store"] == "total"]["week_end"].nunique() == 12
        if metric != "coverage":
            page.get_by_text(WEEKLY_TITLES[metric], exact=True).click()
        expect(page.get_by_text(weekly_reading(history, metric))).to_be_visible()
    screenshot(page, "metricas")


def test_insights_quotes_the_first_brand_share(e2e_page: Page, vitrine: str, e2e_db: Path) -> None:
    page = e2e_page
    open_page(page, f"{vitrine}/insights", "Insights")
    first = insights(data_of(e2e_db)).journeys.first_brands.iloc[0]
    expect(page.get_by_text(f"{percent(first['share'])} começam com {first['brand']}")).to_be_visible()
    expect(page.get_by_text("Venda cruzada")).to_be_visible()
    expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(4)
    # Trending by the time-window rule: the page says so, and names what the services find.
    found = insights(data_of(e2e_db), events=SqliteStore(e2e_db).events.frame(), now=NOW).trending
    assert found.mode == "timeline"
    hot = found.products[found.products["trending"]].iloc[0]
    expect(page.get_by_text(re.compile(r"^Pela linha do tempo \(linha do tempo de \d+ dias"))).to_be_visible()
    reading = (f"{hot['title']} em alta: {times(hot['lift'])} mais clientes por dia nos últimos 30 dias "
               f"({hot['customers_recent']} clientes) que nos 90 anteriores")
    expect(page.get_by_text(reading)).to_be_visible()
    screenshot(page, "insights")


def test_an_edited_message_survives_a_reload(e2e_page: Page, vitrine: str) -> None:
    page = e2e_page
    open_page(page, f"{vitrine}/campanhas", "Campanhas")
    page.get_by_role("radio", name="Fãs da marca").click()
    message = page.get_by_role("textbox", name="Mensagem")
    expect(message).to_have_value(PRESETS["marca"].templates.primary)
    edited = "Novidades {marca} na {loja}, {primeiro_nome}!"
    message.fill(edited)
    message.press("Control+Enter")  # commits the text area's value
    expect(page).to_have_url(re.compile("campanhas_msg_marca_primary="))
    page.reload()
    expect(page.get_by_role("radio", name="Fãs da marca")).to_be_checked()
    expect(page.get_by_role("textbox", name="Mensagem")).to_have_value(edited)
