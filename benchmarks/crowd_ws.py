"""``benchmarks/crowd.py`` with Streamlit websocket clients instead of browsers: the server's share.

Each client speaks the browser's protocol on ``/_stcore/stream`` (``BackMsg`` out, ``ForwardMsg``
in): it opens Campanhas, then sends the widget value a manager's click or Enter key would send
(the preset's label, the list of terms) and reads the count tiles (``st.metric``) of the run that
follows. No page is drawn, so on a small machine the server gets the CPU that 20 Chromium pages
would take: this is what the server itself can do, the browsers' own work left out.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path

from benchmarks.crowd import THINK_S, Change, Session, cpu_seconds, serve, vm_hwm_mb, vm_rss_mb

TIMEOUT_S = 60


class Client:
    """One browser tab's worth of websocket: a session on Campanhas."""

    def __init__(self, socket) -> None:
        self.socket = socket
        self.widgets: dict[str, str] = {}  # the Campanhas widgets' ids, by key
        self.terms: list[str] = []

    @classmethod
    async def open(cls, url: str) -> Client:
        import websockets

        socket = await websockets.connect(url.replace("http", "ws", 1) + "/_stcore/stream",
                                          subprotocols=["streamlit"], max_size=None)
        client = cls(socket)
        await client.run(page_name="campanhas")
        if {"preset", "terms"} - set(client.widgets):
            raise RuntimeError("Campanhas did not show its preset and terms")
        return client

    async def run(self, states: list | None = None, page_name: str = "campanhas",
                  expected: str | None = None) -> float | None:
        """Ask for a rerun with ``states``; read it to its end.

        Returns the moment (``time.monotonic``) the count tiles showed ``expected``, if asked.
        """
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        back = BackMsg()
        back.rerun_script.query_string = ""
        back.rerun_script.page_name = page_name
        back.rerun_script.widget_states.widgets.extend(states or [])
        await self.socket.send(back.SerializeToString())
        tiles: list[str] = []
        shown_at = None
        errors: list[str] = []
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(await asyncio.wait_for(self.socket.recv(), TIMEOUT_S))
            kind = msg.WhichOneof("type")
            if kind == "script_finished":
                break
            if kind != "delta" or msg.delta.WhichOneof("type") != "new_element":
                continue
            element = msg.delta.new_element
            which = element.WhichOneof("type")
            if which == "metric":
                tiles.append(element.metric.body)
                if expected is not None and shown_at is None and _tiles(expected) == tiles:
                    shown_at = time.monotonic()
            elif which == "exception":
                errors.append(element.exception.message[:300])
            elif which in ("button_group", "multiselect"):
                widget = getattr(element, which)
                for key in ("preset", "terms"):
                    if widget.id.endswith(f"-campanhas_{key}"):
                        self.widgets[key] = widget.id
        if errors:
            raise RuntimeError("; ".join(errors))
        if expected is not None and shown_at is None:
            raise RuntimeError(f"counts {' '.join(tiles)} instead of {expected}")
        return shown_at

    async def make(self, change: Change) -> float:
        """Send ``change`` and read its run; returns its latency (change to counts) in seconds."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        from services.segments import PRESETS

        state = WidgetState()
        if change.kind == "preset":
            state.id = self.widgets["preset"]
            state.string_array_value.data.append(PRESETS[change.value].label)
            if not PRESETS[change.value].needs_terms:
                self.terms = []  # the preset's callback clears them
        else:
            self.terms = ([*self.terms, change.value] if change.kind == "add"
                          else [t for t in self.terms if t != change.value])
            state.id = self.widgets["terms"]
            state.string_array_value.data.extend(self.terms)
        made = time.monotonic()
        shown_at = await self.run([state], expected=change.shown)
        return shown_at - made

    async def close(self) -> None:
        await self.socket.close()


def _tiles(shown: str) -> list[str]:
    return [tile for tile in shown.split() if tile != "|"]


async def manage(client: Client, steps: list[Change], until: float, seed: int) -> Session:
    """``crowd.manage`` for a websocket client."""
    rng = random.Random(seed)
    seen = Session()
    for change in steps:
        if time.monotonic() >= until:
            break
        try:
            seen.latencies.append(await client.make(change))
        except Exception as error:  # noqa: BLE001 - counted; this client stops, the others go on
            seen.errors.append(f"{change.kind} {change.value}: {type(error).__name__}: {str(error)[:200]}")
            break
        seen.kinds[change.kind] = seen.kinds.get(change.kind, 0) + 1
        await asyncio.sleep(rng.uniform(*THINK_S))
    return seen


async def crowd(db: Path, now: str, sessions: int, seconds: float, plans: list[list[Change]],
                log) -> tuple[dict[str, object], list[Session]]:
    """``crowd._crowd`` with websocket clients: the result's figures and each session's."""
    result: dict[str, object] = {"sessions": sessions, "seconds": seconds, "client": "websocket"}
    with serve(db, now) as (process, url):
        started = time.monotonic()
        first = await Client.open(url)
        await first.make(plans[0].pop(0))
        result["rss_1_session_mb"] = vm_rss_mb(process.pid)
        result["warm_s"] = round(time.monotonic() - started, 2)
        log(f"  one session, one list: {result['warm_s']} s, server RSS {result['rss_1_session_mb']:.0f} MB")
        clients = [first, *await asyncio.gather(*(Client.open(url) for _ in range(sessions - 1)))]
        log(f"  {sessions} sessions on Campanhas, server RSS {vm_rss_mb(process.pid):.0f} MB")
        cpu_before, wall_before = cpu_seconds(process.pid), time.monotonic()
        until = time.monotonic() + seconds
        seen = await asyncio.gather(*(manage(client, steps, until, seed=1000 + i)
                                      for i, (client, steps) in enumerate(zip(clients, plans, strict=True))))
        wall = time.monotonic() - wall_before
        cpu_after = cpu_seconds(process.pid)
        result["rss_n_sessions_mb"] = vm_rss_mb(process.pid)  # every run is over: each waited for its end
        result["vm_hwm_mb"] = vm_hwm_mb(process.pid)
        result["cpu"] = {"wall_s": round(wall, 1), "server_s": round(cpu_after[0] - cpu_before[0], 1),
                         "browser_s": 0.0, "cores": os.cpu_count()}
        for client in clients:
            await client.close()
    return result, list(seen)
