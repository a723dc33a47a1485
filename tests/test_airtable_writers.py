"""Many writers of one base on one machine: the shared throttle, and no lost interest in either field."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.config import AirtableSettings
from services.store.airtable.client import Client, machine_throttle
from services.store.airtable.store import dropped_from_recent
from services.store.airtable.sync import sync
from services.store.airtable.throttle import SharedThrottle, Throttle, lock_path
from services.store.airtable.turns import customer_turn
from tests.airtable_helpers import (
    REAL_RATE,
    STORES,
    TOKEN,
    Base,
    fake,  # noqa: F401  (fixture)
    make_base,
    phone_of,
    rate_limited,
)
from tests.fake_airtable import FakeAirtable

ROOT = Path(__file__).resolve().parents[1]
AT = datetime(2026, 11, 1, 12, tzinfo=UTC)
JARDINS = STORES[0]


def items(value: object) -> list[str]:
    return list(value) if isinstance(value, list) else [v.strip() for v in str(value or "").split(",") if v]


@pytest.fixture
def real_rate() -> FakeAirtable:
    """A fake that enforces Airtable's 5 requests a second per base (a short block after a 429)."""
    with FakeAirtable(tokens=[TOKEN], rate_limit_per_sec=5, block_seconds=0.5, seed=21) as server:
        yield server


def reader(base: Base, throttle: Throttle) -> Client:
    settings = AirtableSettings(api_key=TOKEN, base_id=base.base_id, endpoint_url=base.fake.url)
    return Client(settings, REAL_RATE, throttle)


