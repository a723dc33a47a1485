"""Vitrine's policy for talking to Airtable: the throttle, timeouts, the 429 block, retries, paging."""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from pyairtable import Api, Table
from pyairtable import formulas as F

from services.config import AirtableSettings
from services.store.airtable.errors import OffsetExpired, translate, unreachable
from services.store.airtable.throttle import Throttle, shared_throttle

log = logging.getLogger("vitrine.airtable")

PAGE_SIZE = 100
BATCH_SIZE = 10


@dataclass(frozen=True)
class ClientPolicy:
    """How Vitrine talks to Airtable.

    Attributes:
        rate: requests per ``period`` seconds allowed by Vitrine itself (None: no throttle).
        period: the window of the throttle (see ``Throttle`` for where each request counts).
        timeout: (connect, read) seconds for every request.
        block_seconds: Airtable's block after a 429 (30 s); tests scale it down.
        max_blocks: 429 waits before giving up.
        network_retries: retries of a read or an idempotent write after a dropped connection or a 5xx.
        retry_backoff: seconds before the first such retry (doubles each time).
        write_attempts: write + read-back rounds of one recording before it is reported as not saved.
        settle_seconds: least pause between a write and its read-back (it grows to three
            times our own read-to-write time). A concurrent writer that read the record before
            our write lands its stale copy within its own read-to-write gap; reading back after
            a longer pause sees that overwrite, so it is merged again.
    """

    rate: int | None = 5
    period: float = 1.01
    timeout: tuple[float, float] = (5.0, 30.0)
    block_seconds: float = 30.0
    max_blocks: int = 4
    network_retries: int = 2
    retry_backoff: float = 1.0
    write_attempts: int = 6
    settle_seconds: float = 1.5


_THROTTLES: dict[tuple[str, str, int | None, float], Throttle] = {}
_THROTTLES_LOCK = threading.Lock()


def throttle_for(settings: AirtableSettings, policy: ClientPolicy) -> Throttle:
    """The throttle of one base in this process (Airtable counts per base)."""
    key = (settings.endpoint_url, settings.base_id, policy.rate, policy.period)
    with _THROTTLES_LOCK:
        if key not in _THROTTLES:
            _THROTTLES[key] = Throttle(policy.rate, policy.period)
        return _THROTTLES[key]


def machine_throttle(policy: ClientPolicy, mirror: Path) -> Throttle:
    """The throttle shared by every process writing the base of ``mirror`` (a lock file beside it).

    A request in flight stops counting after the longest a request can take (its
    timeouts), so a writer killed mid-request frees its place.
    """
    return shared_throttle(policy.rate, policy.period, mirror,
                           stale=sum(policy.timeout) + policy.period + 5.0)


