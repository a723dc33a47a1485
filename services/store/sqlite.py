"""The embedded SQLite store: the demo database, and the mirror of an Airtable base."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pandas as pd

from services.catalog import Resolution
from services.frame import RAW_COLUMNS
from services.interests import (
    Customer,
    apply_event,
    iso,
    normalize_phone,
    phone_key,
    require_phone,
)
from services.records import customer_of, raw_of
from services.store.base import CustomerNotFound, CustomerRepository, StoreError
from services.store.codec import decode, encode, shared
from services.store.events import EventLog
from services.timeline import LOJA, WHATSAPP, Event, events_between, events_for_batch
from services.twins import check_one_phone, merge_customers

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
INSERT OR IGNORE INTO meta VALUES ('version', '0');
-- Which file this is: a snapshot of the frame is tied to one file, not just to a version number.
INSERT OR IGNORE INTO meta VALUES ('instance', lower(hex(randomblob(8))));
CREATE TABLE IF NOT EXISTS stores (name TEXT PRIMARY KEY, record_id TEXT);
CREATE TABLE IF NOT EXISTS customers (
    id TEXT PRIMARY KEY,
    store TEXT NOT NULL,
    phone TEXT,
    phone_key TEXT,
    name TEXT,
    interests TEXT,
    interests_all TEXT,
    created_at TEXT,
    last_interaction TEXT,
    opt_out INTEGER,
    modified_at TEXT
);
CREATE INDEX IF NOT EXISTS customers_store_phone ON customers (store, phone_key);
CREATE TABLE IF NOT EXISTS products (
    key TEXT PRIMARY KEY, title TEXT, brand TEXT, category TEXT, price_brl INTEGER, url TEXT
);
CREATE TRIGGER IF NOT EXISTS bump_on_insert AFTER INSERT ON customers BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version';
END;
CREATE TRIGGER IF NOT EXISTS bump_on_update AFTER UPDATE ON customers BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version';
END;
CREATE TRIGGER IF NOT EXISTS bump_on_delete AFTER DELETE ON customers BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version';
END;
"""


#: A catalog row: ``(key, title, brand, category, price_brl)``, optionally followed by the page ``url``.
ProductRow = (tuple[str, str, str | None, str, int | None]
              | tuple[str, str, str | None, str, int | None, str | None])


# A mirror written without its base would lose the write at the next sync (SPEC §9).
MIRROR_WITHOUT_SETTINGS = (
    "Esta base é a cópia local de uma base Airtable, mas as configurações do Airtable"
    " (AIRTABLE_API_KEY e AIRTABLE_BASE_ID) não estão definidas: nada foi salvo, porque a"
    " próxima sincronização apagaria o registro. Configure o Airtable e tente de novo."
)