def read_together(clients: list[Client], record_id: str, count: int) -> None:
    barrier = threading.Barrier(len(clients))
    failures: list[BaseException] = []

    def run(client: Client) -> None:
        try:
            table = client.table("Customers")
            barrier.wait()
            for _ in range(count):
                table.get(record_id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures


def started_together(commands: list[list[str]]) -> list[subprocess.Popen]:
    """Start every command, wait until each says ``ready``, then tell them all to go."""
    processes = [subprocess.Popen(command, cwd=ROOT, text=True, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE) for command in commands]
    for process in processes:
        assert process.stdout.readline().strip() == "ready"
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()
    return processes


def finished(processes: list[subprocess.Popen], timeout: float = 120) -> list[int]:
    try:
        return [process.wait(timeout=timeout) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()


# --- one window of requests for the whole machine ----------------------------------------


def test_writers_that_throttle_alone_cause_429s(real_rate: FakeAirtable, tmp_path: Path):
    """The fault of the issue: four writers at 5 requests/s each are 20 requests/s to Airtable."""
    base = make_base(real_rate, customers=3)
    record_id = real_rate.records(base.base_id, "Customers")[0]["id"]
    real_rate.reset_stats()
    read_together([reader(base, Throttle(5, 1.01)) for _ in range(4)], record_id, 4)
    assert rate_limited(real_rate) > 0


def test_writers_sharing_the_lock_file_never_cause_a_429(real_rate: FakeAirtable, tmp_path: Path):
    """The same four writers, each with its own throttle object on the one lock file."""
    base = make_base(real_rate, customers=3)
    record_id = real_rate.records(base.base_id, "Customers")[0]["id"]
    mirror = tmp_path / "mirror.db"
    clients = [reader(base, machine_throttle(REAL_RATE, mirror)) for _ in range(4)]
    assert all(isinstance(c.api.throttle, SharedThrottle) for c in clients)
    assert len({id(c.api.throttle) for c in clients}) == 4
    real_rate.reset_stats()
    read_together(clients, record_id, 4)
    assert rate_limited(real_rate) == 0 and real_rate.count(kind="get") == 16
    assert lock_path(mirror).exists()


def test_processes_sharing_the_lock_file_never_cause_a_429(real_rate: FakeAirtable, tmp_path: Path):
    """Three processes, as three `python -m services record` would be, started at the same moment."""
    base = make_base(real_rate, customers=3)
    record_id = real_rate.records(base.base_id, "Customers")[0]["id"]
    child = "import sys; from tests.airtable_helpers import reads_when_told as r; " \
            "r(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])"
    args = [real_rate.url, base.base_id, str(tmp_path / "mirror.db"), "5", record_id]
    real_rate.reset_stats()
    assert finished(started_together([[sys.executable, "-c", child, *args]] * 3)) == [0, 0, 0]
    assert real_rate.count(kind="get") == 15 and rate_limited(real_rate) == 0


def test_a_429_holds_back_every_writer_of_the_machine(tmp_path: Path):
    """The writer that saw the 429 blocks the others too: nobody knocks during Airtable's block."""
    one, other = (SharedThrottle(5, 1.01, lock_path(tmp_path / "m.db")) for _ in range(2))
    one.block(0.3)
    started = time.monotonic()
    other.done(other.wait())
    assert time.monotonic() - started >= 0.29


def test_a_writer_killed_mid_request_frees_its_place(tmp_path: Path):
    throttle = SharedThrottle(2, 1.01, lock_path(tmp_path / "m.db"))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    with throttle._window() as window:  # noqa: SLF001 - two requests in flight from a dead process
        window["slots"] = [[int(gone.stdout), key, time.time(), None] for key in ("a", "b")]
    admitted: list[object] = []
    waiting = threading.Thread(target=lambda: admitted.append(throttle.wait()), daemon=True)
    waiting.start()
    waiting.join(timeout=5)
    assert admitted and admitted[0] is not None  # not stuck behind the dead writer's requests


# --- the read-back repairs `interests` too ------------------------------------------------


@pytest.fixture(params=["list", "text"])
def base(request: pytest.FixtureRequest, fake: FakeAirtable) -> Base:  # noqa: F811
    return make_base(fake, kind=request.param)


@pytest.fixture
def store(base: Base, tmp_path: Path):
    synced = base.store(tmp_path / "mirror.db")
    sync(synced)
    return synced


def overwrite_before_read_back(base: Base, monkeypatch, customer_id: str, **fields: list[str]) -> None:
    """The other writer's copy lands between our write and our read-back."""
    server = base.fake
    original = server._do_get
    calls = {"n": 0}

    def get_after_overwrite(b, table, info):
        calls["n"] += 1
        if calls["n"] == 2:
            server.edit_record(base.base_id, "Customers", customer_id,
                               {name: base.items(value) for name, value in fields.items()})
        return original(b, table, info)

    monkeypatch.setattr(server, "_do_get", get_after_overwrite)


def test_an_item_dropped_from_interests_only_is_merged_again(base: Base, store, monkeypatch):
    """The assistant keeps `interests_all` whole but writes `interests` from the copy it read
    before our write: our product is in the history and missing from the recent five."""
    customer_id = store.find(JARDINS, phone_of(9)).id
    overwrite_before_read_back(
        base, monkeypatch, customer_id,
        interests=["Submariner 2", "Datejust", "Aquanaut 4", "Cartier Love"],
        interests_all=["Submariner 2", "Datejust", "Aquanaut 4", "Royal Oak", "Cartier Love"])
    saved = store.record(JARDINS, phone_of(9), ["Royal Oak"], AT)
    assert base.fake.count(kind="update") == 2
    fields = base.fields(customer_id)
    assert items(fields["interests"]) == ["Submariner 2", "Datejust", "Aquanaut 4", "Cartier Love",
                                          "Royal Oak"]
    assert items(fields["interests_all"]) == ["Submariner 2", "Datejust", "Aquanaut 4", "Royal Oak",
                                              "Cartier Love"]
    assert saved.interests[-1] == "Royal Oak"


def test_an_item_pushed_out_by_newer_ones_is_left_out(base: Base, store, monkeypatch):
    """Five products asked after ours filled `interests`: ours left it by the rule, nothing to repair."""
    customer_id = store.find(JARDINS, phone_of(9)).id
    newer = ["Nautilus", "Aquanaut", "Calatrava", "Twenty-4", "Golden Ellipse"]
    overwrite_before_read_back(
        base, monkeypatch, customer_id, interests=newer,
        interests_all=["Submariner 2", "Datejust", "Aquanaut 4", "Royal Oak", *newer])
    store.record(JARDINS, phone_of(9), ["Royal Oak"], AT)
    assert base.fake.count(kind="update") == 1
    assert items(base.fields(customer_id)["interests"]) == newer


def test_the_drop_rule_by_example():
    before = ["Submariner", "Datejust"]
    # room left, or an older product kept while ours went: dropped
    assert dropped_from_recent(["X"], ["Submariner", "Datejust", "X"], before, ["Submariner", "Y"]) == ["X"]
    assert dropped_from_recent(["X"], ["Submariner", "Datejust", "X"], before,
                               ["Datejust", "A", "B", "C", "D"]) == ["X"]
    # five newer products: pushed out by the rule
    newer = ["A", "B", "C", "D", "E"]
    assert dropped_from_recent(["X"], ["Submariner", "Datejust", "X"], before, newer) == []
    # a batch longer than five keeps only its last five: the first item was never written
    batch = ["P1", "P2", "P3", "P4", "P5", "P6"]
    assert dropped_from_recent(batch, batch[1:], before, batch[1:]) == []


# --- eight `record` processes on one customer ------------------------------------------------


def test_a_customers_turn_held_by_another_process_is_waited_for(tmp_path: Path):
    mirror, key = tmp_path / "mirror.db", f"{JARDINS}\n{phone_of(3)}"
    holder = ("import sys; from pathlib import Path\n"
              "from services.store.airtable.turns import customer_turn\n"
              "with customer_turn(Path(sys.argv[1]), sys.argv[2]):\n"
              "    print('ready', flush=True); sys.stdin.readline()")
    process = subprocess.Popen([sys.executable, "-c", holder, str(mirror), key], cwd=ROOT, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert process.stdout.readline().strip() == "ready"
        with customer_turn(mirror, f"{JARDINS}\n{phone_of(4)}"):
            pass  # another customer: no wait
        taken = threading.Event()

        def take() -> None:
            with customer_turn(mirror, key):
                taken.set()

        waiting = threading.Thread(target=take, daemon=True)
        waiting.start()
        assert not taken.wait(0.5)  # the other process holds this customer's turn
        process.stdin.write("go\n")
        process.stdin.flush()
        assert taken.wait(10)
    finally:
        finished([process], timeout=10)


def test_eight_record_processes_lose_nothing_and_cause_no_429(real_rate: FakeAirtable, tmp_path: Path):
    """The issue's scenario: eight processes record a product each on one customer at the same
    moment, at Airtable's real rate, with one mirror (so one lock file) between them."""
    base = make_base(real_rate, customers=12, products=False)
    mirror = tmp_path / "mirror.db"
    sync(base.store(mirror))
    customer_id = base.store(mirror).find(JARDINS, phone_of(3)).id
    products = [f"Produto {i}" for i in range(8)]
    child = "import sys; from tests.airtable_helpers import records_when_told as r; r(*sys.argv[1:])"
    real_rate.reset_stats()
    started = time.monotonic()
    processes = started_together([[sys.executable, "-c", child, real_rate.url, base.base_id, str(mirror),
                                    JARDINS, phone_of(3), product] for product in products])
    assert finished(processes) == [0] * 8
    seconds = time.monotonic() - started
    assert rate_limited(real_rate) == 0
    fields = base.fields(customer_id)
    assert [p for p in products if p not in items(fields["interests_all"])] == []
    recent = items(fields["interests"])
    assert len(recent) == 5 and set(recent) <= set(products)  # the five most recent are theirs
    # they took turns: one read, one write, one read-back each, and no write was repeated
    assert real_rate.count(kind="update") == 8 and real_rate.count(kind="get") == 16
    assert seconds < 60
