"""An XLSX writer for one sheet of lists: text, whole numbers, dates and links, a column at a time.

A general writer (xlsxwriter) spends about 15 µs per cell in Python; this one builds the
sheet's XML a column at a time with Arrow and writes each distinct text once (the shared
strings table), which is what makes a 200,000-cell list cheap. It writes what the campaign
exports need and nothing else: one sheet, a bold header, text cells in the text format
``@`` (a name like ``=1+1`` is a string, never a formula; ``+55…`` stays text), whole
numbers and dates (dd/mm/aaaa) as real cells, so they sort and filter as a person expects,
links as real hyperlinks, column widths, a frozen header row and an autofilter.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from services.text_arrays import large

TEXT, NUMBER, DATE, LINK = "text", "number", "date", "link"
MAX_CELL = 32_767  # Excel's longest cell text
MAX_LINKS = 65_530  # Excel's most hyperlinks in one sheet; past it links stay plain text
_EXCEL_EPOCH = date(1899, 12, 30)
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
# cellXfs of styles.xml.
_STYLE = {TEXT: 1, "header": 2, NUMBER: 3, DATE: 4, LINK: 5}

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{_PKG}">'
    f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{_PKG}">'
    f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_REL}/styles" Target="styles.xml"/>'
    f'<Relationship Id="rId3" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)
_FONT = '<sz val="11"/><color theme="1"/><name val="Calibri"/><family val="2"/><scheme val="minor"/>'
_LINK_FONT = ('<u/><sz val="11"/><color rgb="FF0563C1"/><name val="Calibri"/><family val="2"/>'
              '<scheme val="minor"/>')
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<styleSheet xmlns="{_MAIN}">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="dd/mm/yyyy"/></numFmts>'
    f'<fonts count="3"><font>{_FONT}</font><font><b/>{_FONT}</font><font>{_LINK_FONT}</font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="6"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="49" fontId="1" fillId="0" borderId="0" xfId="0" applyNumberFormat="1" applyFont="1"/>'
    '<xf numFmtId="1" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="49" fontId="2" fillId="0" borderId="0" xfId="0" applyNumberFormat="1" applyFont="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def column_letter(index: int) -> str:
    """``0`` → ``A``, ``25`` → ``Z``, ``26`` → ``AA``."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _sheet_text(values: pd.Series) -> pa.Array:
    """A column as Arrow text, missing values as ``""`` (no copy for Arrow-backed text)."""
    try:
        array = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        array = pa.array([None if v is None else str(v) for v in values.astype(object)])
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not pa.types.is_large_string(array.type):
        array = array.cast(pa.large_string())
    return array.fill_null("")


