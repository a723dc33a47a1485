"""The command line names its scope (``--store`` or ``--all-stores``) and audits every export."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from openpyxl import load_workbook

from services.__main__ import main
from services.audit import AuditLog
from services.store.sqlite import SqliteStore
from tests.test_access_scoping import B_TRACES, A, B, raw_customers

ROOT = Path(__file__).resolve().parents[1]
NOW = ("--now", "2025-06-15T12:00:00Z")
EVERYONE = ("--quiet-days", "0")


@pytest.fixture(autouse=True)
def no_airtable(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("AIRTABLE_") or k == "VITRINE_DB"]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("VITRINE_SECRETS", str(ROOT / "tests" / "no-such-secrets.toml"))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "vitrine.db"
    store = SqliteStore(path)
    store.set_meta("source", "test")
    for name in (A, B):
        store.add_store(name)
    raw = raw_customers()
    store.insert_raw([{k: v for k, v in row.items() if v is not None} for row in raw.to_dict("records")])
    return path


def cli(db: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--db", str(db), *args], out, err)
    return code, out.getvalue(), err.getvalue()


def stores_of(output: str) -> set[str]:
    return {row["store"] for row in json.loads(output)["rows"]}


def test_segment_without_a_scope_is_a_usage_error(db: Path) -> None:
    code, out, err = cli(db, "segment", "--term", "Rolex", *NOW)
    assert code == 2
    assert "--store" in err and "--all-stores" in err
    assert not out
    assert AuditLog(db).entries().empty


def test_store_and_all_stores_cannot_be_combined(db: Path) -> None:
    code, _, err = cli(db, "segment", "--store", A, "--all-stores", *NOW)
    assert code == 2 and "--all-stores" in err


def test_a_store_lists_only_its_customers(db: Path) -> None:
    code, out, _ = cli(db, "segment", "--store", A, *EVERYONE, *NOW)
    assert code == 0
    assert stores_of(out) == {A}
    assert not [trace for trace in B_TRACES if trace in out]


def test_a_b_product_searched_from_store_a_finds_nobody(db: Path) -> None:
    code, out, _ = cli(db, "segment", "--store", A, "--term", "Nautilus", *EVERYONE, *NOW)
    assert code == 0 and json.loads(out)["rows"] == []


def test_repeated_store_and_all_stores_widen_the_scope_explicitly(db: Path) -> None:
    assert stores_of(cli(db, "segment", "--store", A, "--store", B, *EVERYONE, *NOW)[1]) == {A, B}
    assert stores_of(cli(db, "segment", "--all-stores", *EVERYONE, *NOW)[1]) == {A, B}


def test_an_unknown_store_is_refused_and_not_audited(db: Path) -> None:
    code, out, err = cli(db, "segment", "--store", "Vitrine Fechada", *NOW)
    assert code == 1 and "Vitrine Fechada" in err and not out
    assert AuditLog(db).entries().empty


def test_every_cli_export_is_audited(db: Path, tmp_path: Path) -> None:
    csv_file, xlsx_file = tmp_path / "lista.csv", tmp_path / "lista.xlsx"
    assert cli(db, "segment", "--store", A, "--term", "Submariner", *EVERYONE, *NOW)[0] == 0
    assert cli(db, "segment", "--store", A, "--preset", "estoque", "--term", "Rolex", *EVERYONE, *NOW,
               "--output", str(csv_file))[0] == 0
    assert cli(db, "segment", "--all-stores", *EVERYONE, *NOW, "--output", str(xlsx_file))[0] == 0

    entries = AuditLog(db).entries()
    assert entries["format"].tolist() == ["xlsx", "csv", "json"]
    assert set(entries["channel"]) == {"cli"}
    assert all(who.startswith("cli") for who in entries["who"])
    assert entries["stores"].tolist() == [[A, B], [A], [A]]
    assert entries["filename"].tolist() == [str(xlsx_file), str(csv_file), "(saída padrão)"]
    xlsx, csv_entry, json_entry = (json.loads(text) for text in entries["segment"])
    assert json_entry["terms"] == ["Submariner"] and json_entry["stores"] == [A]
    assert csv_entry["terms"] == ["Rolex"] and csv_entry["quiet_days"] == 0
    assert xlsx["terms"] == [] and xlsx["stores"] == [A, B]

    csv_rows = list(csv.reader(io.StringIO(csv_file.read_text("utf-8-sig"))))[1:]
    xlsx_rows = list(load_workbook(xlsx_file).active.iter_rows(min_row=2))
    assert entries["rows"].tolist() == [len(xlsx_rows), len(csv_rows), entries["rows"].iloc[2]]
    assert entries["rows"].iloc[2] == len(json.loads(cli(db, "segment", "--store", A, "--term",
                                                         "Submariner", *EVERYONE, *NOW)[1])["rows"])


def test_an_export_that_could_not_be_written_is_not_audited(db: Path) -> None:
    code, _, _ = cli(db, "segment", "--store", A, *NOW, "--output", "/nonexistent/dir/x.csv")
    assert code == 1
    assert AuditLog(db).entries().empty


def test_metrics_accept_an_explicit_all_stores(db: Path) -> None:
    code, out, _ = cli(db, "metrics", "--all-stores", *NOW)
    assert code == 0
    assert set(json.loads(out)["stores"]) == {A, B}
    code, out, _ = cli(db, "metrics", "--store", A, *NOW)
    assert set(json.loads(out)["stores"]) == {A}
    assert not [trace for trace in B_TRACES if trace in out]
