"""A spreadsheet file (CSV or XLSX) read as rows of cells, and its cells as text, products, dates, checkboxes.

CSV as Airtable exports it, or as Excel in Portuguese saves it (``;``, Windows-1252).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from services.interests import DATE_YEARS, InvalidTime, parse_interests, product_key, require_time
from services.outputs import SQLITE_HEADER

DELIMITERS = (",", ";", "\t")
_TRUE = {"true", "1", "sim", "s", "yes", "y", "checked", "x", "v"}
_FALSE = {"false", "0", "nao", "n", "no", "unchecked"}
_DMY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ ,T]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([ap]\.?m\.?)?)?",
                  re.IGNORECASE)


class UnreadableSheet(ValueError):
    """A file that is not a CSV or XLSX table (or is damaged), with a message for the screen."""


@dataclass(frozen=True)
class Sheet:
    """A table as read from a file.

    Attributes:
        name: the file's name (for messages).
        header: the first non-empty row, as text.
        rows: ``(line, cells)`` after the header: the line a spreadsheet shows (the first
            line of a CSV record), and the cells as read (text; XLSX may give numbers,
            dates and booleans).
    """

    name: str
    header: tuple[str, ...]
    rows: tuple[tuple[int, tuple[object, ...]], ...]


def read_sheet(name: str, data: bytes) -> Sheet:
    """The table in ``data``: XLSX by its content, anything else read as CSV.

    Args:
        name: the file's name, for messages.
        data: the file's bytes.

    Raises:
        UnreadableSheet: a database, an old XLS, a damaged XLSX, text in an unknown encoding,
            a malformed CSV or no header at all.

    Example: ``read_sheet("c.csv", b"phone,name\\n11987654321,Ana\\n").rows[0][1] == ("11987654321", "Ana")``
    """
    if data.startswith(SQLITE_HEADER):
        raise UnreadableSheet(f"{name} é uma base SQLite, não uma planilha: exporte a tabela como CSV"
                              " ou XLSX")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableSheet(f"{name} é uma planilha XLS antiga: salve como XLSX ou CSV")
    sheet = _xlsx(name, data) if data.startswith(b"PK\x03\x04") else _csv(name, data)
    if not sheet.header:
        raise UnreadableSheet(f"{name} está vazio: nenhuma linha de cabeçalho")
    return sheet


def _decode(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:  # Excel in Portuguese saves "CSV" in Windows-1252
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise UnreadableSheet(f"{name}: codificação de texto desconhecida; salve como CSV UTF-8") from None


def _csv(name: str, data: bytes) -> Sheet:
    text = _decode(name, data)
    if "\x00" in text:
        raise UnreadableSheet(f"{name} não é um arquivo de texto (CSV) nem XLSX")
    first = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = max(DELIMITERS, key=first.count) if any(d in first for d in DELIMITERS) else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: tuple[str, ...] = ()
    rows: list[tuple[int, tuple[object, ...]]] = []
    line = 1
    try:
        for cells in reader:
            start, line = line, reader.line_num + 1
            if not header:
                header = tuple(cell.strip() for cell in cells) if any(c.strip() for c in cells) else ()
                continue
            rows.append((start, tuple(cells)))
    except csv.Error as error:
        raise UnreadableSheet(f"{name}, linha {line}: CSV inválido ({error})") from None
    return Sheet(name, header, tuple(rows))


def _xlsx(name: str, data: bytes) -> Sheet:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds (zip, XML, key) for a damaged file
        raise UnreadableSheet(f"{name} não é um XLSX legível ({type(error).__name__})") from None
    header: tuple[str, ...] = ()
    rows: list[tuple[int, tuple[object, ...]]] = []
    try:
        for number, values in enumerate(book.worksheets[0].iter_rows(values_only=True), start=1):
            if not header:
                if any(value not in (None, "") for value in values):
                    header = tuple("" if value is None else str(value).strip() for value in values)
                continue
            rows.append((number, tuple(values)))
    except Exception as error:  # a damaged sheet inside a valid zip
        raise UnreadableSheet(f"{name} não é um XLSX legível ({type(error).__name__})") from None
    finally:
        book.close()
    return Sheet(name, header, tuple(rows))


# --- cells ------------------------------------------------------------------------------------------


def text_of(cell: object) -> str:
    """A cell as trimmed text (an XLSX number as written, a date in ISO 8601)."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime | date):
        return cell.isoformat()
    return str(cell).strip()


def items_of(cell: object) -> list[str]:
    """The products of a multiple-select or long-text cell: one per line if it has lines, else per comma.

    Example: ``items_of("A, B") == ["A", "B"]``; ``items_of("Datejust 36, aço\\nSubmariner")`` has 2.
    """
    return parse_interests(text_of(cell))


def time_of(cell: object) -> datetime | None:
    """A date cell (ISO 8601, dd/mm/aaaa [hh:mm], Airtable's m/d/aaaa h:mmam, or an XLSX date).

    Returns:
        The moment in UTC, or None for an empty cell.

    Raises:
        InvalidTime: unreadable, or outside 1900–2200.
    """
    if isinstance(cell, date) and not isinstance(cell, datetime):
        cell = datetime(cell.year, cell.month, cell.day, tzinfo=UTC)
    text = text_of(cell)
    if not text:
        return None
    slashed = _slashed(text)
    if slashed is None:
        return require_time(text)  # ISO 8601, or InvalidTime saying why
    if slashed.year not in DATE_YEARS:
        raise InvalidTime(f"data fora do intervalo {DATE_YEARS[0]}–{DATE_YEARS[-1]}: {text!r}")
    return slashed


def _slashed(text: str) -> datetime | None:
    match = _DMY.fullmatch(text)
    if match is None:
        return None
    first, second, year, hour, minute, second_of_minute, meridiem = match.groups()
    day, month = (int(second), int(first)) if meridiem else (int(first), int(second))
    hours = int(hour or 0)
    if meridiem:
        hours = hours % 12 + (12 if meridiem.lower().startswith("p") else 0)
    try:
        return datetime(int(year), month, day, hours, int(minute or 0), int(second_of_minute or 0),
                        tzinfo=UTC)
    except ValueError:
        return None


def flag_of(cell: object) -> bool:
    """A checkbox cell (Airtable exports ``checked``; also sim/não, true/false, 1/0, x)."""
    if isinstance(cell, bool):
        return cell
    text = text_of(cell)
    key = re.sub(r"[^a-z0-9]", "", product_key(text))
    if key in _TRUE or text in ("✓", "✔", "☑"):
        return True
    if not text or key in _FALSE:
        return False
    raise ValueError(f"opt_out ilegível: {text!r} (use sim/não)")


__all__ = ["Sheet", "UnreadableSheet", "flag_of", "items_of", "read_sheet", "text_of", "time_of"]
