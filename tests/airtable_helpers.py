"""Airtable bases for the adapter's tests, built on the fake server (tests/fake_airtable.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.config import AirtableSettings
from services.store.airtable import AirtableStore, ClientPolicy
from tests.fake_airtable import FakeAirtable

BASE = "appVITRINETEST001"
TOKEN = "patVITRINEsecret.0123456789abcdef"
STORES = ("Vitrine Jardins", "Vitrine Leblon", "Vitrine Savassi")
#: No client throttle and a short 429 block: tests run at local speed.
FAST = ClientPolicy(rate=None, block_seconds=0.2, max_blocks=6, retry_backoff=0.01,
                    timeout=(2.0, 5.0), network_retries=2, settle_seconds=0.05)
#: Airtable's real limit in Vitrine's policy, with a short 429 block and read-back pause: writers at
#: the real pace, faults at test speed.
REAL_RATE = ClientPolicy(rate=5, block_seconds=0.5, max_blocks=6, retry_backoff=0.01,
                         timeout=(2.0, 10.0), network_retries=2, settle_seconds=0.2)
#: Records seeded a day ago, so an incremental sync's overlap window never reaches them.
SEEDED_AT = datetime.now(UTC) - timedelta(days=1)


def customers_schema(interests: str = "multipleSelects", history: str = "multipleSelects",
                     tenant: str = "link", opt_out: bool = True) -> list[dict[str, Any]]:
    """The Customers table of the user's base; interest and tenant field types vary by base."""
    fields: list[dict[str, Any]] = [
        {"name": "phone", "type": "phoneNumber"},
        {"name": "name", "type": "singleLineText"},
        {"name": "tenant_id", "type": "multipleRecordLinks", "linkedTable": "Tenants"}
        if tenant == "link" else {"name": "tenant_id", "type": "singleLineText"},
        {"name": "interests", "type": interests},
        {"name": "interests_all", "type": history},
        {"name": "created_at", "type": "dateTime"},
        {"name": "last_interaction", "type": "dateTime"},
        {"name": "notes", "type": "multilineText"},
    ]
    if opt_out:
        fields.append({"name": "opt_out", "type": "checkbox"})
    return fields


@dataclass
class Base:
    """A base on the fake server, and what the tests need to reach it."""

    fake: FakeAirtable
    base_id: str
    tenants: dict[str, str]  # store name -> Tenants record id (empty when tenant_id is text)
    kind: str  # "list" or "text"
    link: bool

    def settings(self, token: str | None = None, **tables: str) -> AirtableSettings:
        return AirtableSettings(api_key=token or TOKEN, base_id=self.base_id,
                                endpoint_url=self.fake.url, **tables)

    def store(self, path: Path, policy: ClientPolicy = FAST, **tables: str) -> AirtableStore:
        return AirtableStore(path, self.settings(**tables), policy)

    def items(self, values: list[str]) -> object:
        """``values`` in this base's representation of the interest fields."""
        return list(values) if self.kind == "list" else ", ".join(values)

    def tenant(self, store: str) -> object:
        return [self.tenants[store]] if self.link else store

    def customer(self, i: int, store: str | None = None, recent: list[str] | None = None,
                 history: list[str] | None = None, **extra: Any) -> dict[str, Any]:
        """The fields of customer ``i``: a distinct phone, a store, a journey."""
        store = store or STORES[i % len(STORES)]
        history = history if history is not None else [f"Submariner {i % 7}", "Datejust", f"Aquanaut {i % 5}"]
        recent = recent if recent is not None else history[-5:]
        fields = {
            "phone": raw_phone(i),
            "name": f"Cliente {i}",
            "tenant_id": self.tenant(store),
            "interests": self.items(recent),
            "interests_all": self.items(history),
            "created_at": "2025-01-10T10:00:00.000Z",
            "last_interaction": "2025-06-01T10:00:00.000Z",
            **extra,
        }
        return {k: v for k, v in fields.items() if v not in (None, "", [])}

    def add_customers(self, count: int, start: int = 0, *, just_now: bool = False,
                      **kwargs: Any) -> list[str]:
        """Customers ``start``… created a day ago, or ``just_now`` (an incremental sync sees them)."""
        return self.fake.add_records(
            self.base_id, "Customers", [self.customer(i, **kwargs) for i in range(start, start + count)],
            created_time=None if just_now else SEEDED_AT)

    def fields(self, record_id: str) -> dict[str, Any]:
        return dict(self.fake.record(self.base_id, "Customers", record_id).fields)