class SqliteStore(CustomerRepository):
    """Customers in one SQLite file (WAL), safe to share between threads.

    Every call opens its own short connection, so Streamlit's script threads
    and the CLI never share a cursor.
    """

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            _add_missing_columns(db)
        self._events = EventLog(self._path)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def events(self) -> EventLog:
        """The timeline kept in this file (SPEC §11)."""
        return self._events

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection in a transaction: committed on success, rolled back on error."""
        db = sqlite3.connect(self.path, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()

    # --- meta ---------------------------------------------------------------

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        """A value of the meta table (sync state, data source, version)."""
        with self.connect() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str | None) -> None:
        """Set a value of the meta table."""
        with self.connect() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def version(self) -> str:
        return self.get_meta("version", "0") or "0"

    def data_key(self) -> str:
        """What the customer frame depends on: this file, its version and its product catalog.

        ``version`` changes with every customer write; the catalog can change alone (a sync
        of the Products table), so its content is part of the key.
        """
        with self.connect() as db:
            meta = dict(db.execute(
                "SELECT key, value FROM meta WHERE key IN ('instance', 'version')"
            ).fetchall())
            products = db.execute(
                "SELECT key, brand, category FROM products ORDER BY key"
            ).fetchall()
        catalog = hashlib.sha1(json.dumps(products).encode()).hexdigest()[:16]
        return f"{meta.get('instance', '')}:{meta.get('version', '0')}:{catalog}"

    def is_empty(self) -> bool:
        """True when the file holds no customer yet."""
        with self.connect() as db:
            return db.execute("SELECT NOT EXISTS (SELECT 1 FROM customers)").fetchone()[0] == 1

    # --- reads --------------------------------------------------------------

    def stores(self) -> list[str]:
        with self.connect() as db:
            rows = db.execute(
                "SELECT name FROM stores UNION SELECT DISTINCT store FROM customers ORDER BY 1"
            ).fetchall()
        return [row[0] for row in rows]

    def raw_customers(self, stores: Collection[str]) -> pd.DataFrame:
        return next(self.raw_customer_parts(stores, None))

    def raw_customer_parts(
        self, stores: Collection[str], size: int | None = 10_000
    ) -> Iterator[pd.DataFrame]:
        # One statement, so the parts are one consistent read (WAL: writers do not wait for it).
        wanted = sorted(set(stores))
        marks = ",".join("?" * len(wanted))
        # The same product names repeat across customers: decoded once per distinct text,
        # a 100,000-customer read holds a thousand strings instead of a million.
        same: dict[str, str] = {}
        with self.connect() as db:
            cursor = db.execute(
                "SELECT id, store, phone, name, interests, interests_all, created_at,"
                f" last_interaction, opt_out FROM customers WHERE store IN ({marks})"
                " ORDER BY rowid",
                wanted,
            )
            while True:
                part = _raw_frame(cursor.fetchall() if size is None else cursor.fetchmany(size), same)
                last = size is None or len(part) < size
                yield part
                del part  # the caller's part goes before the next is read
                if last:
                    return

    def catalog(self) -> dict[str, Resolution]:
        with self.connect() as db:
            rows = db.execute("SELECT key, brand, category FROM products").fetchall()
        return {key: Resolution(brand or None, category) for key, brand, category in rows}

    def catalog_titles(self) -> dict[str, str]:
        with self.connect() as db:
            rows = db.execute("SELECT key, title FROM products WHERE title IS NOT NULL").fetchall()
        return {key: title for key, title in rows if title}

    def product_urls(self) -> dict[str, str]:
        """The page of each product that has one (the ``url`` field of ``Products``), by key."""
        try:
            with self.connect() as db:
                rows = db.execute("SELECT key, url FROM products WHERE url IS NOT NULL AND url != ''"
                                  ).fetchall()
        except sqlite3.OperationalError:  # a read-only file from before the column existed
            return {}
        return {key: str(url).strip() for key, url in rows if str(url).strip()}

    def prices(self) -> dict[str, int]:
        """Indicative prices in BRL by product key (demo catalog)."""
        with self.connect() as db:
            rows = db.execute("SELECT key, price_brl FROM products").fetchall()
        return {key: price for key, price in rows if price}

    def find(self, store: str, phone: str) -> Customer | None:
        e164 = require_phone(phone)
        with self.connect() as db:
            row = self._find_row(db, store, phone_key(e164))
        return _customer(row) if row else None

    @staticmethod
    def _find_row(db: sqlite3.Connection, store: str, key: str | None) -> tuple | None:
        return db.execute(
            "SELECT id, store, phone, name, interests, interests_all, created_at,"
            " last_interaction, opt_out FROM customers WHERE store = ? AND phone_key = ?"
            " ORDER BY last_interaction DESC LIMIT 1",
            (store, key),
        ).fetchone()

    # --- writes -------------------------------------------------------------

    def record(
        self, store: str, phone: str, batch: Sequence[str], at: datetime, name: str | None = None,
        source: str = WHATSAPP,
    ) -> Customer:
        e164 = require_phone(phone)
        if self.get_meta("source") == "airtable":
            raise StoreError(MIRROR_WITHOUT_SETTINGS)
        with self.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = self._find_row(db, store, phone_key(e164))
            if row is None:
                before = Customer(id="loc" + uuid.uuid4().hex[:14], store=store, phone=e164)
                as_text = False
            else:
                before = _customer(row)
                as_text = isinstance(decode(row[4]), str) or isinstance(decode(row[5]), str)
            after = apply_event(before, batch, at)
            if name and name.strip():
                after = _with_name(after, name)
            self.write(db, after, as_text=as_text, modified_at=at)
            # The record and its dated events commit together (SPEC §11).
            self.events.append(events_for_batch(before if row else None, batch, at, source,
                                                customer_id=after.id, store=store), db=db)
        return after

    def record_event(self, store: str, phone: str, kind: str, at: datetime, *, source: str = LOJA,
                     products: Sequence[str] = (), value_brl: float | None = None) -> Event:
        """A visit or a purchase of an existing customer, kept in the timeline of this file.

        Raises:
            CustomerNotFound: no customer with that phone in that store.
        """
        customer = self.find(store, phone)
        if customer is None:
            raise CustomerNotFound(f"Cliente não encontrado: {phone} na loja {store}")
        event = Event(customer.id, store, at, source, kind, tuple(products), value_brl)
        self.events.append([event])
        return event

    def merge(self, store: str, ids: Sequence[str], at: datetime) -> Customer:
        if self.get_meta("source") == "airtable":
            raise StoreError(MIRROR_WITHOUT_SETTINGS)
        wanted = list(dict.fromkeys(ids))
        with self.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            marks = ",".join("?" * len(wanted))
            rows = db.execute(
                "SELECT id, store, phone, name, interests, interests_all, created_at,"
                f" last_interaction, opt_out FROM customers WHERE store = ? AND id IN ({marks})",
                [store, *wanted],
            ).fetchall()
            records = [_customer(row) for row in rows]
            check_one_phone(records, wanted)
            merged = merge_customers(records)
            kept = next(row for row in rows if row[0] == merged.id)
            as_text = isinstance(decode(kept[4]), str) or isinstance(decode(kept[5]), str)
            self.write(db, merged, as_text=as_text, modified_at=at)
            db.executemany("DELETE FROM customers WHERE id = ?",
                           [(rid,) for rid in wanted if rid != merged.id])
            # The united customer keeps the timeline of every record it was made of.
            self.events.reassign(wanted, merged.id, db=db)
        return merged

    def write(
        self, db: sqlite3.Connection, customer: Customer, *, as_text: bool, modified_at: datetime
    ) -> None:
        """Insert or replace one customer, in the fields' own representation."""
        raw = raw_of(customer, as_text=as_text)
        raw["modified_at"] = iso(modified_at)
        db.execute(_INSERT_CUSTOMER, _raw_row(raw))

    def add_store(self, name: str, record_id: str | None = None) -> None:
        """Register a store (tenant)."""
        with self.connect() as db:
            db.execute("INSERT OR REPLACE INTO stores VALUES (?, ?)", (name, record_id))

    def insert_raw(self, rows: Sequence[dict[str, object]]) -> None:
        """Insert raw records as they are (demo and mirror), in one transaction."""
        with self.connect() as db:
            db.executemany(_INSERT_CUSTOMER, [_raw_row(row) for row in rows])

    def replace_products(self, rows: Sequence[ProductRow]) -> None:
        """Replace the product catalog: ``(key, title, brand, category, price_brl[, url])`` rows."""
        with self.connect() as db:
            db.execute("DELETE FROM products")
            db.executemany(_INSERT_PRODUCT, map(_product_row, rows))

    # --- mirror (an Airtable base copied in one transaction) -----------------

    def replace_mirror(
        self,
        rows: Sequence[dict[str, object]],
        stores: Sequence[tuple[str, str | None]],
        products: Sequence[ProductRow] | None,
        meta: Mapping[str, str | None],
        *,
        synced_at: datetime | None = None,
        events: Sequence[Event] | None = None,
    ) -> None:
        """Swap in a complete copy of the source, all or nothing (a full sync, or the demo).

        ``products`` None keeps the catalog as it is. Customers only are replaced: the
        timeline and the campaigns stay. With ``synced_at`` (a sync), each record that
        changed from the copy held gives its events (SPEC §11); a first copy gives none and
        marks when the timeline starts. ``events`` (the demo) replaces the whole timeline.
        """
        with self.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            if synced_at is not None:
                self.events.append(_changes(db, rows, synced_at), db=db)
                self.events.mark_since(synced_at, db=db)
            if events is not None:
                self.events.clear(db=db)
                self.events.append(events, db=db)
            db.execute("DELETE FROM customers")
            db.execute("DELETE FROM stores")
            db.executemany(_INSERT_CUSTOMER, [_raw_row(row) for row in rows])
            db.executemany("INSERT OR REPLACE INTO stores VALUES (?, ?)", stores)
            if products is not None:
                db.execute("DELETE FROM products")
                db.executemany(_INSERT_PRODUCT, map(_product_row, products))
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(meta.items()))

    def apply_mirror_changes(
        self,
        upserts: Sequence[dict[str, object]],
        deleted: Collection[str],
        stores: Sequence[tuple[str, str | None]] | None,
        products: Sequence[ProductRow] | None,
        meta: Mapping[str, str | None],
        *,
        synced_at: datetime | None = None,
    ) -> None:
        """Apply an incremental sync, all or nothing: changed rows, deleted ids, stores, meta.

        ``stores`` / ``products`` None keep them as they are; a list replaces them. With
        ``synced_at``, the events of each changed record commit with it (SPEC §11).
        """
        with self.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            if synced_at is not None:
                self.events.append(_changes(db, upserts, synced_at), db=db)
            db.executemany(_INSERT_CUSTOMER, [_raw_row(row) for row in upserts])
            db.executemany("DELETE FROM customers WHERE id = ?", [(rid,) for rid in deleted])
            if stores is not None:
                db.execute("DELETE FROM stores")
                db.executemany("INSERT OR REPLACE INTO stores VALUES (?, ?)", stores)
            if products is not None:
                db.execute("DELETE FROM products")
                db.executemany(_INSERT_PRODUCT, map(_product_row, products))
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(meta.items()))

    def record_ids(self) -> set[str]:
        """Every customer id held (the deletion sweep compares them with the source)."""
        with self.connect() as db:
            return {row[0] for row in db.execute("SELECT id FROM customers")}

    def store_ids(self) -> dict[str, str | None]:
        """Store name -> source record id (the Tenants record of an Airtable base)."""
        with self.connect() as db:
            return dict(db.execute("SELECT name, record_id FROM stores").fetchall())

    def clear(self) -> None:
        """Remove every customer, store and product (the demo is rebuilt from scratch)."""
        with self.connect() as db:
            db.execute("DELETE FROM customers")
            db.execute("DELETE FROM stores")
            db.execute("DELETE FROM products")


