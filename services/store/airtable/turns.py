"""Writers of one customer take turns on this machine: threads and processes alike (a lock file)."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: turns inside one process only
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("vitrine.airtable")

# One descriptor per file for the life of the process: closing any descriptor of a file
# drops every record lock the process holds on it, so none is ever closed.
_FILES: dict[str, int | None] = {}
_THREAD_LOCKS: dict[tuple[str, int], threading.Lock] = {}
_GUARD = threading.Lock()


def turns_path(mirror: Path) -> Path:
    """The file whose byte ranges are the customers' turns: beside the mirror."""
    return mirror.with_name(mirror.name + ".airtable-turns")


@contextlib.contextmanager
def customer_turn(mirror: Path, key: str) -> Iterator[None]:
    """Hold the turn of customer ``key`` among every writer of ``mirror`` on this machine.

    Two writers of one machine never interleave their read-merge-write-read-back on one
    customer, so they never overwrite each other: only other programs (the assistant)
    are left to the read-back of SPEC §3. A turn is one byte of the lock file
    (``fcntl.lockf``), at an offset hashed from ``key``; the kernel releases it when
    the process ends, however it ends. A folder this process may not write keeps the
    turns per process.

    Example: ``with customer_turn(path, "Vitrine Jardins\\n+5511987654321"): ...``
    """
    offset = zlib.crc32(key.encode("utf-8")) & 0x7FFF_FFFF
    path = str(turns_path(mirror).resolve())
    with _GUARD:
        in_process = _THREAD_LOCKS.setdefault((path, offset), threading.Lock())
    # Record locks belong to the process: its threads take turns first, by a thread lock.
    with in_process:
        descriptor = _descriptor(path)
        if descriptor is None:
            yield
            return
        fcntl.lockf(descriptor, fcntl.LOCK_EX, 1, offset)
        try:
            yield
        finally:
            fcntl.lockf(descriptor, fcntl.LOCK_UN, 1, offset)


def _descriptor(path: str) -> int | None:
    with _GUARD:
        if path not in _FILES:
            try:
                _FILES[path] = None if fcntl is None else os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as error:
                log.warning("turns between processes unavailable (%s): per process only", error)
                _FILES[path] = None
        return _FILES[path]
