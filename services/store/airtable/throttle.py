"""Vitrine's own rate limit for Airtable: a window of requests, kept per process or shared through a file."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: each process throttles alone
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("vitrine.airtable")

#: How long to look again while every slot of the window is a request in flight.
_POLL = 0.005
#: The recent round trips whose quickest is taken off each answer (see ``Throttle``).
_RECENT = 20
#: Fewer round trips known than this: each request counts from its answer.
_KNOWN = 5


class Throttle:
    """At most ``rate`` requests in any ``period`` seconds, shared by the threads of a process.

    Airtable counts a request when it arrives: its send time plus a one-way delay. A
    request's round trip is that delay plus Airtable's work and the way back, and the
    quickest recent round trip is at most the quickest of each: so a request arrived
    no later, compared with the others, than its answer less the quickest round trip.
    That is its place in the window: its send time plus what its own round trip took
    beyond the quickest one. With a steady latency requests are spaced as they were
    sent, at the full rate whatever the latency; a request held up on its way (or a
    slow answer) counts later by exactly its own delay, as late as it can have
    arrived, and no other request pays for it. Requests in flight count as now.

    After a 429, ``block`` holds every request back until Airtable's block is over.
    """

    def __init__(self, rate: int | None, period: float) -> None:
        self.rate = rate
        self.period = period
        self._slots: list[list[float | None]] = []  # [place, sent at]; place None while in flight
        self._round_trips: deque[float] = deque(maxlen=_RECENT)
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def wait(self) -> object | None:
        """Block until one more request fits in the window; returns its slot for ``done``."""
        if not self.rate:
            return None
        while True:
            with self._lock:
                now = time.monotonic()
                self._slots = [s for s in self._slots if s[0] is None or s[0] > now - self.period]
                if self._blocked_until > now:
                    pause = self._blocked_until - now
                elif len(self._slots) < self.rate:
                    slot: list[float | None] = [None, now]
                    self._slots.append(slot)
                    return slot
                else:
                    places = [s[0] for s in self._slots if s[0] is not None]
                    pause = min(places) + self.period - now if places else _POLL
            time.sleep(max(pause, 0.001))

    def done(self, slot: object | None) -> None:
        """The request of ``slot`` got its answer (or failed): it takes its place in the window."""
        if isinstance(slot, list):
            with self._lock:
                slot[0] = self._place(slot[1], time.monotonic())

    def block(self, seconds: float) -> None:
        """No request for ``seconds`` (a 429: Airtable blocks the base), then a fresh window."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, time.monotonic() + seconds)
            self._slots = [s for s in self._slots if s[0] is None]

    def _place(self, sent: float, answered: float) -> float:
        """Where a request sent at ``sent`` and answered at ``answered`` counts (see the class)."""
        self._round_trips.append(answered - sent)
        if len(self._round_trips) < _KNOWN:
            return answered
        return answered - min(self._round_trips)


class SharedThrottle(Throttle):
    """``Throttle`` for every process of this machine that writes the same base.

    The window lives in a small JSON file (``path``), read and rewritten under an
    exclusive ``flock``: each request in it is ``[process id, key, sent at, place]`` in
    wall-clock seconds (processes share no other clock), its place None while in flight.
    Each process measures its own round trips. A request in flight whose
    process is gone, or older than ``stale`` seconds, stops counting, so a killed writer
    never holds the window. A 429 seen by one process blocks them all.
    """

    def __init__(self, rate: int | None, period: float, path: Path, stale: float = 60.0) -> None:
        super().__init__(rate, period)
        self.path = path
        self.stale = stale
        self._pid = os.getpid()

    def wait(self) -> object | None:
        """Block until one more request fits in the shared window; returns its key for ``done``."""
        if not self.rate:
            return None
        while True:
            with self._lock, self._window() as window:
                now = time.time()
                if window["blocked_until"] > now:
                    pause = window["blocked_until"] - now
                elif len(window["slots"]) < self.rate:
                    key = secrets.token_hex(8)
                    window["slots"].append([self._pid, key, now, None])
                    return key
                else:
                    places = [s[3] for s in window["slots"] if s[3] is not None]
                    pause = min(places) + self.period - now if places else _POLL
            time.sleep(min(max(pause, 0.001), self.period))

    def done(self, slot: object | None) -> None:
        """The request of ``slot`` got its answer (or failed): it takes its place in the window."""
        if not isinstance(slot, str):
            return
        with self._lock, self._window() as window:
            now = time.time()
            for entry in window["slots"]:
                if entry[1] == slot:
                    entry[3] = self._place(entry[2], now)

    def block(self, seconds: float) -> None:
        """No request from any process for ``seconds``, then a fresh window."""
        with self._lock, self._window() as window:
            window["blocked_until"] = max(window["blocked_until"], time.time() + seconds)
            window["slots"] = [s for s in window["slots"] if s[3] is None]

    @contextlib.contextmanager
    def _window(self) -> Iterator[dict[str, Any]]:
        """The window, pruned, under the file's lock; written back when the block ends."""
        assert fcntl is not None
        with open(self.path, "a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                handle.seek(0)
                window = _parse(handle.read())
                _prune(window, time.time(), self.period, self.stale)
                yield window
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps(window))
                handle.flush()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _parse(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        data = {}  # a torn or foreign file: start a fresh window (the worst case is one 429)
    slots = data.get("slots") if isinstance(data, dict) else None
    blocked = data.get("blocked_until") if isinstance(data, dict) else None
    return {
        "blocked_until": float(blocked) if isinstance(blocked, (int, float)) else 0.0,
        "slots": [s for s in slots if _valid(s)] if isinstance(slots, list) else [],
    }


def _valid(slot: object) -> bool:
    return (isinstance(slot, list) and len(slot) == 4 and isinstance(slot[0], int)
            and isinstance(slot[1], str) and isinstance(slot[2], (int, float))
            and (slot[3] is None or isinstance(slot[3], (int, float))))


def _prune(window: dict[str, Any], now: float, period: float, stale: float) -> None:
    """Drop what no longer counts; clamp times a clock step put in the future."""
    kept = []
    for pid, key, sent, place in window["slots"]:
        sent = min(sent, now)
        if place is not None:
            place = min(place, now)
            if place > now - period:
                kept.append([pid, key, sent, place])
        elif sent > now - stale and _alive(pid):
            kept.append([pid, key, sent, None])
    window["slots"] = kept
    window["blocked_until"] = min(window["blocked_until"], now + stale)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process: alive
    return True


def lock_path(mirror: Path) -> Path:
    """The file that holds the shared window: beside the mirror, like SQLite's own ``-wal``."""
    return mirror.with_name(mirror.name + ".airtable-lock")


def shared_throttle(rate: int | None, period: float, mirror: Path, stale: float = 60.0) -> Throttle:
    """The machine-wide throttle of the writers of ``mirror``'s base, or a per-process one.

    A folder this process may not write (or a system without ``flock``) keeps the
    throttle per process, as before: Airtable's own 429 and its wait still apply.
    """
    path = lock_path(mirror)
    if fcntl is None or not rate:
        return Throttle(rate, period)
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as error:
        log.warning("throttle shared between processes unavailable (%s): throttling alone", error)
        return Throttle(rate, period)
    return SharedThrottle(rate, period, path, stale)
