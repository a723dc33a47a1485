"""A SQLite file opened for reading only: a read-only file or folder still serves the read commands."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from services.interests import Customer
from services.store.base import StoreError
from services.store.events import EventLog
from services.store.sqlite import SqliteStore
from services.timeline import WHATSAPP


def connect_read_only(path: str | Path, timeout: float = 30) -> sqlite3.Connection:
    """A connection that can never write ``path``.

    ``mode=ro`` first: it still sees a writer's latest commit (the WAL). In a read-only
    folder without the ``-shm`` file SQLite cannot open a WAL file that way; nobody can
    write there either, so the file is opened ``immutable``.

    Example: ``connect_read_only("data/vitrine.db").execute("SELECT count(*) FROM customers")``
    """
    uri = Path(path).resolve().as_uri()
    db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=timeout)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError as error:
        db.close()
        if not cannot_write(error):
            raise
    return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, timeout=timeout)


def cannot_write(error: sqlite3.Error) -> bool:
    """True when ``error`` says the file or its folder is read-only (not a lock, not corruption)."""
    name = getattr(error, "sqlite_errorname", "") or ""
    return name.startswith("SQLITE_READONLY") or name.startswith("SQLITE_CANTOPEN")


class ReadOnlyEvents(EventLog):
    """The timeline of a file this process may not write: reads only."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        return connect_read_only(self.path)


class ReadOnlyStore(SqliteStore):
    """The customers of a file that this process may not write: every read, no write."""

    read_only = True

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._events = ReadOnlyEvents(self._path)
        with self.connect() as db:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A read-only connection (``connect_read_only``)."""
        db = connect_read_only(self.path)
        try:
            with db:
                yield db
        finally:
            db.close()

    def record(
        self, store: str, phone: str, batch: Sequence[str], at: datetime, name: str | None = None,
        source: str = WHATSAPP,
    ) -> Customer:
        raise StoreError(f"A base {self.path} é somente leitura: nada foi salvo.")


__all__ = ["ReadOnlyEvents", "ReadOnlyStore", "cannot_write", "connect_read_only"]
