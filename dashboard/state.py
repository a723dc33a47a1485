"""The data source, loaded once per data version, and the shared frame of every page."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import streamlit as st

from dashboard import access
from services import config, customers, insights, snapshot
from services.customers import SearchIndex
from services.frame import CustomerData
from services.interests import Customer, now_utc, parse_time
from services.store.base import CustomerRepository
from services.store.sqlite import SqliteStore

STORE_KEY = "app_stores"

# Arrow's default allocator (mimalloc) keeps what a 100,000-customer list frees for reuse, so
# every page's temporaries add up in the process's peak; the system allocator hands them back
# (60 MB lower peak over the pages, same speed: `make bench`).
pa.set_memory_pool(pa.system_memory_pool())
# A fixed reference time (ISO 8601) instead of the clock: demos frozen in time, and tests.
NOW_ENV = "VITRINE_NOW"


@dataclass(frozen=True)
class Context:
    """What every page works on: the scoped data, the reference time and the store."""

    data: CustomerData
    stores: tuple[str, ...]
    allowed: tuple[str, ...]
    now: datetime
    repository: CustomerRepository
    is_demo: bool
    version: str = ""

    def search_index(self) -> SearchIndex:
        """The search keys of ``data`` (built once per data version and store choice)."""
        return search_index(str(self.repository.path), self.version, self.stores)

    def insights(self, min_customers: int = insights.MIN_CUSTOMERS) -> insights.Insights:
        """Journeys, trending and cross-selling of ``data`` (computed once per data version)."""
        return insights_of(str(self.repository.path), self.version, self.stores, min_customers)


def repository(path: str) -> CustomerRepository:
    """The store of this run: the Airtable mirror when a base is configured, else the demo."""
    return _open(path, airtable_settings())


def airtable_settings() -> config.AirtableSettings | None:
    """The Airtable base of the environment or of ``st.secrets["airtable"]``, if any."""
    try:
        section = st.secrets.get("airtable")
    except Exception:  # no secrets file at all
        section = None
    return config.airtable_settings(section if hasattr(section, "get") else None)


@st.cache_resource(show_spinner=False)
def _open(path: str, settings: config.AirtableSettings | None) -> CustomerRepository:
    """One store per file and base, per process. The demo is made only when no base is set."""
    if settings is not None:
        from services.store.airtable import AirtableStore

        # Reads come from the local mirror; writes go through Airtable, then update the mirror.
        return AirtableStore(path, settings)
    store = SqliteStore(path)
    if store.is_empty() and store.get_meta("source") in (None, "demo"):
        from services.demo import ensure_demo

        with st.spinner("Criando a base de demonstração…"):
            ensure_demo(path, reference_time())
    return store


@st.cache_resource(show_spinner="Carregando clientes…", max_entries=2)
def customer_data(path: str, version: str) -> CustomerData:
    """The customer frame of every store, rebuilt only when the data version changes.

    ``version`` is the cache key: the frame itself is never hashed, and never mutated.
    A new process loads it from the snapshot beside the SQLite file when it is current;
    after this process's own in-store note, the frame patched with that one customer.
    """
    patched = _after_own_writes(path).pop(version, None)
    if patched is not None:
        return patched
    return snapshot.customer_data(repository(path), version)


@st.cache_resource(show_spinner=False)
def _after_own_writes(path: str) -> dict[str, CustomerData]:
    """Frames patched after this process's own writes, by the data key they belong to."""
    return {}


def _one_write_apart(before: str, after: str) -> bool:
    """True when ``after`` is ``before`` plus exactly one customer write (nobody else wrote)."""
    try:
        instance, version, catalog = before.split(":")
        instance_after, version_after, catalog_after = after.split(":")
        same_data = (instance, catalog) == (instance_after, catalog_after)
        return same_data and int(version_after) == int(version) + 1
    except ValueError:
        return False


@st.cache_resource(show_spinner=False, max_entries=16)
def scoped_data(path: str, version: str, stores: tuple[str, ...]) -> CustomerData:
    """The customer frame of ``stores`` only (the access boundary), cached per version."""
    return customer_data(path, version).for_stores(stores)


@st.cache_resource(show_spinner=False, max_entries=16)
def search_index(path: str, version: str, stores: tuple[str, ...]) -> SearchIndex:
    """The search keys of the scoped frame, cached beside it."""
    return SearchIndex.of(scoped_data(path, version, stores))


@st.cache_resource(show_spinner="Calculando jornadas, tendências e pares…", max_entries=8)
def insights_of(path: str, version: str, stores: tuple[str, ...], min_customers: int) -> insights.Insights:
    """The analytics of the scoped frame; they do not depend on the clock, only on the data."""
    return insights.compute(scoped_data(path, version, stores), min_customers)


def reference_time() -> datetime:
    """``VITRINE_NOW`` when set (a frozen demo, tests), else the clock."""
    pinned = parse_time(os.environ.get(NOW_ENV, ""))
    return pinned or now_utc()


def current() -> Context:
    """The shared context of this run: the stores the user may see and has chosen.

    Every page starts here, so a page cannot forget the access boundary.
    """
    path = str(config.db_path())
    store = repository(path)
    allowed = access.allowed_stores(tuple(store.stores()))
    chosen = tuple(s for s in st.session_state.get(STORE_KEY, allowed) if s in allowed) or allowed
    version = store.data_key()
    return Context(
        data=scoped_data(path, version, chosen),
        stores=chosen,
        allowed=allowed,
        now=reference_time(),
        repository=store,
        is_demo=store.get_meta("source") == "demo",
        version=version,
    )


def record_interest(ctx: Context, store: str, phone: str, products: str, name: str | None) -> Customer:
    """Record an in-store interest at the run's reference time; the next run shows it.

    Reading every customer again would cost seconds at 100,000, so when nobody else wrote
    in between, the next run gets the current frame with just this customer replaced.
    """
    saved = customers.record_interest(
        ctx.repository, ctx.allowed, store, phone, products, ctx.now, name=name
    )
    after = ctx.repository.data_key()
    if _one_write_apart(ctx.version, after):
        path = str(config.db_path())
        _after_own_writes(path)[after] = customers.with_customer(
            customer_data(path, ctx.version), saved, ctx.repository.catalog())
    return saved
