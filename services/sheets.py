"""A spreadsheet file read as rows of cells: CSV (Airtable's export, Excel's pt-BR ``;``) or XLSX."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from services.outputs import SQLITE_HEADER

DELIMITERS = (",", ";", "\t")


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


__all__ = ["Sheet", "UnreadableSheet", "read_sheet"]
