"""Campaign list exports: CSV, XLSX and JSON, safe to open in a spreadsheet (SPEC §5)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime

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


def _rows_of(rows: pd.DataFrame | CampaignList) -> pd.DataFrame:
    return rows.rows if isinstance(rows, CampaignList) else rows


def _as_text(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.StringDtype):  # a list's own text columns: stays in Arrow
        return pd.Series(as_column(strings(values)).array, index=values.index)
    return values.astype(object).where(values.notna(), "").astype("str")


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
            values = _as_text(values)
            values = values.map(TIER_LABELS).fillna(values)
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
    out[EXPORT_HEADERS["whatsapp"]] = whatsapp_links(phone[valid], messages)
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
    for header in table.columns:
        if header not in plain:
            # Control characters (NUL, ESC, BEL…) have no place in a messaging tool's file.
            cells = pc.replace_substring_regex(strings(table[header]), _CONTROL.pattern, "")
            risky = pc.match_substring_regex(cells, _INJECTION_RE2)
            table[header] = as_column(pc.if_else(risky, pc.binary_join_element_wise(
                large("'"), cells, large("")), cells))
    return ("\ufeff" + _csv_text(table, plain)).encode("utf-8")


def _csv_text(table: pd.DataFrame, plain: set[str] | frozenset[str] = frozenset()) -> str:
    """``table.to_csv(index=False, lineterminator="\\r\\n")`` for text columns, column by column
    in Arrow (a 250,000-row list in a second, not in seven): a cell with a comma, a quote or a
    line break is quoted, its quotes doubled (RFC 4180, as the csv module writes it). The columns
    ``plain`` can hold none of these: they are written as they are."""
    head = ",".join(_csv_cells(pa.array([str(h) for h in table.columns])).to_pylist())
    rows = [strings(table[header].fillna("")).cast(pa.large_string()) if header in plain
            else _csv_cells(strings(table[header].fillna(""))) for header in table.columns]
    if not len(table):
        return head + "\r\n"
    lines = pc.binary_join_element_wise(*rows, large(","))
    return head + "\r\n" + "\r\n".join(lines.to_pylist()) + "\r\n"


def _csv_cells(cells: pa.Array) -> pa.Array:
    """Each cell as the csv module writes it (QUOTE_MINIMAL)."""
    cells = cells.cast(pa.large_string())
    needs = pc.match_substring_regex(cells, r'[,"\r\n]')
    quoted = pc.binary_join_element_wise(large('"'), pc.replace_substring(cells, '"', '""'), large('"'),
                                         large(""))
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
