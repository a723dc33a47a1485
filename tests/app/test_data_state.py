"""A data change from another process while the dashboard runs (AppTest): the next run shows it,
and nothing of the old data stays in memory beside the new."""

from __future__ import annotations

import gc
from pathlib import Path

from apptest_support import JARDINS, KNOWN_PHONE, NOW, open_app

from services.frame import CustomerData
from services.recording import record_interest
from services.store.sqlite import SqliteStore

NEW_PHONE = "+5511955501234"


def customers_shown(at) -> int:
    caption = next(c.value for c in at.sidebar.caption if c.value.endswith(" clientes"))
    return int(caption.split()[0].replace(".", ""))


def frames_in_memory() -> list[int]:
    """The size of every customer frame still alive in the process (built, cached or held)."""
    gc.collect()
    return sorted(len(o.customers) for o in gc.get_objects() if isinstance(o, CustomerData))


def note_from_another_process(db: Path) -> None:
    """What the CLI or a sync does: another repository on the same file records an interest."""
    other = SqliteStore(db)
    record_interest(other, other.stores(), JARDINS, NEW_PHONE, ["Daytona"], NOW, name="Beatriz Nova")


def test_a_write_from_another_process_shows_on_the_next_run_and_the_old_frame_is_gone(db: Path) -> None:
    at = open_app("metricas")
    assert not at.exception
    before = customers_shown(at)
    assert frames_in_memory() == [before]

    note_from_another_process(db)
    at.run()
    assert not at.exception
    assert customers_shown(at) == before + 1
    # One frame: the old one and everything cached from it went before the new one was read.
    assert frames_in_memory() == [before + 1]

    at.switch_page("../pages/clientes.py").run()
    at.text_input(key="clientes_query").input("Beatriz Nova").run()
    assert not at.exception
    assert at.subheader[0].value == "Beatriz Nova"


def test_a_run_that_began_before_the_write_finishes_on_its_own_data(db: Path, monkeypatch) -> None:
    from dashboard import state

    def no_rebuild(*args, **kwargs):
        raise AssertionError("the old version's frame was read again")

    at = open_app("clientes")
    before = customers_shown(at)
    real = state.SearchIndex.of
    writes = []

    def index_then_a_newer_run(data):
        # Mid-run: another process writes and another session's run adopts the new version.
        if not writes:
            writes.append(note_from_another_process(db))
            state._live(str(db)).advance(str(db), SqliteStore(db))
        return real(data)

    monkeypatch.setattr(state.SearchIndex, "of", index_then_a_newer_run)
    monkeypatch.setattr(state, "build", no_rebuild)
    at.text_input(key="clientes_query").input(KNOWN_PHONE).run()
    assert not at.exception
    assert customers_shown(at) == before  # this run drew its sidebar on the data it began with
    assert at.subheader[0].value == "Helena Vasconcelos"

    at.run()
    assert not at.exception
    assert customers_shown(at) == before + 1
    assert frames_in_memory() == [before + 1]
