"""The data source, loaded once per data version, and the shared frame of every page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import streamlit as st

from dashboard import access

from services import config
from services.frame import CustomerData, build
from services.interests import now_utc
from services.store.sqlite import SqliteStore

STORE_KEY = "app_stores"


@dataclass(frozen=True)
class Context:
    """What every page works on: the scoped data, the reference time and the store."""

    data: CustomerData
    stores: tuple[str, ...]
    allowed: tuple[str, ...]
    now: datetime
    repository: SqliteStore
    is_demo: bool


@st.cache_resource(show_spinner=False)
def repository(path: str) -> SqliteStore:
    """The SQLite store (the demo or the Airtable mirror), one per process."""
    store = SqliteStore(path)
    if store.is_empty() and store.get_meta("source") in (None, "demo"):
        from services.demo import ensure_demo

        with st.spinner("Criando a base de demonstração…"):
            ensure_demo(path, now_utc())
    return store


@st.cache_resource(show_spinner="Carregando clientes…", max_entries=2)
def customer_data(path: str, version: str) -> CustomerData:
    """The customer frame of every store, rebuilt only when the data version changes.

    ``version`` is the cache key: the frame itself is never hashed, and never mutated.
    """
    store = repository(path)
    return build(store.raw_customers(store.stores()), store.catalog())


@st.cache_resource(show_spinner=False, max_entries=16)
def scoped_data(path: str, version: str, stores: tuple[str, ...]) -> CustomerData:
    """The customer frame of ``stores`` only (the access boundary), cached per version."""
    return customer_data(path, version).for_stores(stores)


def current() -> Context:
    """The shared context of this run: the stores the user may see and has chosen.

    Every page starts here, so a page cannot forget the access boundary.
    """
    path = str(config.db_path())
    store = repository(path)
    allowed = access.allowed_stores(tuple(store.stores()))
    chosen = tuple(s for s in st.session_state.get(STORE_KEY, allowed) if s in allowed) or allowed
    return Context(
        data=scoped_data(path, store.version(), chosen),
        stores=chosen,
        allowed=allowed,
        now=now_utc(),
        repository=store,
        is_demo=store.get_meta("source") == "demo",
    )
