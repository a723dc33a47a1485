"""Files a command writes: never over a database, and always whole (temporary file, then rename)."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

SQLITE_HEADER = b"SQLite format 3\x00"
# The files SQLite keeps beside a database while it is in use.
COMPANIONS = ("-wal", "-shm", "-journal")


class OutputRefused(ValueError):
    """An output that would overwrite a database, or the file being read."""


def is_sqlite(path: str | Path) -> bool:
    """True when ``path`` is a file that starts with SQLite's 16-byte header.

    Example: ``is_sqlite("data/vitrine.db")`` is True once the demo exists.
    """
    try:
        with open(path, "rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def same_file(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` are one file (the same path, or a symbolic or hard link to it)."""
    try:
        return a.resolve() == b.resolve() or os.path.samefile(a, b)
    except OSError:  # one of them does not exist: only the resolved paths can tell
        return False


def check_output(output: str | Path, reads: Sequence[str | Path] = ()) -> Path:
    """The file to write for ``output``, or ``OutputRefused`` when writing it would destroy data.

    Refused: any file ``reads`` names (or the ``-wal``/``-shm``/``-journal`` beside it),
    through a symbolic or hard link too; any existing SQLite file; a folder.

    Args:
        output: the path the user gave.
        reads: the files the command reads (the database).

    Returns:
        The real path to write (a symbolic link is followed, so the link stays).
    """
    output = Path(output)
    target = output.resolve()
    for protected in _protected(reads):
        if same_file(target, protected):
            raise OutputRefused(
                f"{output} é o arquivo que este comando lê ({protected}): escolha outro arquivo de"
                " saída; nada foi gravado."
            )
    if not target.parent.is_dir():
        raise OutputRefused(f"a pasta {output.parent} não existe: nada foi gravado.")
    if target.is_dir():
        raise OutputRefused(f"{output} é uma pasta: informe um arquivo; nada foi gravado.")
    if is_sqlite(target):
        raise OutputRefused(
            f"{output} é uma base SQLite: este comando não grava por cima de uma base; escolha outro"
            " arquivo; nada foi gravado."
        )
    return target


def _protected(reads: Sequence[str | Path]) -> Iterator[Path]:
    for read in map(Path, reads):
        for companion in ("", *COMPANIONS):
            yield read.with_name(read.name + companion)


def check_stream(stream: object, reads: Sequence[str | Path]) -> None:
    """``OutputRefused`` when ``stream`` (the standard output) is one of the files ``reads`` names.

    ``command >> data/vitrine.db`` would append the output to the database itself.
    """
    try:
        opened = os.fstat(stream.fileno())  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):  # not a real file (a test's buffer, a closed stream)
        return
    if not stat.S_ISREG(opened.st_mode):
        return
    for protected in _protected(reads):
        try:
            found = os.stat(protected)
        except OSError:
            continue
        if (found.st_dev, found.st_ino) == (opened.st_dev, opened.st_ino):
            raise OutputRefused(
                f"a saída padrão é o arquivo {protected}, que este comando lê: redirecione para outro"
                " arquivo; nada foi gravado."
            )


@contextmanager
def replacing(target: str | Path) -> Iterator[Path]:
    """A temporary file beside ``target``, renamed over it only when the block ends without error.

    A reader of ``target`` sees the old file or the new one, never half of it; on error
    the temporary file is removed and ``target`` is untouched.
    """
    target = Path(target)
    try:
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as error:
        raise OSError(error.errno, f"não foi possível gravar em {target.parent} ({error.strerror});"
                                   " nada foi gravado") from None
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        _match_mode(temporary, target)
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _match_mode(temporary: Path, target: Path) -> None:
    # mkstemp makes the file private (0600); the result gets the permissions a plain write would.
    if target.exists():
        mode = target.stat().st_mode & 0o777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(temporary, mode)


def write_output(output: str | Path, data: bytes, reads: Sequence[str | Path] = ()) -> Path:
    """Write ``data`` to ``output`` whole, after ``check_output``; returns the path written.

    Example: ``write_output("lista.csv", csv_bytes, reads=["data/vitrine.db"])``
    """
    target = check_output(output, reads)
    with replacing(target) as temporary:
        temporary.write_bytes(data)
    return target


__all__ = ["SQLITE_HEADER", "OutputRefused", "check_output", "check_stream", "is_sqlite", "replacing",
           "same_file", "write_output"]
