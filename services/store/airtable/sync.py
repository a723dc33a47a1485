"""The mirror: the Airtable base copied into the local SQLite file, fully or incrementally (SPEC §8)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from pyairtable import formulas as F

from services.config import redact
from services.interests import iso, now_utc, parse_time
from services.store.airtable.errors import MissingField
from services.store.airtable.records import product_rows, to_row
from services.store.airtable.schema import Schema, detect_schema
from services.store.airtable.store import AirtableStore
from services.store.base import StoreError

#: Records modified this long before the last sync started are fetched again (clock skew, slow writes).
OVERLAP = timedelta(minutes=5)
#: How often an incremental sync also sweeps every record id to find deletions.
SWEEP_EVERY = timedelta(hours=6)
#: Walks at once over a whole table when the client has no throttle to size them by.
PARTITIONS = 5

META_KEYS = (
    "source", "airtable_base", "airtable_schema", "sync_cursor", "last_sync_at",
    "last_full_sync_at", "last_sweep_at", "last_error", "last_error_at",
)


@dataclass(frozen=True)
class Progress:
    """Where a sync is, for a progress bar.

    Attributes:
        phase: ``esquema``, ``lojas``, ``produtos``, ``clientes``, ``varredura``, ``gravando``
            or ``aguardando`` (a 429 pause).
        done: customer records read so far.
        expected: customer records expected (the mirror's count, an estimate), or None.
        message: one line in Portuguese.
    """

    phase: str
    done: int
    expected: int | None
    message: str

    @property
    def fraction(self) -> float | None:
        """Share done in [0, 1], or None when no estimate exists."""
        if not self.expected:
            return None
        return min(self.done / self.expected, 0.99)


@dataclass(frozen=True)
class SyncReport:
    """What a sync did."""

    kind: str  # "full" or "incremental"
    fetched: int  # customer records read (the sweep not counted)
    deleted: int
    swept: bool
    requests: int
    seconds: float
    customers: int  # in the mirror afterwards

    @property
    def records_per_second(self) -> float:
        return self.fetched / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        """One line in Portuguese for the CLI and the dashboard."""
        kind = "completa" if self.kind == "full" else "incremental"
        parts = [f"Sincronização {kind}: {self.fetched} registros lidos"]
        if self.swept:
            parts.append(f"{self.deleted} removidos")
        parts.append(f"{self.customers} clientes no espelho")
        parts.append(f"{self.requests} requisições em {self.seconds:.1f} s")
        return ", ".join(parts) + "."


ProgressFn = Callable[[Progress], None]
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(str(path.resolve()), threading.Lock())


def is_current(store: AirtableStore) -> bool:
    """True when the mirror holds a complete copy of this base (an incremental sync may follow)."""
    return (
        store.mirror.get_meta("source") == "airtable"
        and store.mirror.get_meta("airtable_base") == store.mirror_key()
        and bool(store.mirror.get_meta("sync_cursor"))
        and bool(store.mirror.get_meta("airtable_schema"))
    )


def sync(
    store: AirtableStore,
    *,
    full: bool = False,
    sweep: bool | None = None,
    progress: ProgressFn | None = None,
    now: Callable[[], datetime] = now_utc,
    overlap: timedelta = OVERLAP,
    sweep_every: timedelta = SWEEP_EVERY,
    partitions: int | None = None,
) -> SyncReport:
    """Bring the mirror up to date with the base: all or nothing.

    The first sync (or ``full``) reads every record, several parts of the table at
    once (``partitions``, under the client's one throttle) when Airtable's pages are
    slow enough for one walk to leave the throttle idle; later ones read the
    records modified since the previous sync began, less ``overlap``, in one walk
    (a few pages: 1 + changes/100 requests), and every ``sweep_every`` also the
    list of record ids, to drop the deleted. Nothing is written until every page
    has arrived, then one transaction applies it all, so a sync stopped at any
    point leaves the mirror and the timeline as they were.

    Args:
        store: the Airtable store (its client, and the mirror it fills).
        full: read everything even when an incremental sync would do.
        sweep: force (True) or skip (False) the deletion sweep; None: when due.
        progress: called with a ``Progress`` after every page.
        now: the clock (the sync's cursor is the time the walk began).
        partitions: walks at once over a whole table when pages are slow (default: the
            throttle's rate, so every request the window allows can be in flight; 1:
            always a single walk). See ``Client.walk_partitions``.

    Returns:
        A ``SyncReport``.

    Raises:
        StoreError: a named Airtable fault; it is also kept in the meta ``last_error``.
    """
    notify = progress or (lambda _p: None)
    with _lock_for(store.path):
        previous_wait = store.client.api.on_wait
        store.client.api.on_wait = lambda message: notify(Progress("aguardando", 0, None, message))
        try:
            parts = partitions or store.client.policy.rate or PARTITIONS
            if full or not is_current(store):
                return _full(store, notify, now, parts)
            return _incremental(store, notify, now, overlap, sweep, sweep_every, parts)
        except StoreError as exc:
            _remember_error(store, str(exc), now)
            raise
        except Exception as exc:
            _remember_error(store, f"Falha inesperada na sincronização ({type(exc).__name__}).", now)
            raise
        finally:
            store.client.api.on_wait = previous_wait


def _precise(moment: datetime) -> str:
    """ISO 8601 with milliseconds (the cursor of the next incremental sync)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _remember_error(store: AirtableStore, message: str, now: Callable[[], datetime]) -> None:
    # The message may quote what Airtable (or a proxy) answered: the file must not keep a token.
    store.mirror.set_meta("last_error", redact(message, [store.settings.api_key]))
    store.mirror.set_meta("last_error_at", iso(now()))


def _customer_count(store: AirtableStore) -> int | None:
    with store.mirror.connect() as db:
        count = db.execute("SELECT COUNT(*) FROM customers").fetchone()[0]
    return count or None


class _Pages:
    """Counts records page by page (per partition of the table) and reports them."""

    def __init__(self, notify: ProgressFn, phase: str, expected: int | None, label: str) -> None:
        self.notify, self.phase, self.expected, self.label = notify, phase, expected, label
        self.parts: dict[int, int] = {}

    @property
    def done(self) -> int:
        return sum(self.parts.values())

    def page(self, records: list[dict[str, Any]], part: int = 0) -> None:
        self.parts[part] = self.parts.get(part, 0) + len(records)
        done = self.done
        self.notify(Progress(self.phase, done, self.expected, f"{self.label}: {done} registros"))

    def restart(self, part: int = 0) -> None:
        self.parts[part] = 0
        self.notify(Progress(self.phase, self.done, self.expected,
                             "A listagem expirou no Airtable; recomeçando…"))

    def read_all(self, store: AirtableStore, table: str, fields: list[str], partitions: int
                 ) -> list[dict[str, Any]]:
        """Every record of ``table``, several parts at once (``Client.walk_partitions``)."""
        return store.client.walk_partitions(table, fields=fields, partitions=partitions,
                                            on_page=lambda part, page: self.page(page, part),
                                            on_restart=self.restart)


def _full(store: AirtableStore, notify: ProgressFn, now: Callable[[], datetime], partitions: int
          ) -> SyncReport:
    started, clock, requests_before = now(), time.monotonic(), store.client.request_count
    expected = _customer_count(store) if store.mirror.get_meta("source") == "airtable" else None
    notify(Progress("esquema", 0, expected, "Lendo a estrutura da base…"))
    schema = detect_schema(store.client)
    notify(Progress("lojas", 0, expected, "Lendo as lojas…"))
    tenants = store.fetch_tenants(schema)
    products = _products(store, schema, notify, expected)
    pages = _Pages(notify, "clientes", expected, "Clientes")
    records = pages.read_all(store, schema.customers, schema.read_fields(), partitions)
    notify(Progress("gravando", pages.done, expected, "Gravando a cópia local…"))
    stamp = iso(now())
    rows = [to_row(record, schema, tenants, stamp) for record in records]
    stores = _stores(schema, tenants, rows)
    store.mirror.replace_mirror(rows, stores, products, {
        "source": "airtable",
        "airtable_base": store.mirror_key(),
        "airtable_schema": schema.to_json(),
        "sync_cursor": _precise(started),
        "last_sync_at": stamp,
        "last_full_sync_at": stamp,
        "last_sweep_at": iso(started),
        "last_error": None,
        "last_error_at": None,
    }, synced_at=parse_time(stamp))
    store.remember_schema(schema)
    return SyncReport("full", len(records), 0, True, store.client.request_count - requests_before,
                      time.monotonic() - clock, len(rows))


def _products(store: AirtableStore, schema: Schema, notify: ProgressFn, expected: int | None
              ) -> list[tuple[str, str, str | None, str, int | None]]:
    if not schema.products:
        return []
    notify(Progress("produtos", 0, expected, "Lendo os produtos…"))
    records = store.client.walk(schema.products, fields=list(schema.products_fields.values()))
    return product_rows(records, schema)


def _stores(schema: Schema, tenants: dict[str, str], rows: list[dict[str, object]]
            ) -> list[tuple[str, str | None]]:
    if schema.tenant_is_link:
        return [(name, rid) for rid, name in tenants.items()]
    return [(name, None) for name in sorted({str(row["store"]) for row in rows})]


def _incremental(store: AirtableStore, notify: ProgressFn, now: Callable[[], datetime],
                 overlap: timedelta, sweep: bool | None, sweep_every: timedelta, partitions: int
                 ) -> SyncReport:
    started, clock, requests_before = now(), time.monotonic(), store.client.request_count
    cursor = parse_time(store.mirror.get_meta("sync_cursor"))
    last_sweep = parse_time(store.mirror.get_meta("last_sweep_at"))
    due = sweep if sweep is not None else (last_sweep is None or started - last_sweep >= sweep_every)
    expected = _customer_count(store)
    schema = store.schema()
    tenants = store.tenants_by_id()
    stores: list[tuple[str, str | None]] | None = None
    products = None
    swept: set[str] | None = None
    meta: dict[str, str | None] = {}
    if due:
        # The sweep also refreshes what an incremental read cannot see: the schema, stores, products.
        schema = detect_schema(store.client)
        meta["airtable_schema"] = schema.to_json()
        pages = _Pages(notify, "varredura", expected, "Procurando registros apagados")
        swept = {str(r["id"]) for r in pages.read_all(store, schema.customers, [schema.name("phone")],
                                                       partitions)}
        tenants = store.fetch_tenants(schema) if schema.tenant_is_link else tenants
        products = _products(store, schema, notify, expected)
        meta["last_sweep_at"] = iso(started)
    since = ((cursor or started) - overlap).astimezone(UTC)
    pages = _Pages(notify, "clientes", None, "Registros alterados")
    try:
        records = store.client.walk(
            schema.customers, fields=schema.read_fields(),
            formula=F.GTE(F.LAST_MODIFIED_TIME(), since),
            on_page=pages.page, on_restart=pages.restart)
    except MissingField:
        detect_schema(store.client)  # names the field and the table as the user knows them
        raise
    if schema.tenant_is_link and not due:
        linked = {i for r in records for i in _links(r, schema)}
        if linked - tenants.keys():  # a store created since the last sync
            tenants = store.fetch_tenants(schema)
    stamp = iso(now())
    rows = [to_row(record, schema, tenants, stamp) for record in records]
    if schema.tenant_is_link and (due or tenants != store.tenants_by_id()):
        stores = _stores(schema, tenants, rows)
    deleted: set[str] = set()
    if swept is not None:
        deleted = store.mirror.record_ids() - swept - {str(row["id"]) for row in rows}
    notify(Progress("gravando", pages.done, None, "Gravando a cópia local…"))
    store.mirror.apply_mirror_changes(rows, deleted, stores, products, {
        **meta,
        "sync_cursor": _precise(started),
        "last_sync_at": stamp,
        "last_error": None,
        "last_error_at": None,
    }, synced_at=parse_time(stamp))
    if due:
        store.remember_schema(schema)
    return SyncReport("incremental", len(records), len(deleted), due,
                      store.client.request_count - requests_before, time.monotonic() - clock,
                      _customer_count(store) or 0)


def _links(record: dict[str, Any], schema: Schema) -> list[str]:
    value = (record.get("fields") or {}).get(schema.name("tenant_id"))
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def mirror_age(store: AirtableStore, now: datetime) -> timedelta | None:
    """How old the mirror is (since the last successful sync), or None if it never synced."""
    last = parse_time(store.mirror.get_meta("last_sync_at"))
    return now - last if last else None


def last_error(store: AirtableStore) -> str | None:
    """The fault of the last sync that failed after the last one that worked, if any."""
    return store.mirror.get_meta("last_error") or None


# --- command line -------------------------------------------------------------------


class TextBar:
    """A one-line progress bar on a text stream (the CLI's stderr)."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self.stream, self.width = stream, width
        self._shown = 0.0

    def __call__(self, progress: Progress) -> None:
        moment = time.monotonic()
        if progress.phase == "clientes" and moment - self._shown < 0.2:
            return
        self._shown = moment
        fraction = progress.fraction
        if fraction is None:
            bar = ""
        else:
            filled = int(fraction * self.width)
            bar = "[" + "#" * filled + "." * (self.width - filled) + f"] {fraction:4.0%} "
        end = "\n" if progress.phase == "aguardando" else ""
        self.stream.write(f"\r\033[K{bar}{progress.message}{end}")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\r\033[K")
        self.stream.flush()


def run_cli(store: AirtableStore, *, full: bool = False, stream: TextIO = sys.stderr) -> int:
    """``python -m services sync [--full]``: sync with a progress bar on ``stream``; exit status."""
    bar = TextBar(stream)
    try:
        report = sync(store, full=full, progress=bar)
    except StoreError as exc:
        bar.close()
        stream.write(f"Erro: {redact(str(exc), [store.settings.api_key])}\n")
        return 1
    bar.close()
    stream.write(report.summary() + "\n")
    return 0


__all__ = ["OVERLAP", "PARTITIONS", "Progress", "SWEEP_EVERY", "SyncReport", "TextBar", "is_current",
           "last_error", "mirror_age", "run_cli", "sync"]
