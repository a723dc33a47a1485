"""The repository of an Airtable base: reads from its local mirror, safe writes through Airtable."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from services.catalog import Resolution
from services.config import AirtableSettings
from services.interests import (
    RECENT_LIMIT,
    Customer,
    InvalidBatch,
    apply_event,
    dedupe,
    iso,
    merge_history,
    missing_items,
    normalize_phone,
    now_utc,
    parse_interests,
    phone_key,
    product_key,
    require_phone,
    split_raw,
)
from services.store.airtable.client import Client, ClientPolicy, machine_throttle
from services.store.airtable.errors import (
    SCHEMA_ERRORS,
    MissingField,
    RecordGone,
    RequestRejected,
    WriteNotConfirmed,
)
from services.store.airtable.records import (
    customer_of,
    field_value,
    phone_formula,
    store_of,
    tenant_names,
    time_value,
    to_row,
)
from services.store.airtable.schema import Schema, detect_schema
from services.store.airtable.turns import customer_turn
from services.store.base import CustomerRepository, StoreError, UnknownStore
from services.store.events import EventLog
from services.store.sqlite import SqliteStore
from services.timeline import LOJA, WHATSAPP, Event, events_for_batch
from services.twins import check_one_phone, merge_customers

log = logging.getLogger("vitrine.airtable")


class AirtableStore(CustomerRepository):
    """An Airtable base: reads come from its mirror (a local SQLite copy), writes go through Airtable.

    ``mirror`` is the copy a sync keeps up to date; a write lands in Airtable first, then
    its read-back replaces the customer's row in the mirror.

    Every recording follows SPEC §3 "no lost interests": read the record fresh,
    merge by the recording rule, write in the field's own representation, read
    it back, and merge again while a concurrent writer dropped an item (bounded).
    """

    def __init__(self, path: str | Path, settings: AirtableSettings,
                 policy: ClientPolicy | None = None) -> None:
        self.mirror = SqliteStore(path)
        self.settings = settings
        policy = policy or ClientPolicy()
        # Every process that writes this base from this machine (the CLI, the dashboard)
        # shares one window of requests: the lock file beside the mirror.
        self.client = Client(settings, policy, machine_throttle(policy, self.mirror.path))
        self._schema: Schema | None = None
        self._schema_lock = threading.RLock()

    def __repr__(self) -> str:
        return f"AirtableStore(path={str(self.path)!r}, base_id={self.settings.base_id!r})"

    # --- reads: the mirror --------------------------------------------------------

    @property
    def path(self) -> Path:
        return self.mirror.path

    def version(self) -> str:
        return self.mirror.version()

    def data_key(self) -> str:
        return self.mirror.data_key()

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        return self.mirror.get_meta(key, default)

    def stores(self) -> list[str]:
        return self.mirror.stores()

    def raw_customers(self, stores: Collection[str]) -> pd.DataFrame:
        return self.mirror.raw_customers(stores)

    def raw_customer_parts(
        self, stores: Collection[str], size: int | None = 10_000
    ) -> Iterator[pd.DataFrame]:
        return self.mirror.raw_customer_parts(stores, size)

    def catalog(self) -> dict[str, Resolution]:
        return self.mirror.catalog()

    def catalog_titles(self) -> dict[str, str]:
        return self.mirror.catalog_titles()

    def find(self, store: str, phone: str) -> Customer | None:
        return self.mirror.find(store, phone)

    def product_urls(self) -> dict[str, str]:
        return self.mirror.product_urls()

    # --- schema and tenants ---------------------------------------------------

    def schema(self, refresh: bool = False) -> Schema:
        """The base's schema: cached in memory and in the mirror's meta, detected when absent."""
        with self._schema_lock:
            if self._schema is not None and not refresh:
                return self._schema
            if not refresh and self.mirror.get_meta("airtable_base") == self.mirror_key():
                stored = self.mirror.get_meta("airtable_schema")
                if stored:
                    self._schema = Schema.from_json(stored)
                    return self._schema
            self._schema = detect_schema(self.client)
            return self._schema

    def remember_schema(self, schema: Schema) -> None:
        """Use ``schema`` from now on (a full sync detected it)."""
        with self._schema_lock:
            self._schema = schema

    def mirror_key(self) -> str:
        """What the mirror is a copy of: base and table (a different one means a full sync)."""
        return f"{self.settings.base_id}/{self.settings.customers_table}"

    def tenants_by_id(self) -> dict[str, str]:
        """Tenant record id -> store name, as the mirror holds them."""
        return {rid: name for name, rid in self.mirror.store_ids().items() if rid}

    def fetch_tenants(self, schema: Schema) -> dict[str, str]:
        """Tenant record id -> store name, read from Airtable (only when ``tenant_id`` is a link)."""
        if not schema.tenant_is_link or not schema.tenants or not schema.tenants_primary:
            return {}
        records = self.client.walk(schema.tenants, fields=[schema.tenants_primary])
        return tenant_names(records, schema.tenants_primary)

    # --- writes -----------------------------------------------------------------

    @property
    def events(self) -> EventLog:
        """The timeline, kept in the mirror's file (Airtable holds no dates per interest)."""
        return self.mirror.events

    def record(
        self, store: str, phone: str, batch: Sequence[str], at: datetime, name: str | None = None,
        source: str = WHATSAPP,
    ) -> Customer:
        e164 = require_phone(phone)
        products = dedupe(split_raw(list(batch)))
        if not products:
            raise InvalidBatch("Nenhum produto informado.")
        # Writers of this machine (the dashboard's sessions, `record` commands) take turns per
        # customer; other programs are covered by the read-back protocol of ``_record``.
        with customer_turn(self.path, f"{store}\n{phone_key(e164)}"):
            before = self.mirror.find(store, e164)
            saved = self._record_checked(store, e164, products, at, name)
        # The write is in Airtable and in the mirror; its dates go to the local timeline.
        self.events.append(events_for_batch(before, products, at, source, customer_id=saved.id,
                                            store=store))
        return saved

    def record_event(self, store: str, phone: str, kind: str, at: datetime, *, source: str = LOJA,
                     products: Sequence[str] = (), value_brl: float | None = None) -> Event:
        """A visit or a purchase, kept in the local file: the base has no table for them."""
        return self.mirror.record_event(store, phone, kind, at, source=source, products=products,
                                        value_brl=value_brl)

    def keeps_visits_locally(self) -> bool:
        return True

    def _record_checked(self, store: str, e164: str, products: list[str], at: datetime,
                        name: str | None) -> Customer:
        try:
            return self._record(store, e164, products, at, name, self.schema())
        except (MissingField, RequestRejected) as exc:
            if isinstance(exc, RequestRejected) and exc.error_type not in SCHEMA_ERRORS:
                raise
            # The base changed since the schema was read (a field renamed or retyped): nothing
            # was written by the refused request, so read the schema again and redo it once.
            log.warning("write refused by the schema: detecting it again")
            return self._record(store, e164, products, at, name, self.schema(refresh=True))

    def _record(self, store: str, e164: str, products: list[str], at: datetime, name: str | None,
                schema: Schema) -> Customer:
        tenant = self._tenant_value(store, schema)
        table = self.client.table(schema.customers)
        read_at = time.monotonic()
        fresh = self._locate(store, e164, schema)
        expected: list[str] = list(products)
        # What the customer had asked about before this batch, as first read: the batch is newer.
        before = customer_of(fresh, schema, store).history if fresh is not None else []
        for attempt in range(self.client.policy.write_attempts):
            if fresh is None:
                after = apply_event(Customer(id="", store=store, phone=e164), products, at)
                after = _named(after, name)
                written = table.create(self._fields(after, schema, tenant, new=True), typecast=True)
                record_id = str(written["id"])
            else:
                record_id = str(fresh["id"])
                current = customer_of(fresh, schema, store)
                expected = merge_history(current.history, expected)
                merged = replace(current, interests_all=expected)
                after = _named(apply_event(merged, products, at), name)
                if current.last_interaction and after.last_interaction and \
                        current.last_interaction > after.last_interaction:
                    after = replace(after, last_interaction=current.last_interaction)
                try:
                    table.update(record_id, self._fields(after, schema, tenant, new=False), typecast=True)
                except RecordGone:
                    fresh = None
                    continue
            expected = merge_history(expected, after.interests_all)
            # Another writer's read-to-write gap is about ours: wait well past it, so a stale
            # copy it writes after our write has landed before we read back.
            gap = time.monotonic() - read_at
            time.sleep(max(self.client.policy.settle_seconds, 3 * gap))
            read_at = time.monotonic()
            back = table.get(record_id)
            fields = back.get("fields") or {}
            lost = missing_items(expected, parse_interests(fields.get(schema.name("interests_all"))))
            pushed = dropped_from_recent(products, after.interests, before,
                                         parse_interests(fields.get(schema.name("interests"))))
            if not lost and not pushed:
                self._mirror_row(back, schema, store)
                return customer_of(back, schema, store)
            log.warning("interest dropped by a concurrent write (attempt %d, %s): merging again",
                        attempt + 1, "interests_all" if lost else "interests")
            fresh = back
            # A little jitter, so two writers that collided do not collide again in step.
            time.sleep(random.uniform(0, self.client.policy.settle_seconds / 2))
        raise WriteNotConfirmed(
            "Não foi possível confirmar a gravação no Airtable: outro programa alterou o cliente"
            f" ao mesmo tempo. Os interesses {', '.join(products)} não foram salvos; tente de novo."
        )

    # --- uniting the records of one customer ---------------------------------------------

    def merge(self, store: str, ids: Sequence[str], at: datetime) -> Customer:
        wanted = list(dict.fromkeys(ids))
        if any(not rid.startswith("rec") for rid in wanted):
            raise StoreError("Um dos cadastros ainda não chegou ao Airtable: sincronize e tente de novo.")
        schema = self.schema()
        first = self._read_customers(store, wanted, schema)
        check_one_phone(first, wanted)
        with customer_turn(self.path, f"{store}\n{phone_key(normalize_phone(first[0].phone))}"):
            return self._merge(store, wanted, at, schema)

    def _read_customers(self, store: str, ids: Sequence[str], schema: Schema) -> list[Customer]:
        """The records ``ids`` of ``store``, read fresh (one gone, or of another store, is left out)."""
        table = self.client.table(schema.customers)
        tenants = self.tenants_by_id()
        found = []
        for rid in ids:
            try:
                record = dict(table.get(rid))
            except RecordGone:
                continue
            tenant = (record.get("fields") or {}).get(schema.name("tenant_id"))
            if store_of(tenant, schema, tenants) == store:
                found.append(customer_of(record, schema, store))
        return found

    def _merge(self, store: str, ids: list[str], at: datetime, schema: Schema) -> Customer:
        """Write the united customer onto the kept record; delete the others only once its read-back
        holds every interest of them all (another program may be writing to any of them)."""
        table = self.client.table(schema.customers)
        expected: list[str] = []
        for attempt in range(self.client.policy.write_attempts):
            records = self._read_customers(store, ids, schema)
            check_one_phone(records, ids)
            merged = merge_customers(records)
            expected = merge_history(merged.interests_all, expected)
            merged = replace(merged, interests_all=expected)
            fields = self._fields(merged, schema, None, new=False)
            for logical, value in (("opt_out", merged.opt_out or None),
                                   ("created_at", merged.created_at)):
                info = schema.fields.get(logical)
                if info is not None and info.writable and value is not None:
                    fields[info.name] = value if logical == "opt_out" else time_value(value, info)
            table.update(merged.id, fields, typecast=True)
            time.sleep(self.client.policy.settle_seconds)
            back = dict(table.get(merged.id))
            saved = parse_interests((back.get("fields") or {}).get(schema.name("interests_all")))
            others = [c for c in self._read_customers(store, ids, schema) if c.id != merged.id]
            expected = merge_history(expected, *(c.history for c in others))
            if len(others) == len(ids) - 1 and not missing_items(expected, saved):
                for other in others:
                    table.delete(other.id)
                self.mirror.apply_mirror_changes(
                    [self._row(back, schema, store)], [c.id for c in others], None, None, {})
                self.events.reassign([c.id for c in others], merged.id)
                return customer_of(back, schema, store)
            log.warning("records changed while being united (attempt %d): merging again", attempt + 1)
        raise WriteNotConfirmed(
            "Não foi possível confirmar a união dos cadastros no Airtable: outro programa alterou o"
            " cliente ao mesmo tempo. Nenhum cadastro foi apagado; tente de novo."
        )

    def _tenant_value(self, store: str, schema: Schema) -> object:
        if not schema.tenant_is_link:
            if store not in self.stores():
                raise UnknownStore(f"Loja desconhecida: {store}")
            return store
        ids = self.mirror.store_ids()
        if not ids.get(store):
            tenants = self.fetch_tenants(schema)
            ids = {name: rid for rid, name in tenants.items()}
            if store in ids:
                self.mirror.add_store(store, ids[store])
        if not ids.get(store):
            raise UnknownStore(f"Loja desconhecida: {store}")
        return [ids[store]]

    def _locate(self, store: str, e164: str, schema: Schema) -> dict[str, Any] | None:
        """The customer's record, read fresh from Airtable (None on first contact).

        The mirror gives the record id; a customer the mirror does not know yet
        (created since the last sync) is searched by phone in Airtable itself.
        """
        table = self.client.table(schema.customers)
        known = self.find(store, e164)
        if known is not None and known.id.startswith("rec"):
            try:
                return dict(table.get(known.id))
            except RecordGone:
                pass
        found = self.client.walk(schema.customers, fields=schema.read_fields(),
                                 formula=phone_formula(e164, schema))
        key = phone_key(e164)

        def value(record: Mapping[str, Any], logical: str) -> object:
            return (record.get("fields") or {}).get(schema.name(logical))

        same_phone = [r for r in found
                      if phone_key(normalize_phone(str(value(r, "phone") or ""))) == key]
        tenants = self.tenants_by_id()
        linked = {i for r in same_phone if isinstance(value(r, "tenant_id"), list)
                  for i in value(r, "tenant_id")}  # type: ignore[union-attr]
        if schema.tenant_is_link and linked - tenants.keys():
            tenants = self.fetch_tenants(schema)
        mine = [r for r in same_phone if store_of(value(r, "tenant_id"), schema, tenants) == store]
        if not mine:
            return None
        return dict(max(mine, key=lambda r: str(value(r, "last_interaction") or "")))

    def _fields(self, customer: Customer, schema: Schema, tenant: object, *, new: bool) -> dict[str, Any]:
        values: dict[str, Any] = {
            schema.name("interests"): field_value(customer.interests, schema.fields["interests"]),
            schema.name("interests_all"): field_value(customer.interests_all, schema.fields["interests_all"]),
        }
        last = schema.fields["last_interaction"]
        if last.writable:
            values[last.name] = time_value(customer.last_interaction, last)
        if customer.name and schema.has("name") and schema.fields["name"].writable:
            values[schema.name("name")] = customer.name
        if new:
            values[schema.name("phone")] = customer.phone
            values[schema.name("tenant_id")] = tenant
            created = schema.fields.get("created_at")
            if created is not None and created.writable:
                values[created.name] = time_value(customer.created_at, created)
        return values

    def _row(self, record: Mapping[str, Any], schema: Schema, store: str) -> dict[str, object]:
        row = to_row(record, schema, self.tenants_by_id(), iso(now_utc()))
        row["store"] = store
        return row

    def _mirror_row(self, record: Mapping[str, Any], schema: Schema, store: str) -> None:
        self.mirror.insert_raw([self._row(record, schema, store)])