def _serials(values: pd.Series) -> np.ndarray:
    """Whole numbers, or dates as Excel's day serials; NaN where missing."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    moments = pd.to_datetime(values.astype(object), errors="coerce")
    days = (moments.dt.normalize() - pd.Timestamp(_EXCEL_EPOCH)).dt.days
    return days.to_numpy(dtype=float, na_value=np.nan)


def _excel_width(characters: float) -> float:
    # Excel stores widths in units of the default font's digit (7 px) plus 5 px of padding.
    return int((characters * 7 + 5) / 7 * 256) / 256


def _si(texts: pa.Array) -> pa.Array:
    """Each distinct text as a shared-string element ``<si><t>…</t></si>``."""
    texts = pc.utf8_slice_codeunits(texts, 0, MAX_CELL)
    # Excel reads "_x0041_" as an escaped "A": a literal one keeps its underscore escaped.
    texts = pc.replace_substring_regex(texts, r"(_x[0-9a-fA-F]{4}_)", r"_x005F\1")
    for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        texts = pc.replace_substring(texts, raw, escaped)
    controls = pc.match_substring_regex(texts, r"[\x00-\x08\x0b-\x1f\x{fffe}\x{ffff}]")
    if pc.any(controls).as_py():
        fixed = [_escape_controls(t) if c else t
                 for t, c in zip(texts.to_pylist(), controls.to_pylist(), strict=True)]
        texts = pa.array(fixed, type=texts.type)
    padded = pc.match_substring_regex(texts, r"^\s|\s$")
    opening = pc.if_else(padded, large('<si><t xml:space="preserve">'), large("<si><t>"))
    return pc.binary_join_element_wise(opening, texts, large("</t></si>"), large(""))


def _escape_controls(text: str) -> str:
    return "".join(
        f"_x{ord(ch):04X}_" if (ord(ch) < 32 and ch not in "\t\n") or ch in "\ufffe\uffff" else ch
        for ch in text
    )


def text_sheet(name: str, table: pd.DataFrame, *, max_width: int = 60) -> bytes:
    """One sheet where every cell is text: ``sheet`` with every column of kind ``TEXT``.

    Example: ``text_sheet("Campanha", frame)``.
    """
    return sheet(name, table, {}, max_width=max_width)


def sheet(name: str, table: pd.DataFrame, kinds: Mapping[str, str], *, max_width: int = 60) -> bytes:
    """One sheet: the column names as a bold header, then the rows, each column of its kind.

    Args:
        name: the sheet's name (at most 31 characters, none of ``[]:*?/\\``).
        table: the columns (missing values are written as empty cells).
        kinds: per column name, ``NUMBER`` (whole numbers), ``DATE`` (dates, shown
            dd/mm/aaaa), ``LINK`` (web addresses, written as hyperlinks) or ``TEXT`` (the
            default).
        max_width: the widest a column is made, in characters.

    Returns:
        The ``.xlsx`` file's bytes. Example: ``sheet("Campanha", frame, {"Dias": NUMBER})``.
    """
    header = [str(column) for column in table.columns]
    n_rows, n_cols = len(table), len(header)
    kind = [kinds.get(column, TEXT) for column in header]
    texts = {j: _sheet_text(table.iloc[:, j]) for j in range(n_cols) if kind[j] in (TEXT, LINK)}
    numbers = {j: _serials(table.iloc[:, j]) for j in range(n_cols) if kind[j] in (NUMBER, DATE)}
    # Every distinct text once, the header's included: cells refer to it by number.
    every = pa.concat_arrays([pa.array(header, type=pa.large_string()), *texts.values()])
    encoded = pc.dictionary_encode(every)
    distinct = encoded.dictionary
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    header_codes = codes[:n_cols]
    text_codes = dict(zip(texts, codes[n_cols:].reshape(len(texts), n_rows), strict=True))

    row_numbers = pc.cast(pa.array(np.arange(2, n_rows + 2)), pa.large_string())
    cells = [_cells(j, kind[j], row_numbers, text_codes.get(j), numbers.get(j)) for j in range(n_cols)]
    rows = pc.binary_join_element_wise(
        large('<row r="'), row_numbers, large('">'), *cells, large("</row>"), large("")
    ) if n_rows else pa.array([], type=pa.large_string())
    head_row = '<row r="1">' + "".join(
        f'<c r="{column_letter(j)}1" s="{_STYLE["header"]}" t="s"><v>{header_codes[j]}</v></c>'
        for j in range(n_cols)
    ) + "</row>"

    widths = []
    for j, title in enumerate(header):
        if j in texts:
            longest = pc.max(pc.utf8_length(texts[j])).as_py() if n_rows else 0
        else:
            longest = 10 if kind[j] == DATE else 6
        widths.append(max(len(title), min(longest or 0, max_width)) + 2)
    last = column_letter(max(n_cols - 1, 0))
    bottom = max(n_rows, 1) + 1
    cols = "".join(
        f'<col min="{j + 1}" max="{j + 1}" width="{_excel_width(w)}" style="{_STYLE[kind[j]]}"'
        ' customWidth="1"/>'
        for j, w in enumerate(widths)
    )
    links, link_rels = _hyperlinks(kind, texts, n_rows)
    sheet_xml = "".join([
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n',
        f'<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}">',
        f'<dimension ref="A1:{last}{n_rows + 1}"/>',
        '<sheetViews><sheetView tabSelected="1" workbookViewId="0">'
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft"/></sheetView></sheetViews>',
        '<sheetFormatPr defaultRowHeight="15"/>',
        f"<cols>{cols}</cols>" if cols else "",
        "<sheetData>", head_row, "".join(rows.to_pylist()), "</sheetData>",
        f'<autoFilter ref="A1:{last}{bottom}"/>',
        links,
        '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>',
        "</worksheet>",
    ])
    shared = "".join([
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n',
        f'<sst xmlns="{_MAIN}" count="{len(codes)}" uniqueCount="{len(distinct)}">',
        "".join(_si(distinct.cast(pa.large_string())).to_pylist()),
        "</sst>",
    ])
    quoted = name.replace("'", "''")
    filter_range = f"'{quoted}'!$A$1:${last}${bottom}"
    workbook = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}">'
        '<bookViews><workbookView xWindow="240" yWindow="15" windowWidth="16095" windowHeight="9660"/>'
        "</bookViews>"
        f'<sheets><sheet name="{_attr(name)}" sheetId="1" r:id="rId1"/></sheets>'
        '<definedNames><definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'
        f"{_attr(filter_range)}</definedName></definedNames>"
        "</workbook>"
    )
    parts = [
        ("[Content_Types].xml", _CONTENT_TYPES),
        ("_rels/.rels", _ROOT_RELS),
        ("xl/workbook.xml", workbook),
        ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
        ("xl/styles.xml", _STYLES),
        ("xl/sharedStrings.xml", shared),
        ("xl/worksheets/sheet1.xml", sheet_xml),
    ]
    if link_rels:
        parts.append(("xl/worksheets/_rels/sheet1.xml.rels", link_rels))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for path, body in parts:
            archive.writestr(path, body.encode("utf-8"))
    return buffer.getvalue()


def _cells(j: int, kind: str, row_numbers: pa.Array, text_codes: np.ndarray | None,
           values: np.ndarray | None) -> pa.Array:
    """Column ``j``'s cell elements, one per row (``""`` for a number or date that is missing)."""
    opening = large(f'<c r="{column_letter(j)}')
    if text_codes is not None:
        number = pc.cast(pa.array(text_codes), pa.large_string())
        return pc.binary_join_element_wise(
            opening, row_numbers, large(f'" s="{_STYLE[kind]}" t="s"><v>'), number, large("</v></c>"),
            large(""))
    assert values is not None
    present = ~np.isnan(values)
    whole = pa.array(np.where(present, values, 0).astype(np.int64))
    cell = pc.binary_join_element_wise(
        opening, row_numbers, large(f'" s="{_STYLE[kind]}"><v>'), pc.cast(whole, pa.large_string()),
        large("</v></c>"), large(""))
    return pc.if_else(pa.array(present), cell, large(""))


def _hyperlinks(kind: list[str], texts: Mapping[int, pa.Array], n_rows: int) -> tuple[str, str | None]:
    """The sheet's ``<hyperlinks>`` and their relationships part, for the ``LINK`` columns."""
    refs: list[str] = []
    rels: list[str] = []
    for j, k in enumerate(kind):
        if k != LINK:
            continue
        for i, url in enumerate(texts[j].to_pylist()):
            if not url.startswith(("https://", "http://")) or len(rels) >= MAX_LINKS:
                continue
            rid = f"rId{len(rels) + 1}"
            refs.append(f'<hyperlink ref="{column_letter(j)}{i + 2}" r:id="{rid}"/>')
            rels.append(f'<Relationship Id="{rid}" Type="{_REL}/hyperlink" Target="{_attr(url)}"'
                        ' TargetMode="External"/>')
    if not refs:
        return "", None
    part = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<Relationships xmlns="{_PKG}">' + "".join(rels) + "</Relationships>")
    return "<hyperlinks>" + "".join(refs) + "</hyperlinks>", part


def _attr(text: str) -> str:
    return (text.replace("&", "&amp;").replace('"', "&quot;")
            .replace("<", "&lt;").replace(">", "&gt;"))
