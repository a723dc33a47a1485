"""The XLSX writer: what Excel (read here by openpyxl) sees is exactly the text, numbers and dates given."""

import io
from datetime import date, datetime

import openpyxl
import pandas as pd

from services.xlsx import DATE, LINK, NUMBER, column_letter, sheet, text_sheet


def read(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data)).active


def test_every_cell_is_text_as_given_with_a_bold_header():
    tricky = ["=1+1", "+5511987654321", "  leading and trailing  ", "_x0041_", "<r><t>x</t></r>",
              "a & b < c > d", "Olá\nAna", "", "00123", "1e5"]
    sheet = read(text_sheet("Campanha", pd.DataFrame({"texto": tricky, "n": list(map(str, range(10)))})))
    assert [c.value for c in sheet["A"]] == ["texto", *tricky]
    assert all(c.data_type == "s" and c.number_format == "@" for row in sheet.iter_rows() for c in row)
    assert sheet["A1"].font.b and not sheet["A2"].font.b
    assert sheet.title == "Campanha"


def test_header_row_frozen_filter_on_every_row_and_widths_capped():
    sheet = read(text_sheet("Campanha", pd.DataFrame({"curta": ["a", "b"], "longa": ["x" * 200, "y"]})))
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:B3"
    assert sheet.column_dimensions["A"].width < sheet.column_dimensions["B"].width < 64


def test_missing_values_are_empty_text_and_an_empty_table_has_its_header():
    sheet = read(text_sheet("Campanha", pd.DataFrame({"a": ["x", None]})))
    assert sheet["A3"].value == ""
    empty = read(text_sheet("Campanha", pd.DataFrame({"a": pd.Series([], dtype="str")})))
    assert [[c.value for c in row] for row in empty.iter_rows()] == [["a"]]


def test_column_letters():
    assert [column_letter(i) for i in (0, 25, 26, 701, 702)] == ["A", "Z", "AA", "ZZ", "AAA"]


def test_numbers_dates_and_links_are_real_cells():
    table = pd.DataFrame({
        "Dias": pd.array([3, None], dtype="Int64"),
        "Quando": [date(2026, 3, 1), None],
        "Link": ["https://wa.me/5511?text=a%20b&x", "=1+1"],
        "Nome": ["=1+1", "Ana"],
    })
    out = read(sheet("Lista", table, {"Dias": NUMBER, "Quando": DATE, "Link": LINK}))
    assert [c.value for c in out[2]] == [3, datetime(2026, 3, 1), "https://wa.me/5511?text=a%20b&x", "=1+1"]
    assert [c.data_type for c in out[2]] == ["n", "d", "s", "s"]
    assert out["B2"].number_format == "dd/mm/yyyy"
    assert out["C2"].hyperlink.target == "https://wa.me/5511?text=a%20b&x"
    assert out["C3"].hyperlink is None and out["C3"].value == "=1+1"  # only web addresses link
    assert out["A3"].value is None and out["B3"].value is None