def _named(customer: Customer, name: str | None) -> Customer:
    if name and name.strip():
        return replace(customer, name=" ".join(name.split()))
    return customer


def dropped_from_recent(batch: Sequence[str], written: Sequence[str], before: Sequence[str],
                        saved: Sequence[str]) -> list[str]:
    """Items of ``batch`` a concurrent writer dropped from ``interests`` (SPEC §3, no lost interests).

    The recording rule puts the batch last in ``interests``; later batches push the
    oldest items out first, and only from a full list. So an item of the batch that we
    wrote (``written``) may be missing from the ``saved`` list only when that list is
    full of items newer than it. When the saved list has room, or still holds a product
    the customer had asked about before this batch (``before``: the history we first
    read), the item was not pushed out: a writer that read the record before our write
    landed put back its older copy, and the batch must be merged again. A product that
    another writer mentioned again after ours counts as older here; the repair then only
    puts ours after it.

    Args:
        batch: the products we recorded, cleaned.
        written: the ``interests`` we wrote.
        before: the customer's history before the batch (empty on first contact).
        saved: the ``interests`` read back.

    Returns:
        The items to merge again, in batch order (empty when nothing was dropped).

    Example: ``dropped_from_recent(["X"], ["a", "X"], ["a"], ["a", "Y"]) == ["X"]``
    """
    batch_keys = {product_key(item) for item in batch}
    have = {product_key(item) for item in saved}
    wrote = {product_key(item) for item in written}
    missing = [item for item in batch if product_key(item) in wrote and product_key(item) not in have]
    if not missing:
        return []
    older = {product_key(item) for item in before} - batch_keys
    if len(saved) < RECENT_LIMIT or have & older:
        return missing
    return []