def _changes(db: sqlite3.Connection, rows: Sequence[dict[str, object]], synced_at: datetime) -> list[Event]:
    """The events of ``rows`` against the copies ``db`` holds (none for a first copy)."""
    if db.execute("SELECT NOT EXISTS (SELECT 1 FROM customers)").fetchone()[0]:
        return []
    held: dict[str, Customer] = {}
    ids = [str(row["id"]) for row in rows]
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        found = db.execute(
            "SELECT id, store, phone, name, interests, interests_all, created_at, last_interaction,"
            f" opt_out FROM customers WHERE id IN ({','.join('?' * len(chunk))})", chunk,
        ).fetchall()
        held.update((row[0], _customer(row)) for row in found)
    changes: list[Event] = []
    for row in rows:
        after = customer_of(row)
        before = held.get(after.id)
        if before is None or (before.interests, before.interests_all, before.last_interaction) != (
                after.interests, after.interests_all, after.last_interaction):
            changes.extend(events_between(before, after, synced_at))
    return changes


_INSERT_PRODUCT = (
    "INSERT OR REPLACE INTO products (key, title, brand, category, price_brl, url) VALUES (?, ?, ?, ?, ?, ?)"
)


def _product_row(row: Sequence[object]) -> tuple:
    """A catalog row with its ``url`` (None when the row has none: the demo, a base without the field)."""
    return (*row, None)[:6] if len(row) == 5 else tuple(row)


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """Columns added after a file was created, added in place (never a table rebuilt: nothing is lost)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(products)")}
    if "url" not in columns:
        db.execute("ALTER TABLE products ADD COLUMN url TEXT")


_INSERT_CUSTOMER = (
    "INSERT OR REPLACE INTO customers (id, store, phone, phone_key, name, interests,"
    " interests_all, created_at, last_interaction, opt_out, modified_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _raw_row(row: dict[str, object]) -> tuple:
    phone = row.get("phone")
    e164 = normalize_phone(phone) if isinstance(phone, str) else None
    return (
        row["id"], row["store"], encode(phone), phone_key(e164), encode(row.get("name")),
        encode(row.get("interests")), encode(row.get("interests_all")),
        encode(row.get("created_at")), encode(row.get("last_interaction")),
        int(bool(row.get("opt_out"))), row.get("modified_at"),
    )


def _customer(row: tuple) -> Customer:
    return customer_of({name: decode(value) if name not in ("id", "store", "opt_out") else value
                        for name, value in zip(RAW_COLUMNS, row, strict=True)})


def _with_name(customer: Customer, name: str) -> Customer:
    return replace(customer, name=" ".join(name.split()))


__all__ = ["SqliteStore", "StoreError", "encode", "decode"]


def _raw_frame(rows: list[tuple], same: dict[str, str]) -> pd.DataFrame:
    """Rows of the customers table as raw records: JSON decoded, texts shared through ``same``."""
    frame = pd.DataFrame(rows, columns=list(RAW_COLUMNS), dtype=object)
    del rows
    for column in ("phone", "name", "interests", "interests_all", "created_at",
                   "last_interaction"):
        values = frame[column].tolist()
        frame[column] = None  # the JSON texts go before the decoded values come
        if column.startswith("interests"):
            frame[column] = [shared(decode(value), same) for value in values]
        else:
            frame[column] = [decode(value) for value in values]
        del values
    frame["opt_out"] = [bool(value) for value in frame["opt_out"]]
    return frame
