"""The repository interface every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from services.catalog import Resolution
from services.interests import Customer

if TYPE_CHECKING:
    from services.store.events import EventLog
    from services.timeline import Event


class StoreError(Exception):
    """A fault of the data source, with a message fit for the screen (Portuguese)."""


class UnknownStore(StoreError):
    """A store that does not exist or that the user may not see."""


class CustomerNotFound(StoreError):
    """No customer with that phone in that store."""


class CustomerRepository(ABC):
    """What the rules need from a data source.

    Reads return raw field values (lists, strings, anything the source holds);
    ``services.frame.build`` turns them into the customer frame. Every backend reads
    from a local SQLite file (the demo, or the mirror of an Airtable base).
    """

    @property
    @abstractmethod
    def path(self) -> Path:
        """The local file the data is read from (the snapshot and the export audit sit beside it)."""

    @abstractmethod
    def version(self) -> str:
        """A token that changes whenever any customer changes."""

    @abstractmethod
    def data_key(self) -> str:
        """What the customer frame depends on: the file, its version and its catalog (cache key)."""

    @abstractmethod
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        """A fact about the data (``source``: ``demo`` or ``airtable``; the sync's state)."""

    @abstractmethod
    def stores(self) -> list[str]:
        """Every store name, sorted."""

    @abstractmethod
    def raw_customers(self, stores: Collection[str]) -> pd.DataFrame:
        """Raw records of ``stores``, one row each, with ``frame.RAW_COLUMNS``."""

    def raw_customer_parts(
        self, stores: Collection[str], size: int | None = 10_000
    ) -> Iterator[pd.DataFrame]:
        """``raw_customers`` in consecutive parts of at most ``size`` rows (None: one part), read
        as one: ``frame.build`` takes them in turn, so only one part of the raw records is held."""
        yield self.raw_customers(stores)

    @abstractmethod
    def catalog(self) -> dict[str, Resolution]:
        """The base's products by key (empty when it has no Products table)."""

    @abstractmethod
    def catalog_titles(self) -> dict[str, str]:
        """The base's product titles by key (empty when it has no Products table)."""

    @abstractmethod
    def find(self, store: str, phone: str) -> Customer | None:
        """The customer of ``store`` with ``phone`` (any format, ninth digit or not)."""

    @property
    @abstractmethod
    def events(self) -> EventLog:
        """The timeline, kept in the local file whatever the source (SPEC §11)."""

    @abstractmethod
    def record(
        self, store: str, phone: str, batch: Sequence[str], at: datetime, name: str | None = None,
        source: str = "whatsapp",
    ) -> Customer:
        """Apply the recording rule for one event and return the saved customer.

        Creates the customer on first contact and dates the interests in the timeline
        (``source``: ``whatsapp``, ``loja`` or ``importacao``). Raises ``StoreError`` when the
        write could not be made; then nothing is half-saved.
        """

    @abstractmethod
    def record_event(self, store: str, phone: str, kind: str, at: datetime, *, source: str = "loja",
                     products: Sequence[str] = (), value_brl: float | None = None) -> Event:
        """A visit (``visita``) or a purchase (``compra``, with its value in R$) of a customer."""

    def product_urls(self) -> dict[str, str]:
        """The page of each product that has one (a ``url`` field of ``Products``), by product key."""
        return {}

    def keeps_visits_locally(self) -> bool:
        """True when visits and purchases stay in the local file only (the card says so)."""
        return False

    @abstractmethod
    def merge(self, store: str, ids: Sequence[str], at: datetime) -> Customer:
        """Unite records of one customer (one phone of ``store``, with and without the ninth digit).

        The kept record (``twins.record_to_keep``: the phone with the ninth digit) gets
        every interest of all of them (``twins.merge_customers``); the others are deleted
        only once the kept one is saved with all of it. Returns the kept customer.
        Raises ``CustomerNotFound`` when a record is gone, ``StoreError`` when the records are
        not one phone of ``store`` or the write could not be made (then nothing is deleted).
        """