class _PolicyApi(Api):
    """pyairtable's Api with Vitrine's policy on every request (pyairtable's own retry is off)."""

    def __init__(self, settings: AirtableSettings, policy: ClientPolicy, throttle: Throttle) -> None:
        super().__init__(
            settings.api_key,
            timeout=policy.timeout,  # type: ignore[arg-type]
            retry_strategy=None,
            endpoint_url=settings.endpoint_url,
        )
        self.policy = policy
        self.throttle = throttle
        self.base_id = settings.base_id
        self.on_wait: Callable[[str], None] | None = None
        self.request_count = 0
        self._count_lock = threading.Lock()
        self.timing = threading.local()  # .seconds: this thread's last answer, throttle wait excluded

    def request(self, method: str, url: str, fallback: tuple[str, str] | None = None,
                options: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
                json: dict[str, Any] | None = None) -> Any:
        # A create is the one request that is not safe to repeat after a dropped connection.
        repeatable = method.upper() != "POST" or url.rstrip("/").endswith("listRecords")
        blocks = retries = 0
        while True:
            slot = self.throttle.wait()
            with self._count_lock:
                self.request_count += 1
            sent = time.monotonic()
            try:
                try:
                    return super().request(method, url, fallback=fallback, options=options,
                                           params=params, json=json)
                finally:
                    self.throttle.done(slot)
                    self.timing.seconds = time.monotonic() - sent
            except requests.HTTPError as exc:
                status = exc.response.status_code if exc.response is not None else 0
                if status == 429 and blocks < self.policy.max_blocks:
                    blocks += 1
                    seconds = self.policy.block_seconds * (1 + 0.1 * random.random())
                    # Every writer of the base waits out the block, not only the one that saw it.
                    self.throttle.block(seconds)
                    self._pause(seconds, "O Airtable pediu uma pausa (limite de requisições): aguardando"
                                f" {self.policy.block_seconds:.0f} s…")
                    continue
                if status >= 500 and repeatable and retries < self.policy.network_retries:
                    retries += 1
                    self._pause(self.policy.retry_backoff * 2 ** (retries - 1),
                                f"O Airtable respondeu {status}: tentando de novo…")
                    continue
                raise translate(exc, self.base_id, blocks, (self.api_key,)) from exc
            except (requests.ConnectionError, requests.Timeout) as exc:
                if repeatable and retries < self.policy.network_retries:
                    retries += 1
                    self._pause(self.policy.retry_backoff * 2 ** (retries - 1),
                                "Conexão com o Airtable interrompida: tentando de novo…")
                    continue
                raise unreachable(exc, self.endpoint_url, self.policy.timeout[1]) from exc

    def _pause(self, seconds: float, message: str) -> None:
        log.warning(message)
        if self.on_wait is not None:
            self.on_wait(message)
        time.sleep(seconds)


