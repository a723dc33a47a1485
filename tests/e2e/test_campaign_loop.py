"""The campaign loop in a real browser: save a campaign, download it, a reply and a purchase, Resultados."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from apptest_support import NOW
from e2e_support import screenshot
from playwright.sync_api import Page, expect

from dashboard.results import table
from services.campaign_results import outcomes, results
from services.campaigns import CONTROLE, ENVIO
from services.exports import EXPORT_HEADERS
from services.interests import format_phone
from services.segments import PRIMARY
from services.store.campaigns import CampaignStore
from services.store.sqlite import SqliteStore

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
NAME = "Submariner de volta — teste"
SENT_DAY = "28/02/2026"
REPLY_AT = "2026-02-28T15:00:00Z"


def expected(db: Path, campaign):
    store, campaigns = SqliteStore(db), CampaignStore(db)
    frame = outcomes(campaigns.list(), campaigns.members(), store.events.frame(), 14,
                     NOW + timedelta(hours=1), catalog=store.catalog())
    return results(campaign, frame), frame


def cli(db: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRTABLE_") and k != "VITRINE_DB"}
    env["VITRINE_SECRETS"] = str(ROOT / "tests" / "no-such-secrets.toml")
    done = subprocess.run([sys.executable, "-m", "services", "--db", str(db), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def table_rows(page: Page) -> list[list[str]]:
    """The results table as the browser shows it, row by row."""
    shown = page.get_by_test_id("stTable").first
    expect(shown).to_be_visible()
    return [[cell.inner_text().strip() for cell in row.locator("th, td").all()]
            for row in shown.locator("tbody tr").all()]


def test_a_saved_campaign_its_download_a_reply_and_a_purchase_reach_resultados(
        e2e_page: Page, vitrine: str, e2e_db: Path, tmp_path: Path) -> None:
    page = e2e_page
    page.goto(f"{vitrine}/campanhas")
    expect(page.get_by_role("heading", name="Campanhas", exact=True)).to_be_visible()
    page.get_by_role("radio", name="De volta ao estoque").click()
    terms = page.get_by_role("combobox", name="Produtos, linhas ou marcas")
    terms.click()
    terms.fill("Submariner")
    terms.press("Enter")
    terms.press("Escape")
    expect(page.get_by_text("Total na lista")).to_be_visible()

    # Save: a name, 10% held out, sent on 28/02 (the manager says so).
    form = page.get_by_test_id("stForm").filter(has=page.get_by_text("Salvar como campanha"))
    form.get_by_role("textbox", name="Nome da campanha").fill(NAME)
    form.get_by_text("Já enviei, na data abaixo").click()
    form.get_by_role("spinbutton", name="day, Enviada em").click()
    page.keyboard.type(SENT_DAY.replace("/", ""), delay=30)
    expect(form.get_by_role("spinbutton", name="day, Enviada em")).to_have_text("28")
    expect(form.get_by_role("spinbutton", name="month, Enviada em")).to_have_text("02")
    form.get_by_role("button", name="Salvar campanha").click()
    expect(page.get_by_text(f"Campanha “{NAME}” salva")).to_be_visible()
    campaigns = CampaignStore(e2e_db)
    campaign, members = campaigns.get(campaigns.list()[0].id)
    assert campaign.name == NAME and campaign.sent_at.date().isoformat() == "2026-02-28"
    screenshot(page, "campanha-salva")

    # The download holds the group sent only.
    with page.expect_download() as download:
        page.get_by_role("button", name="Baixar CSV da campanha (só envio)").first.click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_bytes().decode("utf-8-sig"))))
    phones = [row[EXPORT_HEADERS["phone"]] for row in rows]
    assert phones == members.loc[members["group"] == ENVIO, "phone"].tolist()
    assert not set(phones) & set(members.loc[members["group"] == CONTROLE, "phone"])
    assert campaigns.get(campaign.id)[0].sent_at == campaign.sent_at  # the date given stays

    # A reply on WhatsApp (the assistant's `record`) from a primary member the message was sent to,
    # and a purchase on the card of a control member; neither had such an outcome yet.
    before, frame = expected(e2e_db, campaign)
    mine = frame[frame["campaign_id"] == campaign.id].merge(members[["customer_id", "phone"]])
    replier = mine[(mine["tier"] == PRIMARY) & (mine["group"] == ENVIO) & ~mine["respondeu"]].iloc[0]
    buyer = mine[(mine["group"] == CONTROLE) & ~mine["comprou"]].iloc[0]
    cli(e2e_db, "record", "--store", replier["store"], "--phone", replier["phone"], "--at", REPLY_AT,
        "Submariner")

    page.goto(vitrine)
    box = page.get_by_role("textbox", name="Telefone ou nome do cliente")
    box.fill(format_phone(buyer["phone"]))
    box.press("Enter")
    purchase = page.get_by_test_id("stForm").filter(has=page.get_by_text("Registrar compra"))
    purchase.get_by_role("combobox", name="Produto").click()
    page.keyboard.type("Submariner")
    page.keyboard.press("Enter")
    purchase.get_by_role("spinbutton", name="Valor (R$)").fill("98000")
    purchase.get_by_role("button", name="Registrar compra").click()
    expect(page.get_by_text("Compra registrada: Submariner")).to_be_visible()

    after, _ = expected(e2e_db, campaign)
    assert after[PRIMARY][ENVIO]["respondeu"] == before[PRIMARY][ENVIO]["respondeu"] + 1
    tier = buyer["tier"]
    assert after[tier][CONTROLE]["comprou"] == before[tier][CONTROLE]["comprou"] + 1
    assert after[tier][CONTROLE]["revenue_brl"] == before[tier][CONTROLE]["revenue_brl"] + 98_000

    # Resultados shows them in the right tier and group.
    page.goto(f"{vitrine}/resultados")
    expect(page.get_by_role("heading", name="Resultados", exact=True)).to_be_visible()
    expect(page.get_by_text("confirmações de leitura do WhatsApp")).to_be_visible()
    choice = page.get_by_test_id("stSelectbox").filter(has=page.get_by_text("Campanha", exact=True))
    choice.locator("input").click()
    page.get_by_role("option", name=f"{NAME} · enviada 28/02/2026").click()
    assert table_rows(page) == table(after).astype(str).to_numpy().tolist()
    expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(1)
    screenshot(page, "resultados")
