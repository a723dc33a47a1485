"""The event log (SPEC §11): every dated event, in the same SQLite file as the customers."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from services.interests import parse_time
from services.timeline import EVENT_COLUMNS, KINDS, SOURCES, Event, empty_frame, micros

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id TEXT NOT NULL,
    store TEXT NOT NULL,
    at TEXT NOT NULL,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    products TEXT NOT NULL,
    value_brl REAL
);
CREATE INDEX IF NOT EXISTS events_customer_at ON events (customer_id, at);
CREATE INDEX IF NOT EXISTS events_at ON events (at);
CREATE INDEX IF NOT EXISTS events_store_at ON events (store, at);
"""

#: The meta key holding when the timeline started (the first sync, or the demo's first event).
TIMELINE_SINCE = "timeline_since"
_INSERT = (
    "INSERT INTO events (customer_id, store, at, source, kind, products, value_brl)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
# One character no id, store or date holds: the columns travel as one text each.
_SEP = "\x1f"


def stored_time(moment: datetime) -> str:
    """A moment as the table keeps it: UTC, microseconds, ``Z``, one width, so text order is time order.

    Example: ``stored_time(datetime(2026, 1, 5, 10, tzinfo=UTC)) == "2026-01-05T10:00:00.000000Z"``
    """
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    # isoformat with the offset cut off: strftime("...%S.%fZ")'s text, a few times faster.
    return aware.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def _rows(events: Iterable[Event]) -> list[tuple[object, ...]]:
    texts: dict[tuple[str, ...], str] = {}  # products repeat: each set is encoded once
    rows = []
    for event in events:
        products = texts.get(event.products)
        if products is None:
            products = texts[event.products] = json.dumps(list(event.products), ensure_ascii=False)
        rows.append((
            event.customer_id, event.store, stored_time(event.at), event.source, event.kind,
            products, event.value_brl,
        ))
    return rows


def _codes(column: str, values: Sequence[str]) -> str:
    """SQL giving the position of ``column``'s value in ``values`` (-1 when not there)."""
    quoted = (value.replace("'", "''") for value in values)
    cases = " ".join(f"WHEN '{value}' THEN {i}" for i, value in enumerate(quoted))
    return f"CASE {column} {cases} ELSE -1 END"


def _coded(text: str, values: Sequence[str]) -> pd.Categorical:
    """A categorical from comma-separated positions in ``values`` (``_codes``'s output)."""
    codes = np.fromstring(text, dtype=np.int64, sep=",")
    return pd.Categorical.from_codes(codes, categories=pd.Index(list(values), dtype=object))


def _lists(texts: list[str]) -> np.ndarray:
    """JSON lists parsed once per distinct text: rows with the same products share one list."""
    codes, uniques = pd.factorize(np.array(texts, dtype=object))
    parsed = json.loads("[" + ",".join(uniques) + "]")
    return np.fromiter(parsed, dtype=object, count=len(parsed))[codes]


_PART_ROWS = 100_000


class _Parts:
    """The columns of the event frame, read part after part (``EventLog.frame``)."""

    def __init__(self, code_type: type[np.integer] = np.int8) -> None:
        self.count = 0
        self.code_type = code_type  # of store, source and kind: -1 and their positions fit
        self.ids: dict[str, int] = {}
        self.columns: dict[str, list] = {name: [] for name in ("customer_id", "at", "store", "source",
                                                                "kind", "products", "value_brl")}
        self.lists: dict[str, list] = {}  # each distinct products text, parsed once for every part

    def add(self, count: int, ids: str | None, at: str | None, store: str | None, source: str | None,
            kind: str | None, products: str | None, values: str | None) -> None:
        """One part's texts (``group_concat``), turned into arrays."""
        if not count:
            return
        self.count += count
        columns, known = self.columns, self.ids
        # The narrowest codes that hold the values: a timeline of millions holds each part of
        # every column until the frame is assembled.
        columns["customer_id"].append(np.fromiter(
            (known.setdefault(i, len(known)) for i in ids.split(_SEP)), dtype=np.int32, count=count))
        columns["at"].append(pd.to_datetime(at.split(_SEP), format="ISO8601", utc=True).as_unit("us"))
        for name, text in (("store", store), ("source", source), ("kind", kind)):
            columns[name].append(np.fromstring(text, dtype=self.code_type, sep=","))
        columns["products"].append(self._lists(products.split(_SEP)))
        columns["value_brl"].append(np.fromstring(values, sep=","))

    def _lists(self, texts: list[str]) -> np.ndarray:
        """JSON lists parsed once per distinct text: rows with the same products share one list."""
        codes, uniques = pd.factorize(np.array(texts, dtype=object))
        new = [text for text in uniques if text not in self.lists]
        if new:
            self.lists.update(zip(new, json.loads("[" + ",".join(new) + "]"), strict=True))
        return np.fromiter(map(self.lists.__getitem__, uniques), dtype=object, count=len(uniques))[codes]

    def frame(self, names: Sequence[str]) -> pd.DataFrame:
        """The parts as one frame (``EVENT_COLUMNS``), in the order they were read.

        Each column's parts are let go as soon as the column is joined: the timeline is held
        about once while it is assembled, not twice.
        """
        columns = self.columns

        def joined(name: str) -> np.ndarray:
            parts = columns.pop(name)
            return np.concatenate(parts) if len(parts) > 1 else parts[0]

        ats = columns.pop("at")
        at = ats[0].append(ats[1:]) if len(ats) > 1 else ats[0]
        del ats
        built = {
            "customer_id": pd.Categorical.from_codes(
                joined("customer_id"), categories=pd.Index(list(self.ids), dtype=object)),
            "store": _from_codes(joined("store"), names),
            "at": at,
            "source": _from_codes(joined("source"), SOURCES),
            "kind": _from_codes(joined("kind"), KINDS),
            "products": joined("products"),
            "value_brl": joined("value_brl"),
        }
        return pd.DataFrame({name: built.pop(name) for name in EVENT_COLUMNS}, copy=False)


def _from_codes(codes: np.ndarray, values: Sequence[str]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=pd.Index(list(values), dtype=object))


class EventLog:
    """The ``events`` table of the SQLite file at ``path`` (created when missing; nothing is dropped).

    Example::

        log = EventLog(store.path)
        log.append(timeline.events_for_batch(before, ["Submariner"], now))
        log.for_customer(before.id)[0].kind == "retorno"
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._reading() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            yield db
        finally:
            db.close()

    # --- writes -----------------------------------------------------------------

    def append(self, events: Iterable[Event], db: sqlite3.Connection | None = None) -> int:
        """Add events; returns how many.

        Args:
            events: the events, in order (ties in ``at`` keep this order).
            db: a connection of the caller, in its own transaction: the events commit or
                roll back with it (a sync writes rows and their events together). None:
                a transaction of their own.
        """
        rows = _rows(events)
        if not rows:
            return 0
        if db is not None:
            db.executemany(_INSERT, rows)
            return len(rows)
        own = self._connect()
        try:
            # Three indexes take random inserts: a larger page cache keeps a replay's millions fast.
            own.execute("PRAGMA cache_size = -65536")
            with own:
                own.executemany(_INSERT, rows)
        finally:
            own.close()
        return len(rows)

    def mark_since(self, moment: datetime, db: sqlite3.Connection | None = None) -> None:
        """Set when the timeline started, once (the first sync); later calls keep the first value."""
        statement = "INSERT OR IGNORE INTO meta VALUES (?, ?)"
        if db is not None:
            db.execute(statement, (TIMELINE_SINCE, stored_time(moment)))
            return
        own = self._connect()
        try:
            with own:
                own.execute(statement, (TIMELINE_SINCE, stored_time(moment)))
        finally:
            own.close()

    def reassign(self, from_ids: Sequence[str], to_id: str, db: sqlite3.Connection | None = None) -> None:
        """File the events of ``from_ids`` under ``to_id`` (records of one customer united)."""
        rows = [(to_id, old) for old in from_ids if old != to_id]
        if db is not None:
            db.executemany("UPDATE events SET customer_id = ? WHERE customer_id = ?", rows)
            return
        own = self._connect()
        try:
            with own:
                own.executemany("UPDATE events SET customer_id = ? WHERE customer_id = ?", rows)
        finally:
            own.close()

    def clear(self, db: sqlite3.Connection | None = None) -> None:
        """Remove every event and the timeline start (a demo rebuilt from scratch only)."""
        statements = ("DELETE FROM events", f"DELETE FROM meta WHERE key = '{TIMELINE_SINCE}'")
        if db is not None:
            for statement in statements:
                db.execute(statement)
            return
        own = self._connect()
        try:
            with own:
                for statement in statements:
                    own.execute(statement)
        finally:
            own.close()

    # --- reads ------------------------------------------------------------------

    def since(self) -> datetime | None:
        """When the timeline started (``mark_since``); None when never set."""
        with self._reading() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (TIMELINE_SINCE,)).fetchone()
        return parse_time(row[0]) if row else None

    def count(self) -> int:
        """How many events the log holds."""
        with self._reading() as db:
            return int(db.execute("SELECT count(*) FROM events").fetchone()[0])

    def version(self) -> str:
        """A token that changes with every append or clear (a cache key beside the customers')."""
        with self._reading() as db:
            row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
            total = db.execute("SELECT count(*) FROM events").fetchone()[0]
        return f"{row[0] if row else 0}:{total}"

    def span(self) -> tuple[datetime, datetime] | None:
        """``(first at, last at)`` of the events; None when there are none."""
        with self._reading() as db:
            first, last = db.execute("SELECT min(at), max(at) FROM events").fetchone()
        if first is None:
            return None
        return parse_time(first), parse_time(last)  # type: ignore[return-value]

    def for_customer(self, customer_id: str, limit: int | None = None) -> list[Event]:
        """One customer's events, newest first (ties: the last appended first)."""
        with self._reading() as db:
            rows = db.execute(
                "SELECT customer_id, store, at, source, kind, products, value_brl FROM events"
                " WHERE customer_id = ? ORDER BY at DESC, id DESC LIMIT ?",
                (customer_id, -1 if limit is None else int(limit)),
            ).fetchall()
        return [
            Event(cid, store, parse_time(at), source, kind, tuple(json.loads(products)), value)  # type: ignore[arg-type]
            for cid, store, at, source, kind, products, value in rows
        ]

    def frame(
        self, stores: Collection[str] | None = None, since: datetime | None = None
    ) -> pd.DataFrame:
        """Every event (of ``stores``, at or after ``since``) as one frame, oldest first.

        Args:
            stores: only these stores (None: all; the caller passes the allowed stores).
            since: only events at or after it.

        Returns:
            Columns ``customer_id, store, at, source, kind, products, value_brl``:
            ``customer_id``, ``store``, ``source``, ``kind`` categoricals (``source`` and
            ``kind`` with every allowed value as a category); ``at`` ``datetime64[us, UTC]``;
            ``products`` a list of titles per row (rows with the same products share one
            list: never mutate it); ``value_brl`` float, NaN when none. Ordered by ``at``,
            then by the order of appending. A million rows take a few seconds: cache the
            frame by ``version()``, and pass ``since`` when only a window is needed.
        """
        where, params = [], {"sep": _SEP}
        if stores is not None:
            wanted = sorted(set(stores))
            if not wanted:
                return empty_frame()
            marks = []
            for i, name in enumerate(wanted):
                params[f"s{i}"] = name
                marks.append(f":s{i}")
            where.append(f"store IN ({', '.join(marks)})")
        if since is not None:
            where.append("at >= :since")
            params["since"] = stored_time(since)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._reading() as db:
            db.execute("BEGIN")  # one snapshot for every part
            names = [row[0] for row in db.execute(f"SELECT DISTINCT store FROM events{clause}", params)]
            if not names:
                return empty_frame()
            widest = max(len(names), len(SOURCES), len(KINDS))
            parts = _Parts(np.int8 if widest < np.iinfo(np.int8).max else np.int32)
            low, high = db.execute("SELECT min(rowid), max(rowid) FROM events").fetchone()
            # Each column of a part comes back as one text (a scan in insertion order): a million
            # rows cost a few C-level splits and parses instead of seven million Python values, and
            # a part at a time holds its texts and their pieces, not the whole timeline's.
            query = (
                "SELECT count(*), group_concat(customer_id, :sep), group_concat(at, :sep),"
                f" group_concat({_codes('store', names)}, ','),"
                f" group_concat({_codes('source', SOURCES)}, ','),"
                f" group_concat({_codes('kind', KINDS)}, ','), group_concat(products, :sep),"
                " group_concat(coalesce(value_brl, 'nan'), ',')"
                f" FROM events NOT INDEXED{clause or ' WHERE 1'} AND rowid BETWEEN :low AND :high"
            )
            for first in range(low, high + 1, _PART_ROWS):
                bounds = {"low": first, "high": first + _PART_ROWS - 1}
                parts.add(*db.execute(query, {**params, **bounds}).fetchone())
        if not parts.count:
            return empty_frame()
        frame = parts.frame(names)
        del parts
        if not frame["at"].is_monotonic_increasing:
            # Stable: events of the same moment keep the order in which they were appended.
            order = np.argsort(micros(frame["at"]), kind="stable")
            frame = frame.take(order).reset_index(drop=True)
        return frame


__all__ = ["TIMELINE_SINCE", "EventLog", "stored_time"]