class Client:
    """One Airtable base behind Vitrine's policy. ``repr`` shows the base, never the token."""

    def __init__(self, settings: AirtableSettings, policy: ClientPolicy | None = None,
                 throttle: Throttle | None = None) -> None:
        self.settings = settings
        self.policy = policy or ClientPolicy()
        self.api = _PolicyApi(settings, self.policy, throttle or throttle_for(settings, self.policy))

    def __repr__(self) -> str:
        return f"Client(base_id={self.settings.base_id!r}, endpoint_url={self.settings.endpoint_url!r})"

    @property
    def request_count(self) -> int:
        """Requests sent so far by this client (retries included)."""
        return self.api.request_count

    def table(self, name: str) -> Table:
        """A pyairtable ``Table`` of the base, by name or id."""
        return self.api.table(self.settings.base_id, name)

    def tables_json(self) -> list[dict[str, Any]]:
        """The base's tables from the metadata API (one request)."""
        url = self.api.build_url("meta/bases", self.settings.base_id, "tables")
        data = self.api.request("GET", url)
        return list(data.get("tables", [])) if isinstance(data, dict) else []

    def walk(
        self,
        table: str,
        *,
        fields: Sequence[str],
        formula: F.Formula | None = None,
        on_page: Callable[[list[dict[str, Any]]], None] | None = None,
        on_restart: Callable[[], None] | None = None,
        max_restarts: int = 3,
        first: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Every record of ``table`` (``fields`` only), 100 a page.

        ``first`` is a first page already read (the answer of a list request with the
        same options): the walk goes on from its offset. An expired offset (422
        ``LIST_RECORDS_ITERATOR_NOT_AVAILABLE``) starts the walk again from the first
        page, at most ``max_restarts`` times.
        """
        options: dict[str, Any] = {"page_size": PAGE_SIZE, "fields": list(fields)}
        if formula is not None:
            options["formula"] = formula
        for attempt in range(max_restarts + 1):
            records: list[dict[str, Any]] = []
            try:
                for page in self._pages(table, options, first if attempt == 0 else None):
                    records.extend(page)
                    if on_page is not None:
                        on_page(page)
                return records
            except OffsetExpired:
                if attempt == max_restarts:
                    raise
                log.warning("Airtable offset expired: restarting the walk of %s", table)
                if on_restart is not None:
                    on_restart()
        raise AssertionError("unreachable")

    def _pages(self, table: str, options: dict[str, Any], first: dict[str, Any] | None
               ) -> Iterator[list[dict[str, Any]]]:
        if first is None:
            yield from self.table(table).iterate(**options)
            return
        yield list(first.get("records", []))
        if first.get("offset"):
            yield from self.table(table).iterate(**options, offset=first["offset"])

    def walk_partitions(
        self,
        table: str,
        *,
        fields: Sequence[str],
        partitions: int,
        on_page: Callable[[int, list[dict[str, Any]]], None] | None = None,
        on_restart: Callable[[int], None] | None = None,
        max_restarts: int = 3,
    ) -> list[dict[str, Any]]:
        """Every record of ``table``, the table read as ``partitions`` walks at once.

        A page takes Airtable a while to answer (latency L); one walk waits for each
        answer before asking the next page, so it makes 1/L requests a second, below
        the throttle's rate/period once L passes period/rate (a fifth of a second at 5
        requests a second). Several walks over disjoint parts of the table
        (``partition_formulas``) keep the throttle's window full whatever L is: they
        share the client's one throttle, so together they never exceed the base's rate.

        A first page without a filter comes first and says which is faster: a table of
        one page, or pages answered quickly enough for one walk to fill the throttle
        (``waits_between_pages``), is walked once from there, with no request lost
        (``partitions`` 1: always that single walk). A slow first page is confirmed by
        the second before the walks start (two requests lost then, not a slower sync
        for one hiccup). Each partition restarts alone
        when its offset expires. The calling thread receives
        every page (``on_page(part, page)``), restart (``on_restart(part)``) and 429
        pause (the api's ``on_wait``), so progress callbacks never run elsewhere (a
        Streamlit page draws only from its own thread). When a walk fails (or a
        callback raises), the others stop after their current request and the error
        is raised here.

        Returns:
            The records, each exactly once, partition after partition.
        """
        if partitions <= 1:
            return self.walk(table, fields=fields, max_restarts=max_restarts,
                             on_page=lambda page: on_page(0, page) if on_page else None,
                             on_restart=lambda: on_restart(0) if on_restart else None)
        source = self.table(table)
        options: dict[str, Any] = {"page_size": PAGE_SIZE, "fields": list(fields)}

        def page(offset: str | None = None) -> dict[str, Any]:
            return self.api.request("get", source.urls.records, fallback=("post", source.urls.records_post),
                                    options={**options, "offset": offset} if offset else options)

        first = page()
        if self.policy.rate and first.get("offset") and self.waits_between_pages(self.api.timing.seconds):
            # One slow answer may be a hiccup (a pause on either side): the next page of the
            # same walk confirms it before the walk is given up for several.
            following = page(first["offset"])
            first = {"records": [*first.get("records", []), *following.get("records", [])],
                     "offset": following.get("offset")}
        if first.get("offset") and self.waits_between_pages(self.api.timing.seconds):
            return _Partitioned(self, table, fields, max_restarts).run(
                partition_formulas(partitions), on_page, on_restart)
        # One page, or pages quick enough for one walk to fill the throttle: go on from there.
        return self.walk(table, fields=fields, max_restarts=max_restarts, first=first,
                         on_page=lambda page: on_page(0, page) if on_page else None,
                         on_restart=lambda: on_restart(0) if on_restart else None)

    def waits_between_pages(self, seconds: float) -> bool:
        """True when pages answered in ``seconds`` leave one walk below the throttle.

        One walk asks 1/seconds pages a second; the throttle lets ``rate`` requests
        through every ``period`` while the latency is steady (each counted from its
        send, see ``Throttle``). One walk is the slower once ``seconds`` passes
        ``period / rate``: 0.2 s at Airtable's 5 requests a second. Without a throttle,
        several walks are always faster.
        """
        rate = self.policy.rate
        if not rate:
            return True
        return seconds > self.policy.period / rate


class _Stopped(Exception):
    """Another partition failed: this walk stops after its current page."""


class _Partitioned:
    """The walks of ``Client.walk_partitions``: one thread each, results through one queue."""

    def __init__(self, client: Client, table: str, fields: Sequence[str], max_restarts: int) -> None:
        self.client, self.table, self.fields, self.max_restarts = client, table, fields, max_restarts
        self.events: queue.Queue[tuple[str, int, Any]] = queue.Queue()
        self.stop = threading.Event()

    def run(self, formulas: Sequence[F.Formula],
            on_page: Callable[[int, list[dict[str, Any]]], None] | None,
            on_restart: Callable[[int], None] | None) -> list[dict[str, Any]]:
        threads = [threading.Thread(target=self._walk, args=(part, formula), daemon=True,
                                    name=f"airtable-partition-{part}")
                   for part, formula in enumerate(formulas)]
        api, caller = self.client.api, threading.current_thread()
        on_wait = api.on_wait
        if on_wait is not None:  # a 429 pause seen by a walk is told from this thread
            api.on_wait = lambda message: (on_wait(message) if threading.current_thread() is caller
                                           else self.events.put(("wait", -1, message)))
        for thread in threads:
            thread.start()
        results: dict[int, list[dict[str, Any]]] = {}
        try:
            while len(results) < len(threads):
                kind, part, value = self.events.get()
                if kind == "page" and on_page is not None:
                    on_page(part, value)
                elif kind == "restart" and on_restart is not None:
                    on_restart(part)
                elif kind == "wait" and on_wait is not None:
                    on_wait(value)
                elif kind == "done":
                    results[part] = value
                elif kind == "error":
                    raise value
        except Exception:
            self.stop.set()
            for thread in threads:  # each stops after its current request: nothing runs on
                thread.join()
            raise
        except BaseException:  # Ctrl-C: leave at once; the walks stop at their next page
            self.stop.set()
            raise
        finally:
            api.on_wait = on_wait
        return [record for part in sorted(results) for record in results[part]]

    def _walk(self, part: int, formula: F.Formula) -> None:
        def page(records: list[dict[str, Any]]) -> None:
            if self.stop.is_set():
                raise _Stopped
            self.events.put(("page", part, records))

        try:
            records = self.client.walk(self.table, fields=self.fields, formula=formula, on_page=page,
                                       on_restart=lambda: self.events.put(("restart", part, None)),
                                       max_restarts=self.max_restarts)
        except _Stopped:
            self.events.put(("done", part, []))
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
            self.events.put(("error", part, exc))
        else:
            self.events.put(("done", part, records))


#: The characters of a record id (``rec`` + 14 of these), in the order partitions number them.
ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def partition_formulas(count: int) -> list[F.Formula]:
    """``count`` formulas that split a table into disjoint parts covering every record.

    Part ``k`` holds the records whose id's last two characters, numbered by their place
    in ``ID_ALPHABET`` (``FIND``: 0 when absent), add up to ``k`` modulo ``count``. Every
    record has exactly one such sum, so no record is in two parts nor in none, whatever
    its id looks like (and even if ``FIND`` ignored case). Two characters make the parts
    even (one character gives 13 of 62 to some parts and 12 to others). Airtable's
    formula reference has every function used: ``RECORD_ID``, ``RIGHT``, ``LEFT``,
    ``FIND``, ``SUM``, ``MOD``.

    Example: ``to_formula_str(partition_formulas(5)[2])`` ends with ``", 5)=2"``.
    """
    last = F.FIND(F.RIGHT(F.RECORD_ID(), 1), ID_ALPHABET)
    before_last = F.FIND(F.LEFT(F.RIGHT(F.RECORD_ID(), 2), 1), ID_ALPHABET)
    part = F.MOD(F.SUM(last, before_last), count)
    return [F.EQ(part, k) for k in range(count)]


def chunks(items: Sequence[Any], size: int = BATCH_SIZE) -> Iterator[Sequence[Any]]:
    """``items`` in slices of ``size`` (Airtable takes 10 records a batch)."""
    for start in range(0, len(items), size):
        yield items[start:start + size]
