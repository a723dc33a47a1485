"""The export audit: append-only, in the local SQLite file, readable by admins."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.audit import CLI, AuditLog, ExportEntry, definition
from services.store.sqlite import SqliteStore

NOW = datetime(2025, 6, 1, 12, 30, tzinfo=UTC)


@dataclass(frozen=True)
class FakeSegment:
    terms: tuple[str, ...] = ("Submariner", "Patek")
    scope: str = "all"
    quiet_days: int = 7
    inactive_days: int | None = None
    stores: tuple[str, ...] = ("Vitrine Jardins",)


def entry(**changes: object) -> ExportEntry:
    values = dict(at=NOW, who="ana@vitrine.com.br", stores=("Vitrine Jardins",),
                  segment=FakeSegment(), rows=42, format="csv",
                  filename="de-volta-ao-estoque-2025-06-01.csv")
    values.update(changes)
    return ExportEntry(**values)  # type: ignore[arg-type]


def test_an_export_is_read_back_with_who_when_stores_segment_and_rows(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "vitrine.db")
    log.append(entry())
    row = log.entries().iloc[0]
    assert row["who"] == "ana@vitrine.com.br"
    assert row["at"] == NOW
    assert row["stores"] == ["Vitrine Jardins"]
    assert row["rows"] == 42
    assert row["format"] == "csv"
    assert row["channel"] == "dashboard"
    assert row["filename"] == "de-volta-ao-estoque-2025-06-01.csv"
    assert json.loads(row["segment"]) == {
        "terms": ["Submariner", "Patek"], "scope": "all", "quiet_days": 7,
        "inactive_days": None, "stores": ["Vitrine Jardins"],
    }


def test_newest_entry_comes_first(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "vitrine.db")
    log.append(entry(at=NOW, who="first"))
    log.append(entry(at=NOW + timedelta(minutes=5), who="second", channel=CLI, format="json"))
    assert log.entries()["who"].tolist() == ["second", "first"]
    assert log.entries(limit=1)["who"].tolist() == ["second"]


def test_naive_time_is_read_as_utc(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "vitrine.db")
    log.append(entry(at=datetime(2025, 6, 1, 12, 30)))
    assert log.entries().iloc[0]["at"] == NOW


def test_entries_can_be_filtered_by_store(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "vitrine.db")
    log.append(entry(stores=("Vitrine Jardins",), who="ana"))
    log.append(entry(stores=("Vitrine Leblon", "Vitrine Savassi"), who="bruno"))
    assert log.entries(stores=["Vitrine Savassi"])["who"].tolist() == ["bruno"]


@pytest.mark.parametrize("statement", [
    "UPDATE export_audit SET who = 'ninguem'",
    "DELETE FROM export_audit",
])
def test_the_log_refuses_changes_and_deletions(tmp_path: Path, statement: str) -> None:
    path = tmp_path / "vitrine.db"
    AuditLog(path).append(entry())
    db = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="só aceita inclusões"):
        db.execute(statement)
    db.close()
    assert AuditLog(path).entries()["who"].tolist() == ["ana@vitrine.com.br"]


def test_the_log_lives_in_the_customer_file_and_survives_a_demo_rebuild(tmp_path: Path) -> None:
    path = tmp_path / "vitrine.db"
    store = SqliteStore(path)
    AuditLog(store.path).append(entry())
    store.clear()
    SqliteStore(path)
    assert len(AuditLog(path).entries()) == 1
    with sqlite3.connect(path) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"customers", "export_audit"} <= tables


def test_definition_accepts_mappings_and_plain_values() -> None:
    assert definition({"terms": ("Rolex",), "since": NOW, "tags": frozenset({"x"})}) == {
        "terms": ["Rolex"], "since": NOW.isoformat(), "tags": ["x"],
    }
    with pytest.raises(TypeError):
        definition(["not", "a", "segment"])


def test_an_empty_log_reads_as_an_empty_table(tmp_path: Path) -> None:
    frame = AuditLog(tmp_path / "vitrine.db").entries()
    assert frame.empty
    assert list(frame.columns) == ["at", "who", "channel", "stores", "segment", "rows", "format",
                                   "filename"]


def test_a_recorded_segment_reads_in_words() -> None:
    from services.audit import describe

    assert describe({"campaign": "Reengajamento", "terms": [], "scope": "all", "quiet_days": 0,
                     "inactive_days": 60, "min_depth": 4, "max_depth": None}) == (
        "Reengajamento · sem termos (todos os clientes) · recentes e histórico · inativos há 60+ dias"
        " · 4+ interesses")
    assert describe('{"terms": ["Daytona"], "scope": "recent", "quiet_days": 7, "min_depth": 2,'
                    ' "max_depth": 9, "list": "deixados de fora"}') == (
        "Deixados de fora: Daytona · só interesses recentes · silêncio de 7 dias · 2 a 9 interesses")
