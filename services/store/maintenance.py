"""Looking after the SQLite file: its integrity before a write, and a consistent copy (backup)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from services.outputs import COMPANIONS, OutputRefused, is_sqlite, replacing, same_file
from services.store.base import StoreError
from services.store.readonly import connect_read_only


class CorruptDatabase(StoreError):
    """A file that fails SQLite's own check: nothing may be written into it."""


def problems(path: str | Path) -> list[str]:
    """What ``PRAGMA quick_check`` finds wrong with the database at ``path`` (empty when sound).

    A file that is not a SQLite database at all is not checked here (opening it says so).
    """
    if not is_sqlite(path):
        return []
    try:
        db = connect_read_only(path)
    except sqlite3.OperationalError:
        raise
    except sqlite3.DatabaseError as error:
        return [str(error)]
    try:
        rows = [row[0] for row in db.execute("PRAGMA quick_check").fetchall()]
    except sqlite3.OperationalError:
        raise  # locked, or unreadable: not a verdict on the file
    except sqlite3.DatabaseError as error:  # "database disk image is malformed"
        return [str(error)]
    finally:
        db.close()
    return [] if rows == ["ok"] else rows


def require_intact(path: str | Path) -> None:
    """``CorruptDatabase`` when ``path`` fails ``PRAGMA quick_check`` (call it before a write).

    Example: ``require_intact("data/vitrine.db")`` returns None for a sound file.
    """
    found = problems(path)
    if found:
        first = " ".join(str(found[0]).split())
        more = f" e mais {len(found) - 1} problema(s)" if len(found) > 1 else ""
        raise CorruptDatabase(
            f"a base {path} está corrompida ({first}{more}): nada foi gravado. Restaure uma cópia feita"
            " com `python -m services backup` (ou, com Airtable, refaça o espelho com `sync --full`"
            " em outro --db)."
        )


def backup(source: str | Path, target: str | Path, *, force: bool = False) -> Path:
    """A consistent copy of ``source`` at ``target``, safe while the dashboard and a sync write.

    SQLite's online backup copies every page in one read transaction, so the copy is the
    file as of one commit; it is written to a temporary file beside ``target`` and renamed
    when complete. The copy is a single file (rollback journal), ready to open or move.

    Args:
        source: the database.
        target: the copy.
        force: replace an existing ``target`` (never the source itself).

    Returns:
        The path written.

    Raises:
        StoreError: ``source`` is missing or not a SQLite file.
        OutputRefused: ``target`` is the source (or its ``-wal``/``-shm``), a folder, or
            exists without ``force``.
    """
    source, target = Path(source), Path(target)
    if not is_sqlite(source):
        raise StoreError(f"A base {source} não existe ou não é uma base SQLite: nada foi copiado.")
    written = target.resolve()
    for companion in ("", *COMPANIONS):
        if same_file(written, source.with_name(source.name + companion)):
            raise OutputRefused(f"{target} é a própria base {source}: escolha outro arquivo;"
                                " nada foi copiado.")
    if written.is_dir():
        raise OutputRefused(f"{target} é uma pasta: informe um arquivo; nada foi copiado.")
    if not written.parent.is_dir():
        raise OutputRefused(f"a pasta {target.parent} não existe: nada foi copiado.")
    if written.exists() and not force:
        raise OutputRefused(f"{target} já existe: use --force para substituí-lo; nada foi copiado.")
    with replacing(written) as temporary:
        origin = connect_read_only(source)
        copy = sqlite3.connect(temporary)
        try:
            origin.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")
            found = [row[0] for row in copy.execute("PRAGMA quick_check").fetchall()]
        finally:
            copy.close()
            origin.close()
        if found != ["ok"]:
            raise CorruptDatabase(f"a cópia de {source} não passou na verificação ({found[0]}):"
                                  " a base de origem pode estar corrompida; nada foi copiado.")
    return written


__all__ = ["CorruptDatabase", "backup", "problems", "require_intact"]
