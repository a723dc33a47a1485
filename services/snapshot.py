"""The customer frame saved beside the SQLite file, so a process starts without re-reading every record.

At 100,000 customers, reading the records and building the frame takes seconds; loading
this snapshot takes a tenth of one. A snapshot belongs to one data version of one file
(``CustomerRepository.data_key``) and to one snapshot format: any other is ignored and replaced.
It is Arrow IPC (no pickle): tables of the frame, and the list columns as one dictionary
of distinct texts plus, per row, how many items it holds.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa

from services.frame import CustomerData, build, no_gc
from services.store.base import CustomerRepository

# Bump when the frame's columns or their meaning change (build's output), so old files are ignored.
FORMAT = 3
LIST_COLUMNS = ("recent", "history", "problems")
_MAGIC = b"VITRINE-FRAME\n"
#: The list of every empty cell of the list columns (the frame's lists are never mutated).
_EMPTY: list[str] = []


def snapshot_path(db_path: str | Path) -> Path:
    """Where the snapshot of a SQLite file lives: ``vitrine.db`` → ``vitrine.db.frame``."""
    path = Path(db_path)
    return path.with_name(path.name + ".frame")


def full_key(data_key: str) -> str:
    """The key a snapshot is saved under: the data version, the format and what parsing depends on."""
    return f"{FORMAT}:{phonenumbers.__version__}:{data_key}"


def _write_ipc(table: pa.Table, sink: BinaryIO) -> None:
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)


def _lists_parts(values: pd.Series) -> tuple[pa.Table, pa.Table, pa.Table]:
    """A column of lists of texts as (items per row, flat codes, distinct texts)."""
    lists = values.tolist()
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    flat = np.array([item for items in lists for item in items], dtype=object)
    if len(flat):
        codes, texts = pd.factorize(flat)
        texts = [str(text) for text in texts]
    else:
        codes, texts = np.zeros(0, dtype=np.int64), []
    return (
        pa.table({"lengths": pa.array(lengths, type=pa.int64())}),
        pa.table({"codes": pa.array(codes, type=pa.int64())}),
        pa.table({"texts": pa.array(texts, type=pa.string())}),
    )


def _tables(data: CustomerData) -> Iterator[tuple[str, pa.Table]]:
    """The snapshot's parts in file order, one at a time."""
    customers = data.customers
    yield "customers", pa.Table.from_pandas(customers.drop(columns=list(LIST_COLUMNS)), preserve_index=True)
    yield "recent_items", pa.Table.from_pandas(data.recent_items, preserve_index=True)
    yield "history_items", pa.Table.from_pandas(data.history_items, preserve_index=True)
    yield "products", pa.Table.from_pandas(data.products, preserve_index=True)
    for column in LIST_COLUMNS:
        lengths, codes, texts = _lists_parts(customers[column])
        yield f"{column}.lengths", lengths
        yield f"{column}.codes", codes
        yield f"{column}.texts", texts


def save(data: CustomerData, path: str | Path, key: str) -> None:
    """Write the snapshot of ``data`` under ``key`` (atomically: readers see the old or the new).

    Each part goes to disk as it is made: a spare file holds them until the header (their
    offsets) is known, so saving never holds the whole snapshot in memory beside the frame.
    """
    path = Path(path)
    header = {"key": key, "columns": list(data.customers.columns), "parts": {}}
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out, tempfile.TemporaryFile(dir=path.parent) as body:
            for name, table in _tables(data):
                offset = body.tell()
                _write_ipc(table, body)
                del table
                header["parts"][name] = [offset, body.tell() - offset]
            head = json.dumps(header).encode()
            out.write(_MAGIC)
            out.write(len(head).to_bytes(8, "little"))
            out.write(head)
            body.seek(0)
            shutil.copyfileobj(body, out, 1 << 20)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load(path: str | Path, key: str) -> CustomerData | None:
    """The snapshot at ``path`` when it was saved under ``key``; None when missing, stale or unreadable."""
    try:
        with open(path, "rb") as handle:
            if handle.read(len(_MAGIC)) != _MAGIC:
                return None
            size = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(size))
            if header.get("key") != key:
                return None
            start = len(_MAGIC) + 8 + size

            def read(name: str) -> pa.Table:
                # Each part on its own: what only serves to rebuild the list columns is
                # freed afterwards, while the tables' columns keep pointing into theirs.
                offset, length = header["parts"][name]
                handle.seek(start + offset)
                data = handle.read(length)
                if len(data) != length:
                    raise ValueError("snapshot truncated")
                return pa.ipc.open_stream(pa.py_buffer(data)).read_all()

            with no_gc():
                return _decode(header, read)
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
        return None


def _decode(header: dict, table: Callable[[str], pa.Table]) -> CustomerData:
    customers = table("customers").to_pandas()
    for column in LIST_COLUMNS:
        lengths = table(f"{column}.lengths").column("lengths").to_numpy()
        codes = table(f"{column}.codes").column("codes").to_numpy()
        texts = np.array(table(f"{column}.texts").column("texts").to_pylist(), dtype=object)
        flat = texts[codes].tolist()
        ends = np.cumsum(lengths)
        starts = (ends - lengths).tolist()
        rows = list(map(flat.__getitem__, map(slice, starts, ends.tolist())))
        for row in np.flatnonzero(lengths == 0).tolist():
            rows[row] = _EMPTY  # most customers have no problem: one list for all of them
        customers[column] = rows
    customers = customers[header["columns"]]
    return CustomerData(
        customers=customers,
        recent_items=table("recent_items").to_pandas(),
        history_items=table("history_items").to_pandas(),
        products=table("products").to_pandas(),
    )


def customer_data(store: CustomerRepository, data_key: str | None = None) -> CustomerData:
    """The customer frame of every store: the snapshot when it is current, else built and saved.

    Args:
        store: the repository (the demo, or the Airtable base through its mirror).
        data_key: ``store.data_key()`` as read by the caller before this call (the
            cache key it uses); read here when None. It is read before the records,
            so a write in between makes the snapshot look older than it is, never newer.

    Returns:
        The ``CustomerData`` of every store.
    """
    key = full_key(data_key if data_key is not None else store.data_key())
    path = snapshot_path(store.path)
    data = load(path, key)
    if data is not None:
        return data
    with no_gc():
        # Part by part: the raw records of one part at a time, not of every customer beside the frame.
        data = build(store.raw_customer_parts(store.stores()), store.catalog())
    # A read-only folder or a full disk costs the next start its speed, nothing else.
    with contextlib.suppress(OSError):
        save(data, path, key)
    return data
