"""The data source, loaded once per data version, and the shared frame of every page."""

from __future__ import annotations

import gc
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import streamlit as st

from dashboard import memory  # noqa: F401 - the allocators, set once for the process
from dashboard.access import Viewer, viewer
from services import access, config, insights, recording, snapshot, weekly
from services.frame import CustomerData, build, with_customer
from services.interests import Customer, now_utc, parse_time
from services.search import Lookup, SearchIndex, lookup
from services.source import Source, open_source
from services.store.base import CustomerRepository
from services.timeline import LOJA

STORE_KEY = "app_stores"
NO_STORE_CHOSEN = "Escolha pelo menos uma loja na barra lateral."

# A fixed reference time (ISO 8601) instead of the clock: demos frozen in time, and tests.
NOW_ENV = "VITRINE_NOW"


@dataclass(frozen=True)
class Context:
    """What every page works on: the scoped data, the reference time and the data source.

    The entrypoint builds it once per run (``begin``); pages read it with ``current()``.
    """

    data: CustomerData
    stores: tuple[str, ...]
    allowed: tuple[str, ...]
    now: datetime
    source: Source
    viewer: Viewer
    version: str = ""

    @property
    def repository(self) -> CustomerRepository:
        """Where customers are read from and written to."""
        return self.source.repository

    @property
    def is_demo(self) -> bool:
        """True for the demo data (the sidebar says so)."""
        return self.source.is_demo

    def search_index(self) -> SearchIndex:
        """The search keys of ``data`` (built once per data version and store choice)."""
        return search_index(_path(), self.version, self.allowed, self.stores)

    def lookup_allowed(self, query: str) -> Lookup:
        """``search.lookup`` over every store the viewer may see, chosen or not (where is a number?)."""
        path = _path()
        data = scoped_data(path, self.version, self.allowed, self.allowed)
        return lookup(data, query, index=search_index(path, self.version, self.allowed, self.allowed))

    def catalog_titles(self) -> dict[str, str]:
        """The base's product titles by key (empty without a Products table), per data version."""
        return catalog_of(_path(), self.version)[0]

    def catalog_labels(self) -> dict[str, str]:
        """The catalog's titles, sorted, each with its brand as a list shows it ("Submariner · Rolex")."""
        return catalog_of(_path(), self.version)[1]

    def insights(self, min_customers: int = insights.MIN_CUSTOMERS) -> insights.Insights:
        """Journeys, trending and cross-selling of ``data`` (computed once per data and timeline version)."""
        return insights_of(_path(), self.version, self.events_version(), self.allowed, self.stores,
                           min_customers, _hour(self.now))

    def events_version(self) -> str:
        """A token that changes whenever the timeline changes (a cache key); a new one drops the
        objects of the older timeline from the caches."""
        return _live(_path()).advance_events(self.repository)

    def events(self) -> pd.DataFrame:
        """The timeline of the chosen stores (``EventLog.frame``), cached per timeline version."""
        return events_of(_path(), self.events_version(), self.allowed, self.stores)

    def weekly(self) -> pd.DataFrame:
        """Coverage, recency and depth at the end of each of the last 12 weeks (SPEC §6)."""
        return weekly_of(_path(), self.version, self.events_version(), self.allowed, self.stores,
                         _hour(self.now))


def _hour(moment: datetime) -> datetime:
    # Windows of weeks and months do not move within an hour: one computation per hour, not per run.
    return moment.replace(minute=0, second=0, microsecond=0)


def _path() -> str:
    return str(config.db_path())


def source() -> Source:
    """The data source of this run: the Airtable mirror when a base is configured, else the file."""
    return _open(_path(), airtable_settings())


def airtable_settings() -> config.AirtableSettings | None:
    """The Airtable base of the environment or of ``st.secrets["airtable"]``, if any.

    A token that cannot be one (a line break, a space) stops the run with a message that names
    the setting, never its value; every log line of the process has the token blotted out.
    """
    try:
        section = st.secrets.get("airtable")
    except Exception:  # no secrets file at all
        section = None
    section = section if hasattr(section, "get") else None
    config.install_redaction(config.configured_secrets(section))
    try:
        return config.airtable_settings(section)
    except config.InvalidSetting as error:
        st.error(f"{error}", icon=":material/key_off:")
        st.stop()


