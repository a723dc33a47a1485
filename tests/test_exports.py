"""Campaign list downloads: CSV for messaging tools, XLSX for people, JSON for the CLI (SPEC §5)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime
from urllib.parse import parse_qs, quote, urlsplit

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.exports import (
    EXPORT_HEADERS,
    export_filename,
    left_out_xlsx,
    neutralise,
    segment_to_json,
    slug,
    to_csv,
    to_xlsx,
    whatsapp_link,
    whatsapp_links,
)
from services.frame import build
from services.segments import COLUMNS, PRESETS, Segment, build_list

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
# The words on screen (SPEC §5), and the WhatsApp link last.
HEADER = ["Nível", "Nome", "Telefone", "Loja", "Produtos procurados", "Marcas", "Último contato",
          "Dias sem contato", "Interesses", "Mensagem", "WhatsApp"]
LINK = ("https://wa.me/5511987654321?text=O%20Submariner%20que%20voc%C3%AA%20procurou%20est%C3%A1%20"
        "dispon%C3%ADvel%21%20Quer%20agendar%20visita%3F")


def row(**fields: object) -> dict[str, object]:
    base = {
        "tier": "primary", "name": "Ana Souza", "phone": "+5511987654321", "store": "Loja A",
        "matched": "Submariner", "brands": "Rolex", "last_interaction": date(2026, 11, 3),
        "days_since": 21, "depth": 3,
        "message": "O Submariner que você procurou está disponível! Quer agendar visita?",
    }
    return base | fields


def rows(*records: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame(list(records), columns=list(COLUMNS))


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data[3:].decode("utf-8"), newline="")))


def read_xlsx(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data)).active


# --- CSV ------------------------------------------------------------------------------


def test_csv_is_utf8_with_bom_and_the_words_on_screen_as_headers():
    data = to_csv(rows(row(name="João Conceição")))
    lines = read_csv(data)
    assert lines[0] == HEADER
    assert [EXPORT_HEADERS[c] for c in COLUMNS] == HEADER[:-1]
    assert lines[1] == [
        "principal", "João Conceição", "+5511987654321", "Loja A", "Submariner", "Rolex",
        "03/11/2026", "21", "3", "O Submariner que você procurou está disponível! Quer agendar visita?",
        LINK,
    ]


def test_the_whatsapp_link_opens_the_chat_with_the_message_typed():
    assert whatsapp_link("+5511987654321", 'Olá, "Ana" & cia?\nTchau') == (
        "https://wa.me/5511987654321?text=Ol%C3%A1%2C%20%22Ana%22%20%26%20cia%3F%0ATchau")
    assert parse_qs(urlsplit(LINK).query)["text"] == [row()["message"]]


def test_csv_tiers_read_in_portuguese():
    lines = read_csv(to_csv(rows(row(), row(tier="secondary", phone="+5511987650000"))))
    assert [line[0] for line in lines[1:]] == ["principal", "secundário"]


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ('=HYPERLINK("http://evil.example","clique")', '\'=HYPERLINK("http://evil.example","clique")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-1+1", "'-1+1"),
        ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("\n=1+1", "'\n=1+1"),
        ("  =1+1", "'  =1+1"),
        ("Ana = Maria", "Ana = Maria"),
        ("Ana-Clara", "Ana-Clara"),
    ],
)
def test_csv_neutralises_formula_injection(name, written):
    lines = read_csv(to_csv(rows(row(name=name))))
    assert lines[1][1] == written
    assert neutralise(name) == written


def test_csv_neutralises_every_text_column_but_the_phone():
    hostile = "=1+1"
    record = row(store=hostile, matched=hostile, brands=hostile, message=hostile)
    cells = read_csv(to_csv(rows(record)))[1]
    assert cells[2] == "+5511987654321"
    assert [cells[i] for i in (3, 4, 5, 9)] == ["'=1+1"] * 4


def test_csv_phones_are_e164_text():
    lines = read_csv(to_csv(rows(row(phone="+5511987654321"))))
    assert lines[1][2] == "+5511987654321"


def test_csv_drops_a_row_whose_phone_is_not_e164():
    data = rows(row(), row(phone="=1+1"), row(phone="11 98765-4321"), row(phone=None),
                row(phone="+0123456789"), row(phone="+55119876543210000"))
    lines = read_csv(to_csv(data))
    assert len(lines) == 2


def test_csv_keeps_commas_quotes_and_line_breaks_inside_cells():
    message = 'Olá, "Ana"!\nO Submariner chegou.'
    lines = read_csv(to_csv(rows(row(message=message))))
    assert lines[1][9] == message


def test_csv_missing_values_are_empty_cells():
    lines = read_csv(to_csv(rows(row(name="", last_interaction=None, days_since=None, brands=""))))
    cells = lines[1]
    assert (cells[1], cells[5], cells[6], cells[7]) == ("", "", "", "")


def test_csv_of_an_empty_list_is_the_header_only():
    assert read_csv(to_csv(rows())) == [HEADER]


def written(frame: pd.DataFrame, *, tiers: bool = True) -> bytes:
    """What the csv module writes for these rows, cell by cell: the file ``to_csv`` must give."""
    def text(value: object) -> str:
        return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)

    def whole(value: object) -> str:
        return text(value) and str(int(value))  # a column with a gap holds floats

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER if tiers else HEADER[1:])
    for record in frame.to_dict("records"):
        phone = text(record["phone"])
        if not re.fullmatch(r"\+[1-9]\d{7,14}", phone):
            continue
        last = record["last_interaction"]
        cells = [{"primary": "principal", "secondary": "secundário"}.get(text(record["tier"]),
                                                                          text(record["tier"])),
                 text(record["name"]), phone, text(record["store"]), text(record["matched"]),
                 text(record["brands"]), "" if text(last) == "" else last.strftime("%d/%m/%Y"),
                 whole(record["days_since"]), whole(record["depth"]), text(record["message"])]
        cells = [cell if place == 2 else neutralise(re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", cell))
                 for place, cell in enumerate(cells)]
        writer.writerow(cells[0 if tiers else 1:] + [whatsapp_link(phone, text(record["message"]))])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


HOSTILE_TEXT = st.none() | st.text(alphabet=st.sampled_from(list('aZ =+-@\t\r\n,"\'\x00\x1b\x7f\u00a0ãç')),
                                   max_size=8)


@given(cells=st.lists(st.tuples(HOSTILE_TEXT, HOSTILE_TEXT, HOSTILE_TEXT, HOSTILE_TEXT,
                                st.none() | st.integers(0, 999),
                                st.none() | st.dates(date(1900, 1, 1), date(2100, 12, 31))),
                      max_size=6))
@settings(max_examples=80, deadline=None)
def test_csv_bytes_are_what_the_csv_module_writes_of_the_neutralised_cells(cells):
    table = rows(*(row(name=name, store=store, brands=brands, message=message, days_since=days,
                       last_interaction=last) for name, store, brands, message, days, last in cells))
    assert to_csv(table) == written(table)


def test_a_built_lists_csv_bytes_are_what_the_csv_module_writes():
    data = build(pd.DataFrame([
        {"id": f"c{i}", "store": "Loja A", "phone": f"+551198765{i:04d}", "name": name,
         "interests": ["Submariner"], "interests_all": ["Datejust", "Submariner"],
         "created_at": "2026-01-01T00:00:00Z", "last_interaction": last, "opt_out": False}
        for i, (name, last) in enumerate([
            ("Ana", "2026-11-01T10:00:00Z"), ('=HYPERLINK("x")', None),
            ("Bia, \"a\"\x07", "2026-03-01T02:00:00Z"), (" \u00a0-1", "2025-12-31T23:59:59Z"),
            ("", "2026-11-10T00:00:00Z")])
    ]))
    campaign = build_list(data, PRESETS["estoque"].segment_for(["rolex"]), NOW)
    assert campaign.total == 5
    assert to_csv(campaign) == written(campaign.rows)


# --- XLSX -----------------------------------------------------------------------------


def test_xlsx_numbers_and_dates_are_real_cells_and_text_stays_text():
    sheet = read_xlsx(to_xlsx(rows(row(), row(tier="secondary", phone="+5521999990000", name="",
                                              last_interaction=None, days_since=None))))
    values = [[cell.value for cell in line] for line in sheet.iter_rows()]
    assert values[0] == HEADER
    first = list(sheet.iter_rows(min_row=2, max_row=2))[0]
    assert [c.data_type for c in first] == ["s"] * 6 + ["d", "n", "n", "s", "s"]
    assert all(c.number_format == "@" for c in first if c.data_type == "s")
    assert values[1][:3] == ["principal", "Ana Souza", "+5511987654321"]
    assert values[1][6:9] == [datetime(2026, 11, 3), 21, 3]
    assert first[6].number_format == "dd/mm/yyyy"
    assert values[1][10] == LINK and first[10].hyperlink.target == LINK
    assert values[2][:3] == ["secundário", "", "+5521999990000"]
    assert values[2][6:8] == [None, None]  # unknown date and days: empty cells


def test_xlsx_phone_stays_plus_55_text():
    sheet = read_xlsx(to_xlsx(rows(row(phone="+5511987654321"))))
    cell = sheet.cell(row=2, column=3)
    assert cell.value == "+5511987654321"
    assert cell.data_type == "s"


@pytest.mark.parametrize(
    "name", ["=1+1", '=HYPERLINK("http://evil.example","x")', "+55 11", "@SUM(A1)", "-2"]
)
def test_xlsx_never_writes_a_formula(name):
    sheet = read_xlsx(to_xlsx(rows(row(name=name))))
    cell = sheet.cell(row=2, column=2)
    assert cell.value == name
    assert cell.data_type == "s"


def test_xlsx_drops_control_characters_xml_cannot_hold():
    sheet = read_xlsx(to_xlsx(rows(row(name="Ana\x01 Souza", message="Olá\r\nAna"))))
    assert sheet.cell(row=2, column=2).value == "Ana Souza"
    assert sheet.cell(row=2, column=10).value == "Olá\nAna"


def test_xlsx_drops_a_row_whose_phone_is_not_e164():
    sheet = read_xlsx(to_xlsx(rows(row(), row(phone="=1+1"))))
    assert sheet.max_row == 2


# --- Built lists -------------------------------------------------------------------------


def built_list():
    data = build(pd.DataFrame([
        {"id": "c1", "store": "Loja A", "phone": "(11) 98765-4321", "name": '=HYPERLINK("x")',
         "interests": ["Calatrava", "Submariner"], "interests_all": ["Submariner", "Datejust", "Calatrava"],
         "created_at": "2026-01-01T00:00:00Z", "last_interaction": "2026-11-01T10:00:00Z",
         "opt_out": False},
        {"id": "c2", "store": "Loja A", "phone": "+55 21 99999-0000", "name": "bia",
         "interests": ["Calatrava"], "interests_all": ["Datejust", "Calatrava"],
         "created_at": "2026-01-01T00:00:00Z", "last_interaction": "2026-09-01T10:00:00Z",
         "opt_out": False},
    ]))
    return build_list(data, PRESETS["estoque"].segment_for(["rolex"]), NOW)


def test_a_built_list_downloads_with_its_matched_column():
    campaign = built_list()
    lines = read_csv(to_csv(campaign))
    assert [line[4] for line in lines[1:]] == ["Submariner, Datejust", "Datejust"]
    assert lines[1][1] == "'=HYPERLINK(\"x\")"
    assert lines[1][2] == "+5511987654321"
    sheet = read_xlsx(to_xlsx(campaign.rows))
    assert sheet.cell(row=2, column=5).value == "Submariner, Datejust"
    assert sheet.cell(row=2, column=2).data_type == "s"


def test_exports_never_carry_the_record_id():
    campaign = built_list()
    assert "c1" not in to_csv(campaign).decode("utf-8")
    sheet = read_xlsx(to_xlsx(campaign))
    assert all(cell.value != "c1" for line in sheet.iter_rows() for cell in line)


def test_segment_to_json_holds_rows_and_reasons():
    campaign = built_list()
    out = segment_to_json(campaign)
    assert set(out) == {"rows", "excluded"}
    json.dumps(out)  # plain JSON data
    first = out["rows"][0]
    assert list(first) == list(COLUMNS)
    assert first == {
        "tier": "primary", "name": '=HYPERLINK("x")', "phone": "+5511987654321", "store": "Loja A",
        "matched": ["Submariner", "Datejust"], "brands": ["Rolex", "Patek Philippe"],
        "last_interaction": "2026-11-01", "days_since": 23, "depth": 3,
        "message": "O Submariner que você procurou está disponível! Quer agendar visita?",
    }
    assert out["rows"][1]["tier"] == "secondary"
    assert out["excluded"] == {"opted_out": 0, "invalid_phone": 0, "recently_active": 0, "duplicate_phone": 0}


def test_segment_to_json_of_a_missing_date_is_null():
    data = build(pd.DataFrame([{"id": "c1", "store": "Loja A", "phone": "+5511987654321", "name": "",
                                "interests": [], "interests_all": [], "created_at": None,
                                "last_interaction": None, "opt_out": False}]))
    out = segment_to_json(build_list(data, Segment(), NOW))
    assert out["rows"][0]["last_interaction"] is None
    assert out["rows"][0]["days_since"] is None
    assert out["rows"][0]["matched"] == []


# --- File names ---------------------------------------------------------------------------


def test_export_filename_is_an_ascii_slug_with_the_date():
    assert export_filename("De volta ao estoque", NOW, "csv", ["Submariner"]) == (
        "de-volta-ao-estoque-submariner-2026-11-24.csv"
    )
    assert export_filename("De volta ao estoque Submariner", NOW, ".xlsx") == (
        "de-volta-ao-estoque-submariner-2026-11-24.xlsx"
    )
    assert export_filename("Fãs da marca", NOW, "xlsx", ["Tiffany & Co."]) == (
        "fas-da-marca-tiffany-co-2026-11-24.xlsx"
    )
    assert export_filename("", NOW, "csv") == "campanha-2026-11-24.csv"
    assert export_filename("../../etc/passwd", NOW, "csv") == "etc-passwd-2026-11-24.csv"


def test_slug_keeps_only_ascii_letters_digits_and_hyphens():
    assert slug("Reengajamento — 60 dias!") == "reengajamento-60-dias"
    assert slug("Ação/Coração") == "acao-coracao"


# --- Who was left out ------------------------------------------------------------------------


def test_the_people_left_out_download_with_their_reason():
    def customer(id_: str, name: str, phone: str, last: str, **extra: object) -> dict[str, object]:
        return {"id": id_, "store": "Loja A", "phone": phone, "name": name, "interests": ["Submariner"],
                "interests_all": ["Submariner"], "created_at": "2026-01-01T00:00:00Z",
                "last_interaction": last, "opt_out": False, **extra}

    data = build(pd.DataFrame([
        customer("c1", "Ana", "+5511987654321", "2026-10-01T10:00:00Z", opt_out=True),
        customer("c2", "Bia", "+5511987650000", "2026-11-23T10:00:00Z"),
        customer("c3", "Caio", "n/d", "2026-09-01T10:00:00Z"),
        customer("c4", "Duda", "+5511911112222", "2026-08-01T10:00:00Z"),
    ]))
    campaign = build_list(data, Segment(("rolex",)), NOW)
    assert list(campaign.rows.index) == ["c4"]
    assert list(campaign.left_out["reason"]) == ["opted_out", "invalid_phone", "recently_active"]
    sheet = read_xlsx(left_out_xlsx(campaign))
    values = [[cell.value for cell in line] for line in sheet.iter_rows()]
    assert values[0] == ["Motivo", "Nível", "Nome", "Telefone", "Loja", "Último contato",
                         "Dias sem contato", "Interesses"]
    assert [line[:4] for line in values[1:]] == [
        ["pediram para não receber mensagens", "principal", "Ana", "+5511987654321"],
        ["sem telefone válido", "principal", "Caio", "n/d"],
        ["em conversa (dentro da janela de silêncio)", "principal", "Bia", "+5511987650000"],
    ]
    assert values[1][5:] == [datetime(2026, 10, 1), 54, 1]


def test_a_list_with_one_tier_downloads_without_the_tier_column():
    data = build(pd.DataFrame([
        {"id": "c1", "store": "Loja A", "phone": "+5511987654321", "name": "Ana",
         "interests": ["Submariner"], "interests_all": ["Submariner"], "created_at": "2026-01-01T00:00:00Z",
         "last_interaction": "2026-10-01T10:00:00Z", "opt_out": False},
    ]))
    campaign = build_list(data, PRESETS["novidade"].segment_for(["Submariner"]), NOW)
    assert read_csv(to_csv(campaign))[0] == HEADER[1:]
    assert [c.value for c in read_xlsx(to_xlsx(campaign))[1]] == HEADER[1:]
    assert "Nível" not in [c.value for c in read_xlsx(left_out_xlsx(campaign))[1]]
    # Two tiers: the column says which.
    assert read_csv(to_csv(built_list()))[0] == HEADER


@given(messages=st.lists(st.text(max_size=40), min_size=1, max_size=8))
@settings(max_examples=60, deadline=None)
def test_every_files_link_opens_the_chat_with_its_own_message(messages):
    # The file's links are written all at once; each must still be the one link of its row.
    table = rows(*(row(message=message, name=f"C{i}") for i, message in enumerate(messages)))
    lines = read_csv(to_csv(table))[1:]
    assert [line[-1] for line in lines] == [whatsapp_link("+5511987654321", m) for m in messages]


@pytest.mark.parametrize("dtype", ["str", object])
def test_a_columns_links_are_each_rows_own_whatever_the_phone(dtype):
    phones = ["+5511987654321", "+5511987654321", "", None, "+", "+55 (11) 9876-5432", "+²³4",
              "\n5511", "5521987654321"]
    messages = ["Olá, Ana!", "Olá, Ana!", "x", "y", "z", "Oi & tchau", "", "\x00?", "Oi"]
    links = whatsapp_links(pd.Series(phones, dtype=dtype), pd.Series(messages, dtype=dtype))
    # The digits after the first character when they are all digits, else every digit of the phone.
    digits = [(p[1:] if p[1:].isdigit() else re.sub(r"\D", "", p)) if p else "" for p in phones]
    assert links == [f"https://wa.me/{d}?text={quote(m, safe='')}" if d else ""
                     for d, m in zip(digits, messages, strict=True)]
