"""Where a request counts in the throttle's window: from its send while latency is steady, else its answer."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from services.config import AirtableSettings
from services.store.airtable.client import Client
from services.store.airtable.throttle import SharedThrottle, Throttle, lock_path
from tests.airtable_helpers import REAL_RATE, TOKEN, Base, make_base, rate_limited
from tests.fake_airtable import FakeAirtable

WINDOWS = 5  # batches of 5 requests


@pytest.fixture(params=["process", "machine"])
def throttle(request: pytest.FixtureRequest, tmp_path: Path) -> Throttle:
    """The per-process throttle, and the one shared by the processes of a machine through a file."""
    if request.param == "process":
        return Throttle(5, REAL_RATE.period)
    return SharedThrottle(5, REAL_RATE.period, lock_path(tmp_path / "mirror.db"))


def client(base: Base, throttle: Throttle) -> Client:
    settings = AirtableSettings(api_key=TOKEN, base_id=base.base_id, endpoint_url=base.fake.url)
    return Client(settings, REAL_RATE, throttle)


def five_at_once(ask: Callable[[], object], each: int) -> float:
    """Five threads asking ``each`` times, as five parts of a table read at once; seconds taken."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            for _ in range(each):
                ask()
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(5)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    return time.monotonic() - started


def test_at_a_steady_latency_five_requests_fit_each_window_counted_from_their_send(throttle: Throttle):
    """A second a page: counting each request from its answer would allow 5 every 2.01 s;
    from its send (plus what its round trip took beyond the quickest) the window stays full,
    without a 429."""
    latency = 1.0
    with FakeAirtable(tokens=[TOKEN], rate_limit_per_sec=5, block_seconds=0.5, seed=31,
                      page_latency=latency) as server:
        table = client(make_base(server, customers=3, products=False), throttle).table("Customers")
        server.reset_stats()
        seconds = five_at_once(table.first, WINDOWS)
        assert server.count(kind="list") == 5 * WINDOWS and rate_limited(server) == 0
        from_answers = (WINDOWS - 1) * (REAL_RATE.period + latency) + latency
        assert (WINDOWS - 1) * REAL_RATE.period < seconds < from_answers - latency


def test_one_slow_request_slows_only_its_own_place_in_the_window():
    """Half a second a page and one request held up 1 s on its way: that request counts 1 s later,
    the others still go five a window (not five every 1.5 s), without a 429."""
    latency, held = 0.5, 1.0
    with FakeAirtable(tokens=[TOKEN], rate_limit_per_sec=5, block_seconds=0.5, seed=33,
                      page_latency=latency) as server:
        throttle = Throttle(5, REAL_RATE.period)  # where requests count is the same in both kinds
        table = client(make_base(server, customers=3, products=False), throttle).table("Customers")
        five_at_once(table.first, 1)  # round trips known: all at the steady latency
        server.reset_stats()
        server.inject(delay=held, kind="list")
        seconds = five_at_once(table.first, 8)
        assert server.count(kind="list") == 40 and rate_limited(server) == 0
        # The warm-up's window, then eight of five; the held request's own delay; the last answer.
        steady = 8 * REAL_RATE.period + held + latency
        assert seconds < steady + 0.7


def test_a_request_delayed_on_its_way_counts_from_its_answer(throttle: Throttle):
    """One request of a batch takes 0.6 s to reach Airtable: its round trip is 0.6 s beyond the
    quickest, so it counts from about its arrival, and the next batch cannot join it in Airtable's second."""
    with FakeAirtable(tokens=[TOKEN], rate_limit_per_sec=5, block_seconds=0.5, seed=32) as server:
        base = make_base(server, customers=3, products=False)
        table = client(base, throttle).table("Customers")
        record_id = server.records(base.base_id, "Customers")[0]["id"]
        five_at_once(lambda: table.get(record_id), 1)  # round trips known: all quick
        server.reset_stats()
        server.inject(delay=0.6, kind="get")
        five_at_once(lambda: table.get(record_id), 2)
        assert server.count(kind="get") == 10 and rate_limited(server) == 0