@st.cache_resource(show_spinner="Abrindo a base de clientes…")
def _open(path: str, settings: config.AirtableSettings | None) -> Source:
    """One source per file and base, per process; the first start of a new file builds the demo."""
    return open_source(path, settings, create_demo=True, now=reference_time())


class _Live:
    """The data and timeline versions this process serves for one file.

    The caches below hold objects of these versions only: when a run reads a newer one, every
    object of the older one is dropped before the new ones are built, so a data change costs
    one frame at a time, not two (issue #14: a sync or the CLI writing while the dashboard runs).
    A run that began on the older version keeps its own frame (``begin``) and computes what it
    still asks for without caching it.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.data = ""
        self.events = ""
        # The full frames still in use, by data version: a run's own keeps it here until it ends.
        self.frames: weakref.WeakValueDictionary[str, CustomerData] = weakref.WeakValueDictionary()

    def advance(self, path: str, repository: CustomerRepository) -> str:
        """The file's data version now; a new one empties the caches of the older one first."""
        with self.lock:  # read under the lock: versions are adopted in the order they were read
            version = repository.data_key()
            if version != self.data:
                self.data = version
                patched = _after_own_writes(path)
                for stale in [key for key in patched if key != version]:
                    del patched[stale]
                for cached in _PER_DATA_VERSION:
                    cached.clear()
                # A write to the customers often adds to the timeline too (a note, a sync): the
                # old timeline goes now as well, before the new frame is built, not after.
                self._events_now(repository)
                gc.collect()  # anything of the old frame caught in a cycle goes now, not later
        return version

    def advance_events(self, repository: CustomerRepository) -> str:
        """The timeline's version now; a new one empties the caches of the older timeline first."""
        with self.lock:
            return self._events_now(repository)

    def _events_now(self, repository: CustomerRepository) -> str:
        version = repository.events.version()
        if version != self.events:
            self.events = version
            for cached in _PER_EVENTS_VERSION:
                cached.clear()
        return version

    def serves(self, version: str, events_version: str | None = None) -> bool:
        """True when ``version`` (and ``events_version``) are the ones the caches hold."""
        return version == self.data and events_version in (None, self.events)


@st.cache_resource(show_spinner=False)
def _live(path: str) -> _Live:
    return _Live()


def _per_version(cached: Callable, path: str, version: str, *args: object,
                 events_version: str | None = None) -> object:
    """``cached(path, version, *args)`` for the current versions; an older version's (a run that
    began before a write) computed without caching it, so no cache holds the old data again."""
    live = _live(path)
    if not live.serves(version, events_version):
        return cached.__wrapped__(path, version, *args)
    value = cached(path, version, *args)
    if not live.serves(version, events_version):  # a newer version arrived meanwhile
        cached.clear(path, version, *args)
    return value


def customer_data(path: str, version: str) -> CustomerData:
    """The customer frame of every store, rebuilt only when the data version changes.

    ``version`` is the cache key: the frame itself is never hashed, and never mutated.
    A new process loads it from the snapshot beside the SQLite file when it is current;
    after this process's own in-store note, the frame patched with that one customer.
    A run still on an older version gets the frame it began with.
    """
    live = _live(path)
    frame = live.frames.get(version)
    if frame is None:
        frame = _per_version(_customer_data, path, version)
        live.frames[version] = frame
    return frame


@st.cache_resource(show_spinner="Carregando clientes…", max_entries=1)
def _customer_data(path: str, version: str) -> CustomerData:
    patched = _after_own_writes(path).pop(version, None)
    if patched is not None:
        return patched
    repository = source().repository
    if not _live(path).serves(version):
        # A run that began before a write and lost its frame: the records as they are now,
        # never saved as the snapshot of a version they are not.
        return build(repository.raw_customers(repository.stores()), repository.catalog())
    return snapshot.customer_data(repository, version)


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


def scoped_data(path: str, version: str, allowed: tuple[str, ...], stores: tuple[str, ...]) -> CustomerData:
    """The customer frame of the chosen ``stores`` (the access boundary), cached per version."""
    return _per_version(_scoped_data, path, version, allowed, stores)


