"""Campaign list exports: CSV, XLSX and JSON, safe to open in a spreadsheet (SPEC §5)."""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from services.segments import COLUMNS, E164_PATTERN, TIER_LABELS, CampaignList
from services.text_arrays import as_column, large, strings
from services.wording import SEPARATOR

EXPORT_HEADERS: Mapping[str, str] = {
    "tier": "nivel",
    "name": "nome",
    "phone": "telefone",
    "store": "loja",
    "matched": "produtos",
    "brands": "marcas",
    "last_interaction": "ultima_interacao",
    "days_since": "dias",
    "depth": "profundidade",
    "message": "mensagem",
}
_INJECTION_RE2 = "^(?:[=+\\-@\t\r\n]|[ \u00a0]+[=+\\-@])"
_INJECTION = re.compile(_INJECTION_RE2)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _rows_of(rows: pd.DataFrame | CampaignList) -> pd.DataFrame:
    return rows.rows if isinstance(rows, CampaignList) else rows


def _as_text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), "").astype("str")


def _export_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows as text under the Portuguese headers; only rows with a valid E.164 phone."""
    phone = _as_text(rows["phone"]) if "phone" in rows else pd.Series("", index=rows.index, dtype="str")
    valid = phone.str.fullmatch(E164_PATTERN).fillna(False).to_numpy(bool)
    kept = rows.loc[valid]
    out = {}
    for name in COLUMNS:
        values = kept[name] if name in kept else pd.Series("", index=kept.index, dtype="str")
        if name == "tier":
            values = _as_text(values)
            values = values.map(TIER_LABELS).fillna(values)
        elif name == "last_interaction":
            values = pd.to_datetime(values.astype(object), errors="coerce").dt.strftime("%d/%m/%Y")
        elif name in ("days_since", "depth"):
            values = pd.to_numeric(values, errors="coerce").round().astype("Int64")
        elif values.dtype == object:
            # Lists (from a caller that split them) read as the joined text.
            values = values.map(lambda v: SEPARATOR.join(map(str, v)) if isinstance(v, list | tuple) else v)
        out[EXPORT_HEADERS[name]] = _as_text(values)
    return pd.DataFrame(out).reset_index(drop=True)


def neutralise(cell: str) -> str:
    """A CSV cell that spreadsheets will not read as a formula (OWASP CSV injection).

    Example: ``neutralise("=HYPERLINK(1)") == "'=HYPERLINK(1)"``.
    """
    return "'" + cell if _INJECTION.match(cell) else cell


def to_csv(rows: pd.DataFrame | CampaignList) -> bytes:
    """A campaign list as CSV for messaging tools: UTF-8 with BOM, comma-separated.

    Phones are E.164 (a row without one is dropped); every other cell that
    begins with ``= + - @``, a tab, CR or LF (or spaces and one of the first
    four) is prefixed with ``'`` (OWASP CSV injection).

    Args:
        rows: ``CampaignList.rows`` (or the list itself).

    Returns:
        The file's bytes, starting ``b"\\xef\\xbb\\xbfnivel,nome,telefone,..."``.
    """
    table = _export_frame(_rows_of(rows))
    for header in table.columns:
        if header != EXPORT_HEADERS["phone"]:
            cells = strings(table[header])
            risky = pc.match_substring_regex(cells, _INJECTION_RE2)
            table[header] = as_column(pc.if_else(risky, pc.binary_join_element_wise(
                large("'"), cells, large("")), cells))
    text = table.to_csv(index=False, lineterminator="\r\n")
    return ("\ufeff" + text).encode("utf-8")


def to_xlsx(rows: pd.DataFrame | CampaignList) -> bytes:
    """A campaign list as an Excel workbook where every cell is text.

    Every cell is written as a string with the text format ``@``: phones stay
    ``+55…`` and a name like ``=1+1`` is a string, never a formula.

    Args:
        rows: ``CampaignList.rows`` (or the list itself).

    Returns:
        The ``.xlsx`` file's bytes (one sheet, "Campanha").
    """
    table = _export_frame(_rows_of(rows))
    for header in table.columns:
        # XML cannot hold most control characters; line breaks become LF.
        table[header] = (table[header].str.replace(r"\r\n?", "\n", regex=True)
                         .str.replace(_CONTROL.pattern, "", regex=True))
    # xlsxwriter spent 3 s on a 20,000-row list (15 µs a cell); the sheet is all text, so a
    # writer that builds it a column at a time does the same in a tenth of the time.
    return text_sheet("Campanha", table, max_width=60)


def slug(text: str) -> str:
    """ASCII, lower case, words joined by hyphens: ``slug("Fãs da marca") == "fas-da-marca"``."""
    bare = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", bare.lower()).strip("-")


def export_filename(campaign_label: str, now: datetime, ext: str, terms: Sequence[str] = ()) -> str:
    """The download name of a campaign list.

    Args:
        campaign_label: the preset's label, or any title ("De volta ao estoque Submariner").
        now: the reference time; its date (in its own time zone) ends the name.
        ext: ``"csv"`` or ``"xlsx"`` (a leading dot is fine).
        terms: appended after the label when given.

    Returns:
        e.g. ``"de-volta-ao-estoque-submariner-2026-11-24.csv"``.
    """
    name = slug(" ".join([campaign_label, *terms]))[:80].strip("-") or "campanha"
    extension = slug(ext) or "csv"
    return f"{name}-{now.date().isoformat()}.{extension}"


def segment_to_json(campaign_list: CampaignList) -> dict[str, object]:
    """The list as plain JSON data for the command line.

    Returns:
        ``{"rows": [...], "excluded": {...}}``; each row holds the ``COLUMNS``
        (``matched`` and ``brands`` as lists, ``last_interaction`` an ISO date
        or None, ``days_since`` an int or None).
    """
    out = []
    for record in campaign_list.rows.reset_index(drop=True).to_dict("records"):
        row: dict[str, object] = {}
        for name in COLUMNS:
            value = record.get(name)
            if name in ("matched", "brands"):
                value = [v for v in str(value or "").split(SEPARATOR) if v]
            elif name == "last_interaction":
                value = value.isoformat() if value is not None and not pd.isna(value) else None
            elif name in ("days_since", "depth"):
                value = None if value is None or pd.isna(value) else int(value)
            elif value is None or (not isinstance(value, str) and pd.isna(value)):
                value = None
            row[name] = value
        out.append(row)
    return {"rows": out, "excluded": dict(campaign_list.excluded)}


# --- XLSX: one sheet where every cell is text ------------------------------------------
# A general writer (xlsxwriter) spends about 15 µs per cell in Python; this one builds the
# sheet's XML a column at a time with Arrow and writes each distinct text once (the shared
# strings table), which is what makes a 200,000-cell list cheap. It writes what the
# campaign export needs and nothing else: one sheet, a bold header, the text format ``@``
# on every cell and column, column widths, a frozen header row and an autofilter.

MAX_CELL = 32_767  # Excel's longest cell text
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_TEXT, _BOLD_TEXT = 1, 2  # cellXfs of styles.xml

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
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<styleSheet xmlns="{_MAIN}">'
    f'<fonts count="2"><font>{_FONT}</font><font><b/>{_FONT}</font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="49" fontId="1" fillId="0" borderId="0" xfId="0" applyNumberFormat="1" applyFont="1"/>'
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
    """One sheet of text cells: the column names as a bold header, then the rows.

    Args:
        name: the sheet's name (at most 31 characters, none of ``[]:*?/\\``).
        table: text columns (missing values are written as empty text).
        max_width: the widest a column is made, in characters.

    Returns:
        The ``.xlsx`` file's bytes. Example: ``text_sheet("Campanha", frame)``.
    """
    header = [str(column) for column in table.columns]
    n_rows, n_cols = len(table), len(header)
    columns = [_sheet_text(table[column]) for column in table.columns]
    # Every distinct text once, the header's included: cells refer to it by number.
    every = pa.concat_arrays([pa.array(header, type=pa.large_string()), *columns])
    encoded = pc.dictionary_encode(every)
    distinct = encoded.dictionary
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    header_codes, cell_codes = codes[:n_cols], codes[n_cols:].reshape(n_cols, n_rows)

    row_numbers = pc.cast(pa.array(np.arange(2, n_rows + 2)), pa.large_string())
    cells = []
    for j in range(n_cols):
        number = pc.cast(pa.array(cell_codes[j]), pa.large_string())
        cells.append(pc.binary_join_element_wise(
            large(f'<c r="{column_letter(j)}'), row_numbers, large(f'" s="{_TEXT}" t="s"><v>'),
            number, large("</v></c>"), large(""),
        ))
    rows = pc.binary_join_element_wise(
        large('<row r="'), row_numbers, large('">'), *cells, large("</row>"), large("")
    ) if n_rows else pa.array([], type=pa.large_string())
    head_row = '<row r="1">' + "".join(
        f'<c r="{column_letter(j)}1" s="{_BOLD_TEXT}" t="s"><v>{header_codes[j]}</v></c>'
        for j in range(n_cols)
    ) + "</row>"

    widths = []
    for j, title in enumerate(header):
        longest = pc.max(pc.utf8_length(columns[j])).as_py() if n_rows else 0
        widths.append(max(len(title), min(longest or 0, max_width)) + 2)
    last = column_letter(max(n_cols - 1, 0))
    bottom = max(n_rows, 1) + 1
    cols = "".join(
        f'<col min="{j + 1}" max="{j + 1}" width="{_excel_width(w)}" style="{_TEXT}" customWidth="1"/>'
        for j, w in enumerate(widths)
    )
    sheet = "".join([
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
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for path, body in (
            ("[Content_Types].xml", _CONTENT_TYPES),
            ("_rels/.rels", _ROOT_RELS),
            ("xl/workbook.xml", workbook),
            ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
            ("xl/styles.xml", _STYLES),
            ("xl/sharedStrings.xml", shared),
            ("xl/worksheets/sheet1.xml", sheet),
        ):
            archive.writestr(path, body.encode("utf-8"))
    return buffer.getvalue()


def _attr(text: str) -> str:
    return (text.replace("&", "&amp;").replace('"', "&quot;")
            .replace("<", "&lt;").replace(">", "&gt;"))
