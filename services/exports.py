"""Campaign list exports: CSV, XLSX and JSON, safe to open in a spreadsheet (SPEC §5)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from services.segments import COLUMNS, E164_PATTERN, EXCLUSION_LABELS, TIER_LABELS, CampaignList
from services.text_arrays import as_column, large, strings
from services.wording import SEPARATOR
from services.xlsx import DATE, LINK, NUMBER, column_letter, sheet, text_sheet

# The words the screen uses (Campanhas' preview), so a file reads like the page it came from.
EXPORT_HEADERS: Mapping[str, str] = {
    "tier": "Nível",
    "name": "Nome",
    "phone": "Telefone",
    "store": "Loja",
    "matched": "Produtos procurados",
    "brands": "Marcas",
    "last_interaction": "Último contato",
    "days_since": "Dias sem contato",
    "depth": "Interesses",
    "message": "Mensagem",
    "whatsapp": "WhatsApp",
}
LEFT_OUT_HEADERS: Mapping[str, str] = {
    "reason": "Motivo", "tier": "Nível", "name": "Nome", "phone": "Telefone", "store": "Loja",
    "last_interaction": "Último contato", "days_since": "Dias sem contato", "depth": "Interesses",
}
_KINDS = {EXPORT_HEADERS["last_interaction"]: DATE, EXPORT_HEADERS["days_since"]: NUMBER,
          EXPORT_HEADERS["depth"]: NUMBER, EXPORT_HEADERS["whatsapp"]: LINK}
_INJECTION_RE2 = "^(?:[=+\\-@\t\r\n]|[ \u00a0]+[=+\\-@])"
_INJECTION = re.compile(_INJECTION_RE2)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DATE = pd.ArrowDtype(pa.date32())

# What a column's UTF-8 bytes say before any scan of its cells (each of these characters is one
# byte, and no byte of a longer character is below 0x80): it holds a control character; a
# character the CSV quotes; a quote. And which first bytes may start a formula
# (``_INJECTION_RE2``; 0xC2 begins U+00A0).
_CONTROL_BYTE, _QUOTED_BYTE, _QUOTE_BYTE = 1, 2, 4
_BYTE_FLAGS = np.zeros(256, dtype=np.uint8)
_BYTE_FLAGS[[*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]] |= _CONTROL_BYTE
_BYTE_FLAGS[[ord(c) for c in ',"\r\n']] |= _QUOTED_BYTE
_BYTE_FLAGS[ord('"')] |= _QUOTE_BYTE
_FORMULA_START = np.zeros(256, dtype=bool)
_FORMULA_START[[*b"=+-@\t\r\n ", 0xC2]] = True


def _rows_of(rows: pd.DataFrame | CampaignList) -> pd.DataFrame:
    return rows.rows if isinstance(rows, CampaignList) else rows


def _as_text(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.StringDtype):  # a list's own text columns: stays in Arrow
        return pd.Series(as_column(strings(values)).array, index=values.index)
    if pd.api.types.is_integer_dtype(values.dtype):  # whole numbers: their digits, as ``str`` writes them
        digits = pa.array(values, from_pandas=True).cast(pa.large_string()).fill_null("")
        return pd.Series(as_column(digits).array, index=values.index)
    return values.astype(object).where(values.notna(), "").astype("str")


def _day_month_year(dates: pd.Series) -> pd.Series:
    """A built list's dates (``segments._dates``) as dd/mm/aaaa, a missing one empty: each distinct
    day formatted once (a list of 250,000 rows holds a few thousand days)."""
    days = pa.array(dates)
    coded = (days.combine_chunks() if isinstance(days, pa.ChunkedArray) else days).dictionary_encode()
    written = pc.strftime(coded.dictionary, format="%d/%m/%Y").take(coded.indices)
    return pd.Series(as_column(strings(written)).array, index=dates.index)


def _relabelled(values: pd.Series, labels: Mapping[str, str]) -> pd.Series:
    """``values.map(labels).fillna(values)`` of a text column, each distinct value looked up once."""
    coded = strings(values).dictionary_encode()
    words = pa.array([labels.get(v, v) for v in coded.dictionary.to_pylist()], pa.large_string())
    return pd.Series(as_column(words.take(coded.indices)).array, index=values.index)


# ``urllib.parse.quote(text, safe="")`` as one ``str.translate`` over the UTF-8 bytes read as
# Latin-1 (one character per byte): a 20,000-row list is linked in milliseconds, not half a second.
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_QUOTE = {byte: (chr(byte) if byte in _UNRESERVED else f"%{byte:02X}") for byte in range(256)}


def _quote(text: str) -> str:
    return text.encode("utf-8").decode("latin-1").translate(_QUOTE)


def whatsapp_link(phone: str, message: str) -> str:
    """The WhatsApp address that opens a chat with ``message`` already typed.

    Example: ``whatsapp_link("+5511987654321", "Olá!") == "https://wa.me/5511987654321?text=Ol%C3%A1%21"``.
    """
    digits = re.sub(r"\D", "", phone or "")
    return f"https://wa.me/{digits}?text={_quote(message or '')}" if digits else ""


def whatsapp_links(phones: pd.Series, messages: pd.Series) -> list[str]:
    """``whatsapp_link`` of every row; each distinct message is encoded once."""
    return _links(phones, messages).to_pylist()


def _links(phones: pd.Series, messages: pd.Series) -> pa.Array:
    """``whatsapp_links`` as an Arrow array: text columns are linked in Arrow, others one by one."""
    if not (isinstance(phones.dtype, pd.StringDtype) and isinstance(messages.dtype, pd.StringDtype)):
        return pa.array(_links_one_by_one(phones, messages), pa.large_string())
    numbers, texts = strings(phones), strings(messages)
    coded = texts.dictionary_encode()
    quoted = pa.array([_quote(text) for text in coded.dictionary.to_pylist()], pa.large_string())
    if pc.all(pc.match_substring_regex(numbers, r"(?s)^.[0-9]+$")).as_py():
        digits = pc.utf8_slice_codeunits(numbers, 1)  # "+5511…": what follows the plus
    else:
        digits = pa.array([_digits(number) for number in numbers.to_pylist()], pa.large_string())
    links = pc.binary_join_element_wise(large("https://wa.me/"), digits, large("?text="),
                                        quoted.take(coded.indices), large(""))
    return pc.if_else(pc.equal(digits, large("")), large(""), links)


def _digits(phone: str) -> str:
    return phone[1:] if phone[1:].isdigit() else re.sub(r"\D", "", phone)


def _links_one_by_one(phones: pd.Series, messages: pd.Series) -> list[str]:
    encoded: dict[str, str] = {}
    links = []
    for phone, message in zip(phones.tolist(), messages.tolist(), strict=True):
        text = encoded.get(message)
        if text is None:
            text = encoded[message] = _quote(message or "")
        text_phone = phone if isinstance(phone, str) else ""
        digits = text_phone[1:] if text_phone[1:].isdigit() else re.sub(r"\D", "", text_phone)
        links.append(f"https://wa.me/{digits}?text={text}" if digits else "")
    return links


def _export_frame(rows: pd.DataFrame, *, typed: bool = False) -> pd.DataFrame:
    """The rows under the screen's headers, with the WhatsApp link; only rows with a valid E.164 phone.

    As text (CSV), or ``typed`` (XLSX): days and depth as whole numbers, the date as a date.
    """
    phone = _as_text(rows["phone"]) if "phone" in rows else pd.Series("", index=rows.index, dtype="str")
    valid = phone.str.fullmatch(E164_PATTERN).fillna(False).to_numpy(bool)
    kept = rows.loc[valid]
    out = {}
    for name in COLUMNS:
        values = kept[name] if name in kept else pd.Series("", index=kept.index, dtype="str")
        if name == "tier":
            values = _relabelled(_as_text(values), TIER_LABELS)
        elif name == "last_interaction" and not typed and values.dtype == _DATE:
            values = _day_month_year(values)
        elif name == "last_interaction":
            values = pd.to_datetime(values.astype(object), errors="coerce")
            if not typed:
                values = values.dt.strftime("%d/%m/%Y")
        elif name in ("days_since", "depth"):
            values = pd.to_numeric(values, errors="coerce").round().astype("Int64")
        elif values.dtype == object:
            # Lists (from a caller that split them) read as the joined text.
            values = values.map(lambda v: SEPARATOR.join(map(str, v)) if isinstance(v, list | tuple) else v)
        typed_column = typed and name in ("last_interaction", "days_since", "depth")
        out[EXPORT_HEADERS[name]] = values.reset_index(drop=True) if typed_column else \
            _as_text(values).reset_index(drop=True)
    messages = _as_text(kept["message"]) if "message" in kept else pd.Series("", index=kept.index)
    out[EXPORT_HEADERS["whatsapp"]] = as_column(_links(phone[valid], messages))
    return pd.DataFrame(out)


def neutralise(cell: str) -> str:
    """A CSV cell that spreadsheets will not read as a formula (OWASP CSV injection).

    Example: ``neutralise("=HYPERLINK(1)") == "'=HYPERLINK(1)"``.
    """
    return "'" + cell if _INJECTION.match(cell) else cell


def _one_tier(rows: pd.DataFrame | CampaignList) -> bool:
    """A list whose segment has no secondary tier: its files carry no "Nível" column."""
    return isinstance(rows, CampaignList) and not rows.segment.two_tiers


def _files_frame(rows: pd.DataFrame | CampaignList, *, typed: bool = False) -> pd.DataFrame:
    table = _export_frame(_rows_of(rows), typed=typed)
    return table.drop(columns=[EXPORT_HEADERS["tier"]]) if _one_tier(rows) else table


def to_csv(rows: pd.DataFrame | CampaignList) -> bytes:
    """A campaign list as CSV for messaging tools: UTF-8 with BOM, comma-separated.

    Phones are E.164 (a row without one is dropped); every other cell that
    begins with ``= + - @``, a tab, CR or LF (or spaces and one of the first
    four) is prefixed with ``'`` (OWASP CSV injection).

    Args:
        rows: ``CampaignList.rows``, or the list itself (then a list with one tier has no
            "Nível" column).

    Returns:
        The file's bytes, starting ``b"\\xef\\xbb\\xbfNível,Nome,Telefone,..."``; the last
        column is the WhatsApp link with the message already typed.
    """
    table = _files_frame(rows)
    # The phone is E.164 and the WhatsApp link percent-encoded (letters, digits, ``_.-~%`` after a
    # fixed ``https://wa.me/…?text=``): neither can hold a control character, a formula's first
    # character, a comma, a quote or a line break. Only the other columns are scanned.
    plain = {EXPORT_HEADERS["phone"], EXPORT_HEADERS["whatsapp"]}
    columns = []
    for header in table.columns:
        cells = strings(table[header])
        if header not in plain:
            # Dropping control characters and prefixing ``'`` add no byte the CSV quotes.
            flags = _byte_flags(cells)
            cells = _csv_cells(_neutralised(cells, flags), flags)
        columns.append(cells)
    head = ",".join(_csv_cells(strings([str(h) for h in table.columns])).to_pylist()) + "\r\n"
    return b"".join([b"\xef\xbb\xbf", head.encode("utf-8"), _csv_lines(columns)])


def _neutralised(cells: pa.Array, flags: int) -> pa.Array:
    """Text cells without control characters (no place in a messaging tool's file: NUL, ESC,
    BEL…), and with ``'`` before any that a spreadsheet would read as a formula (``neutralise``).
    ``flags``: the cells' ``_byte_flags``."""
    if flags & _CONTROL_BYTE:
        cells = pc.replace_substring_regex(cells, _CONTROL.pattern, "")
    offsets, data = _text_bytes(cells)
    firsts = data[offsets[:-1][offsets[1:] > offsets[:-1]] - offsets[0]]
    if not _FORMULA_START[firsts].any():
        return cells
    risky = pc.match_substring_regex(cells, _INJECTION_RE2)
    return pc.if_else(risky, pc.binary_join_element_wise(large("'"), cells, large("")), cells)