@st.cache_resource(show_spinner=False, max_entries=16)
def _scoped_data(path: str, version: str, allowed: tuple[str, ...], stores: tuple[str, ...]) -> CustomerData:
    return access.scoped(customer_data(path, version), allowed, stores)


def catalog_of(path: str, version: str) -> tuple[dict[str, str], dict[str, str]]:
    """The catalog's titles by key, and its titles with their brand; ``version`` (the data key)
    holds the catalog's content."""
    return _per_version(_catalog_of, path, version)


@st.cache_resource(show_spinner=False, max_entries=1)
def _catalog_of(path: str, version: str) -> tuple[dict[str, str], dict[str, str]]:
    repository = source().repository
    titles = repository.catalog_titles()
    catalog = repository.catalog()
    labels = {}
    for key, title in sorted(titles.items(), key=lambda item: item[1].casefold()):
        brand = catalog[key].brand if key in catalog else None
        labels[title] = f"{title} · {brand}" if brand else title
    return titles, labels


def search_index(path: str, version: str, allowed: tuple[str, ...], stores: tuple[str, ...]) -> SearchIndex:
    """The search keys of the scoped frame, cached beside it."""
    return _per_version(_search_index, path, version, allowed, stores)


@st.cache_resource(show_spinner=False, max_entries=16)
def _search_index(path: str, version: str, allowed: tuple[str, ...], stores: tuple[str, ...]) -> SearchIndex:
    return SearchIndex.of(scoped_data(path, version, allowed, stores))


def insights_of(path: str, version: str, events_version: str, allowed: tuple[str, ...],
                stores: tuple[str, ...], min_customers: int, now: datetime) -> insights.Insights:
    """The analytics of the scoped frame and its timeline."""
    return _per_version(_insights_of, path, version, events_version, allowed, stores, min_customers, now,
                        events_version=events_version)


@st.cache_resource(show_spinner="Calculando jornadas, tendências e pares…", max_entries=8)
def _insights_of(path: str, version: str, events_version: str, allowed: tuple[str, ...],
                 stores: tuple[str, ...], min_customers: int, now: datetime) -> insights.Insights:
    data = scoped_data(path, version, allowed, stores)
    events = events_of(path, events_version, allowed, stores)
    since = source().repository.events.since()
    with _OVER_THE_TIMELINE:
        return insights.compute(data, min_customers, events=events, now=now, since=since)


def events_of(path: str, events_version: str, allowed: tuple[str, ...],
              stores: tuple[str, ...]) -> pd.DataFrame:
    """The timeline of the chosen stores (never mutated: shared by every session)."""
    if events_version != _live(path).events:  # a run that began before the timeline changed
        return _events_of.__wrapped__(path, events_version, allowed, stores)
    value = _events_of(path, events_version, allowed, stores)
    if events_version != _live(path).events:
        _events_of.clear(path, events_version, allowed, stores)
    return value


@st.cache_resource(show_spinner="Lendo a linha do tempo…", max_entries=4)
def _events_of(path: str, events_version: str, allowed: tuple[str, ...],
               stores: tuple[str, ...]) -> pd.DataFrame:
    access.require_stores(stores, allowed)
    return source().repository.events.frame(stores)


def weekly_of(path: str, version: str, events_version: str, allowed: tuple[str, ...],
              stores: tuple[str, ...], now: datetime) -> pd.DataFrame:
    """The 12-week history of the metrics, per store and in total."""
    return _per_version(_weekly_of, path, version, events_version, allowed, stores, now,
                        events_version=events_version)


@st.cache_resource(show_spinner="Calculando a evolução semanal…", max_entries=8)
def _weekly_of(path: str, version: str, events_version: str, allowed: tuple[str, ...],
               stores: tuple[str, ...], now: datetime) -> pd.DataFrame:
    data = scoped_data(path, version, allowed, stores)
    events = events_of(path, events_version, allowed, stores)
    since = source().repository.events.since()
    with _OVER_THE_TIMELINE:
        return weekly.weekly_metrics(data, events, now, first_sync=since)


