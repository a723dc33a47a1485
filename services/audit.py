"""The export audit: an append-only log, in the local SQLite file, of every list that left Vitrine."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

SCHEMA = """
CREATE TABLE IF NOT EXISTS export_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    channel TEXT NOT NULL,
    stores TEXT NOT NULL,
    segment TEXT NOT NULL,
    row_count INTEGER NOT NULL,
    format TEXT NOT NULL,
    filename TEXT NOT NULL DEFAULT ''
);
CREATE TRIGGER IF NOT EXISTS export_audit_no_update BEFORE UPDATE ON export_audit BEGIN
    SELECT RAISE(ABORT, 'o registro de exportações só aceita inclusões');
END;
CREATE TRIGGER IF NOT EXISTS export_audit_no_delete BEFORE DELETE ON export_audit BEGIN
    SELECT RAISE(ABORT, 'o registro de exportações só aceita inclusões');
END;
"""

COLUMNS: tuple[str, ...] = ("at", "who", "channel", "stores", "segment", "rows", "format", "filename")
DASHBOARD = "dashboard"
CLI = "cli"
#: Not a file but an act, in the ``format`` column: a campaign saved (its members frozen) or deleted.
CAMPAIGN_SAVED = "campanha salva"
CAMPAIGN_DELETED = "campanha excluída"


def definition(segment: object) -> dict[str, object]:
    """A segment (a dataclass or a mapping) as plain JSON data.

    Example: ``definition(Segment(("Rolex",)))["terms"] == ["Rolex"]``.
    """
    if dataclasses.is_dataclass(segment) and not isinstance(segment, type):
        segment = dataclasses.asdict(segment)
    if not isinstance(segment, Mapping):
        raise TypeError(f"a segment definition must be a dataclass or a mapping, not {type(segment)!r}")
    return json.loads(json.dumps(dict(segment), ensure_ascii=False, default=_plain))


def _plain(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


@dataclass(frozen=True)
class ExportEntry:
    """One export: who took which list, when, from which stores.

    Attributes:
        at: when (naive means UTC).
        who: the signed-in e-mail, ``"modo local"`` or ``"cli:<user>"``.
        stores: the stores the list was built from.
        segment: the segment (a dataclass or a mapping; add the preset or the
            templates to a mapping when they explain the list).
        rows: how many customers the file holds.
        format: ``"csv"``, ``"xlsx"``, ``"json"``…, or ``CAMPAIGN_SAVED`` / ``CAMPAIGN_DELETED``
            (``rows``: the campaign's members; ``filename``: its name).
        channel: ``"dashboard"`` or ``"cli"``.
        filename: the file's name, when it has one.
    """

    at: datetime
    who: str
    stores: tuple[str, ...]
    segment: object
    rows: int
    format: str
    channel: str = DASHBOARD
    filename: str = ""


class AuditLog:
    """The export audit in the SQLite file at ``path`` (the same file as the customers).

    Rows can be added, never changed or removed: the table refuses UPDATE and DELETE.

    Example::

        log = AuditLog("data/vitrine.db")
        log.append(ExportEntry(now, "ana@loja.com", ("Vitrine Jardins",), {"terms": ["Rolex"]}, 12, "csv"))
        log.entries().iloc[0]["who"] == "ana@loja.com"
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def append(self, entry: ExportEntry) -> int:
        """Add one entry; returns its id."""
        at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=UTC)
        segment = definition(entry.segment)
        db = self._connect()
        try:
            with db:
                cursor = db.execute(
                    "INSERT INTO export_audit (at, who, channel, stores, segment, row_count, format,"
                    " filename) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        at.astimezone(UTC).isoformat(timespec="seconds"),
                        entry.who,
                        entry.channel,
                        json.dumps(list(entry.stores), ensure_ascii=False),
                        json.dumps(segment, ensure_ascii=False, sort_keys=True),
                        int(entry.rows),
                        entry.format,
                        entry.filename,
                    ),
                )
        finally:
            db.close()
        return int(cursor.lastrowid or 0)

    def entries(self, limit: int = 1000, stores: Iterable[str] | None = None) -> pd.DataFrame:
        """The newest entries first, for the admins' audit page.

        Args:
            limit: at most this many.
            stores: only entries touching one of these stores (default: all).

        Returns:
            Columns ``COLUMNS``: ``at`` a UTC timestamp, ``stores`` a list, ``segment``
            the definition as JSON text, ``rows`` an int.
        """
        db = self._connect()
        try:
            rows = db.execute(
                "SELECT at, who, channel, stores, segment, row_count, format, filename"
                " FROM export_audit ORDER BY id DESC LIMIT ?",
                (int(limit),),
            ).fetchall()
        finally:
            db.close()
        frame = pd.DataFrame(rows, columns=list(COLUMNS))
        frame["at"] = pd.to_datetime(frame["at"], utc=True)
        frame["stores"] = [json.loads(text) for text in frame["stores"]]
        frame["rows"] = frame["rows"].astype("int64")
        if stores is not None:
            wanted = set(stores)
            frame = frame[[bool(wanted & set(s)) for s in frame["stores"]]].reset_index(drop=True)
        return frame


_SCOPE_WORDS = {"recent": "só interesses recentes", "all": "recentes e histórico"}


def describe(segment: Mapping[str, object] | str) -> str:
    """A recorded segment in words, as the audit page shows it.

    Args:
        segment: the definition (a mapping, or its JSON text as ``entries`` gives it).

    Returns:
        e.g. ``"De volta ao estoque · Submariner, Patek · recentes e histórico · silêncio de 7 dias"``;
        the people left out of a list start with ``"Deixados de fora: "``.
    """
    if isinstance(segment, str):
        try:
            segment = json.loads(segment)
        except ValueError:
            return segment
    if not isinstance(segment, Mapping):
        return str(segment)
    parts: list[str] = []
    if segment.get("campaign"):
        parts.append(str(segment["campaign"]))
    terms = segment.get("terms") or []
    parts.append(", ".join(map(str, terms)) if terms else "sem termos (todos os clientes)")
    if segment.get("scope") in _SCOPE_WORDS:
        parts.append(_SCOPE_WORDS[str(segment["scope"])])
    quiet = segment.get("quiet_days")
    if quiet:
        parts.append(f"silêncio de {quiet} dias")
    if segment.get("inactive_days") is not None:
        parts.append(f"inativos há {segment['inactive_days']}+ dias")
    low, high = segment.get("min_depth"), segment.get("max_depth")
    if low is not None and high is not None:
        parts.append(f"{low} a {high} interesses")
    elif low is not None:
        parts.append(f"{low}+ interesses")
    elif high is not None:
        parts.append(f"até {high} interesses")
    text = " · ".join(parts)
    return f"Deixados de fora: {text}" if segment.get("list") == "deixados de fora" else text


__all__ = ["CAMPAIGN_DELETED", "CAMPAIGN_SAVED", "CLI", "COLUMNS", "DASHBOARD", "AuditLog", "ExportEntry",
           "definition", "describe"]