def _csv_lines(columns: list[pa.Array]) -> np.ndarray:
    """The CSV lines of cells already written (``_csv_cells``), each ended by CRLF: their UTF-8
    bytes, straight from Arrow (no Python string per line)."""
    lines = pc.binary_join_element_wise(*columns[:-1], pc.binary_join_element_wise(
        columns[-1], large("\r\n"), large("")), large(","))
    return _text_bytes(lines)[1]


def _text_bytes(cells: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The offsets of a ``large_string`` array without nulls, and its cells' UTF-8 bytes back to
    back (a view: ``data[offsets[i] - offsets[0]:offsets[i + 1] - offsets[0]]`` is cell ``i``)."""
    if cells.type != pa.large_string():
        cells = cells.cast(pa.large_string())
    _, offsets_buffer, data_buffer = cells.buffers()
    if not len(cells):
        return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[cells.offset:cells.offset + len(cells) + 1]
    if data_buffer is None:
        return offsets, np.zeros(0, dtype=np.uint8)
    return offsets, np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0]:offsets[-1]]


def _byte_flags(cells: pa.Array) -> int:
    """The ``_BYTE_FLAGS`` of every byte of ``large_string`` cells, or-ed (a few vectorised
    comparisons: a table lookup per byte is several times slower)."""
    _, data = _text_bytes(cells)
    if not len(data):
        return 0
    flags = 0
    if data.min() < 0x20:
        flags |= int(np.bitwise_or.reduce(_BYTE_FLAGS[data[data < 0x20]]))
    for byte in (0x7F, ord(","), ord('"')):
        if (data == byte).any():
            flags |= int(_BYTE_FLAGS[byte])
    return flags


def _csv_cells(cells: pa.Array, flags: int | None = None) -> pa.Array:
    """Each cell as the csv module writes it (QUOTE_MINIMAL); ``flags``: their ``_byte_flags``."""
    cells = cells.cast(pa.large_string())
    flags = _byte_flags(cells) if flags is None else flags
    if not flags & _QUOTED_BYTE:
        return cells
    needs = pc.match_substring_regex(cells, r'[,"\r\n]')
    doubled = pc.replace_substring(cells, '"', '""') if flags & _QUOTE_BYTE else cells
    quoted = pc.binary_join_element_wise(large('"'), doubled, large('"'), large(""))
    return pc.if_else(needs, quoted, cells)


def to_xlsx(rows: pd.DataFrame | CampaignList) -> bytes:
    """A campaign list as an Excel workbook people can sort and filter.

    Phones, names, products and messages are text cells with the text format ``@``
    (phones stay ``+55…``; a name like ``=1+1`` is a string, never a formula); days and
    depth are numbers; the last contact is a date (dd/mm/aaaa); the WhatsApp column links
    to the chat with the message already typed.

    Args:
        rows: ``CampaignList.rows`` (or the list itself).

    Returns:
        The ``.xlsx`` file's bytes (one sheet, "Campanha").
    """
    return sheet("Campanha", _clean_text(_files_frame(rows, typed=True)), _KINDS, max_width=60)


def _clean_text(table: pd.DataFrame) -> pd.DataFrame:
    for header in table.columns:
        if table[header].dtype == object or pd.api.types.is_string_dtype(table[header].dtype):
            # XML cannot hold most control characters; line breaks become LF.
            table[header] = (table[header].astype("str").str.replace(r"\r\n?", "\n", regex=True)
                             .str.replace(_CONTROL.pattern, "", regex=True))
    return table


def left_out_xlsx(campaign_list: CampaignList) -> bytes:
    """The customers a campaign list left out, each with the reason, as an Excel workbook.

    Args:
        campaign_list: a ``build_list`` result.

    Returns:
        The ``.xlsx`` file's bytes (one sheet, "Ficaram de fora"): the reason first, then
        who (the phone as it is, valid or not), under the screen's words.
    """
    left = campaign_list.left_out
    table = pd.DataFrame({
        LEFT_OUT_HEADERS["reason"]: left["reason"].map(EXCLUSION_LABELS).fillna(left["reason"]),
        LEFT_OUT_HEADERS["tier"]: left["tier"].map(TIER_LABELS).fillna(""),
        LEFT_OUT_HEADERS["name"]: left["name"],
        LEFT_OUT_HEADERS["phone"]: left["phone"],
        LEFT_OUT_HEADERS["store"]: left["store"],
        LEFT_OUT_HEADERS["last_interaction"]: pd.to_datetime(left["last_interaction"].astype(object),
                                                            errors="coerce"),
        LEFT_OUT_HEADERS["days_since"]: left["days_since"],
        LEFT_OUT_HEADERS["depth"]: left["depth"],
    }).reset_index(drop=True)
    if not campaign_list.segment.two_tiers:
        table = table.drop(columns=[LEFT_OUT_HEADERS["tier"]])
    kinds = {LEFT_OUT_HEADERS["last_interaction"]: DATE, LEFT_OUT_HEADERS["days_since"]: NUMBER,
             LEFT_OUT_HEADERS["depth"]: NUMBER}
    return sheet("Ficaram de fora", _clean_text(table), kinds, max_width=60)


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


__all__ = [
    "EXPORT_HEADERS", "LEFT_OUT_HEADERS", "column_letter", "export_filename", "left_out_xlsx",
    "neutralise", "segment_to_json", "slug", "text_sheet", "to_csv", "to_xlsx", "whatsapp_link",
    "whatsapp_links",
]