# The analytics over the whole timeline take turns (Métricas' weekly history and Insights,
# opened one after the other, would otherwise run at once): under the GIL, on two cores, both
# at once save little time and add up their peaks of memory. What they read is fetched before
# the lock, so a session never holds it while waiting on another cache.
_OVER_THE_TIMELINE = threading.Lock()


# What the caches hold per data version, and per timeline version (``_Live`` empties them).
_PER_DATA_VERSION = (_customer_data, _scoped_data, _search_index, _catalog_of, _insights_of, _weekly_of)
_PER_EVENTS_VERSION = (_events_of, _insights_of, _weekly_of)


def reference_time() -> datetime:
    """``VITRINE_NOW`` when set (a frozen demo, tests), else the clock."""
    pinned = parse_time(os.environ.get(NOW_ENV, ""))
    return pinned or now_utc()


_RUN = threading.local()


@st.cache_resource(show_spinner=False, max_entries=4)
def stores_of(path: str, version: str) -> tuple[str, ...]:
    """The stores of the base at data version ``version`` (read once per version, not per run:
    at 500,000 customers the query scans them all)."""
    return tuple(source().repository.stores())


def warm_up() -> None:
    """What every first run needs before its page, done ahead (the server's start): the source,
    the data version, its stores and the full customer frame, into the caches the runs read."""
    path = _path()
    src = source()
    version = _live(path).advance(path, src.repository)
    stores_of(path, version)
    customer_data(path, version)


def begin(viewer: Viewer) -> Context:
    """Resolve this run's context once: the viewer's stores, the stores chosen, the data.

    Called by the entrypoint before the page runs; every page then reads ``current()``,
    so no page resolves stores of its own or forgets the access boundary.
    """
    path = _path()
    src = source()
    version = _live(path).advance(path, src.repository)
    allowed = viewer.allowed(stores_of(path, version))
    chosen = chosen_stores(st.session_state.get(STORE_KEY), allowed)
    # The run keeps its full frame: a write while it runs costs it nothing it already has.
    _RUN.frame = customer_data(path, version)
    ctx = Context(
        data=scoped_data(path, version, allowed, chosen),
        stores=chosen,
        allowed=allowed,
        now=reference_time(),
        source=src,
        viewer=viewer,
        version=version,
    )
    _RUN.context = ctx
    return ctx


def chosen_stores(picked: object, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """The stores the viewer chose in the sidebar, among ``allowed``.

    Nothing picked yet means every allowed store; an empty choice means none (the pages then
    ask for one, instead of quietly showing every store). A choice of stores that are no
    longer allowed falls back to every allowed store.
    """
    if picked is None:
        return allowed
    chosen = tuple(s for s in picked if s in allowed)  # type: ignore[union-attr]
    return chosen if chosen or not picked else allowed


def current() -> Context:
    """The context the entrypoint resolved for this run (pages start here).

    A page run on its own (without the entrypoint) resolves it here, with the same viewer
    rules, so it cannot skip the access boundary either.
    """
    ctx = getattr(_RUN, "context", None)
    return ctx if ctx is not None else begin(viewer())


def end() -> None:
    """Forget this run's context (the entrypoint calls it when the page is done)."""
    _RUN.context = None
    _RUN.frame = None


def record_interest(ctx: Context, store: str, phone: str, products: str, name: str | None) -> Customer:
    """Record an in-store interest at the run's reference time; the next run shows it.

    Reading every customer again would cost seconds at 100,000, so when nobody else wrote
    in between, the next run gets the current frame with just this customer replaced.
    """
    saved = recording.record_interest(
        ctx.repository, ctx.allowed, store, phone, products, ctx.now, name=name, source=LOJA
    )
    after = ctx.repository.data_key()
    if _one_write_apart(ctx.version, after):
        path = str(config.db_path())
        _after_own_writes(path)[after] = with_customer(
            customer_data(path, ctx.version), saved, ctx.repository.catalog())
    return saved


def unite_records(ctx: Context, store: str, ids: tuple[str, ...]) -> Customer:
    """Unite the records of one customer (``recording.unite_records``); the next run reads them."""
    return recording.unite_records(ctx.repository, ctx.allowed, store, ids, ctx.now)
