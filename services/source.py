"""Opens the repository for a file and settings: one rule for demo, embedded file and mirror.

The command line and the dashboard both call ``open_source``; nothing else decides which
backend a file is read through.

- Airtable settings present: the file is the base's local mirror (``AirtableStore``);
  reads come from the mirror, writes go through Airtable.
- No settings, a file with stores: the embedded database (the demo, or a file filled by
  ``store add`` and ``import``).
- No settings, a missing or storeless file: only the demo command and the dashboard's first
  start create the demo (``create_demo=True``); anything else stops with a message that says
  how to create it, so a mistyped path never fabricates customers.
- ``read_only``: a command that only reads still serves a file it may not write (a read-only
  file or folder), through a read-only connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from services.config import AirtableSettings
from services.store.base import CustomerRepository, StoreError
from services.store.readonly import ReadOnlyStore, cannot_write
from services.store.sqlite import SqliteStore

DEMO = "demo"
EMBEDDED = "embedded"
MIRROR = "mirror"


class MissingDatabase(StoreError):
    """A file that does not exist, or holds no store, opened by a command that may not fill it."""


@dataclass(frozen=True)
class Source:
    """The repository of this run and what kind of source it is.

    Attributes:
        repository: where customers are read from and written to.
        kind: ``"demo"``, ``"embedded"`` (a real file without Airtable) or ``"mirror"``.
    """

    repository: CustomerRepository
    kind: str

    @property
    def is_mirror(self) -> bool:
        """True when the file mirrors an Airtable base (a sync panel applies)."""
        return self.kind == MIRROR

    @property
    def is_demo(self) -> bool:
        """True for the demo data (the screen says so)."""
        return self.kind == DEMO


def open_source(
    path: str | Path,
    settings: AirtableSettings | None,
    *,
    create_demo: bool = False,
    now: datetime | None = None,
    read_only: bool = False,
) -> Source:
    """The repository for ``path`` and ``settings``, by the one rule of this module.

    Args:
        path: the SQLite file (the demo, an embedded database, or the Airtable mirror).
        settings: the Airtable base, or None.
        create_demo: fill a missing or blank file with the demo (the demo command and the
            dashboard's first start only).
        now: the demo's reference time (required with ``create_demo``).
        read_only: the caller only reads: a file this process may not write is opened
            read-only (``ReadOnlyStore``) instead of failing.

    Returns:
        A ``Source``. A mirror that was never synced is returned as it is: the dashboard
        runs its first sync, the command line says to run ``sync``.

    Raises:
        MissingDatabase: no settings, and the file is missing or holds no store, without
            ``create_demo``.

    Example: ``open_source("data/vitrine.db", None, create_demo=True, now=now).kind == "demo"``
    """
    path = Path(path)
    if settings is not None:
        from services.store.airtable import AirtableStore  # pyairtable loads only with a base

        return Source(_opened(lambda: AirtableStore(path, settings), path, read_only), MIRROR)
    if path.exists():
        store = _opened(lambda: SqliteStore(path), path, read_only)
        if store.stores() or not store.is_empty():
            return Source(store, DEMO if store.get_meta("source") == DEMO else EMBEDDED)
        if store.get_meta("source") not in (None, DEMO):
            return Source(store, EMBEDDED)
    if not create_demo:
        raise MissingDatabase(
            f"A base {path} não existe ou não tem lojas. Crie a demonstração com"
            " `python -m services demo`, ou uma base vazia com `python -m services store add LOJA`"
            " (e importe clientes com `python -m services import ARQUIVO`)."
        )
    if now is None:
        raise ValueError("open_source: create_demo needs the reference time `now`")
    from services.demo import ensure_demo  # Faker loads only when a demo is built

    return Source(ensure_demo(path, now), DEMO)


def _opened(opener: Callable[[], SqliteStore], path: Path, read_only: bool) -> SqliteStore:
    # Opening for writing creates the schema; a read-only file or folder refuses that.
    try:
        return opener()
    except sqlite3.OperationalError as error:
        if not (read_only and path.exists() and cannot_write(error)):
            raise
    return ReadOnlyStore(path)