def raw_phone(i: int) -> str:
    """The phone of customer ``i`` as people type it in Airtable: ``(11) 98000-0007``."""
    digits = f"{8000_0000 + i:08d}"
    return f"(11) 9{digits[:4]}-{digits[4:]}"


def phone_of(i: int) -> str:
    """The E.164 phone of customer ``i`` of ``Base.customer``."""
    return f"+55119{8000_0000 + i:08d}"


def make_base(fake: FakeAirtable, *, kind: str = "list", link: bool = True, customers: int = 30,
              products: bool = True, base_id: str = BASE) -> Base:
    """A base like the user's: Tenants, Customers (interests as ``kind``), optionally Products."""
    field_type = "multipleSelects" if kind == "list" else "multilineText"
    tables: dict[str, list[dict[str, Any]]] = {"Tenants": [{"name": "name", "type": "singleLineText"}]}
    tables["Customers"] = customers_schema(field_type, field_type, "link" if link else "text")
    if products:
        tables["Products"] = [{"name": "title", "type": "singleLineText"},
                              {"name": "brand", "type": "singleLineText"},
                              {"name": "category", "type": "singleSelect"},
                              {"name": "price_brl", "type": "currency"}]
    fake.add_base(base_id, tables, name="Vitrine")
    tenant_ids = fake.add_records(base_id, "Tenants", [{"name": s} for s in STORES], created_time=SEEDED_AT)
    if products:
        fake.add_records(base_id, "Products", [
            {"title": "Submariner 0", "brand": "Rolex", "category": "Relógio", "price_brl": 98000},
            {"title": "Anel Solitário", "brand": "Tiffany & Co.", "category": "Joia"},
            {"title": "Colar Misterioso", "category": "Joia"},
        ], created_time=SEEDED_AT)
    base = Base(fake, base_id, dict(zip(STORES, tenant_ids, strict=True)) if link else {}, kind, link)
    if customers:
        base.add_customers(customers)
    return base


def reads_when_told(endpoint: str, base_id: str, mirror: str, count: int, record_id: str) -> None:
    """A writer process of the shared-throttle tests: says ``ready``, waits for a line on stdin,
    then reads one customer ``count`` times through the machine-wide throttle of ``mirror``."""
    import sys

    from services.store.airtable.client import Client, machine_throttle

    settings = AirtableSettings(api_key=TOKEN, base_id=base_id, endpoint_url=endpoint)
    client = Client(settings, REAL_RATE, machine_throttle(REAL_RATE, Path(mirror)))
    table = client.table("Customers")
    print("ready", flush=True)
    sys.stdin.readline()
    for _ in range(count):
        table.get(record_id)


def records_when_told(endpoint: str, base_id: str, mirror: str, store: str, phone: str, product: str) -> None:
    """A ``record`` process of the many-writers tests: says ``ready``, waits for a line on stdin,
    then records ``product`` for one customer with ``REAL_RATE`` (a short read-back pause)."""
    import sys

    settings = AirtableSettings(api_key=TOKEN, base_id=base_id, endpoint_url=endpoint)
    writer = AirtableStore(Path(mirror), settings, REAL_RATE)
    print("ready", flush=True)
    sys.stdin.readline()
    writer.record(store, phone, [product], datetime.now(UTC))


def rate_limited(server: FakeAirtable) -> int:
    """The 429 answers the fake gave since its last ``reset_stats``."""
    with server.lock:
        return sum(1 for r in server.log if r.status == 429)


@pytest.fixture
def fake() -> Iterator[FakeAirtable]:
    """A fake Airtable with the test token, no rate limit (tests that need one set it)."""
    with FakeAirtable(tokens=[TOKEN], rate_limit_per_sec=None, block_seconds=0.2, seed=11) as server:
        yield server
