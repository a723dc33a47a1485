"""The command line never destroys the file it reads: outputs, read-only files, corrupt files, backups."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from services.__main__ import main
from services.audit import AuditLog
from services.outputs import OutputRefused, check_output, write_output
from services.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[1]
NO_SECRETS = str(ROOT / "tests" / "no-such-secrets.toml")
STORE = "Vitrine Jardins"
NOW = ("--now", "2026-06-01T12:00:00Z")
CUSTOMERS = 40


@pytest.fixture(autouse=True)
def no_airtable(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("AIRTABLE_") or k == "VITRINE_DB"]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("VITRINE_SECRETS", NO_SECRETS)


def make_db(path: Path, customers: int = CUSTOMERS) -> Path:
    store = SqliteStore(path)
    store.set_meta("source", "local")
    store.add_store(STORE)
    store.insert_raw([
        {"id": f"rec{i:05d}", "store": STORE, "phone": f"+55119{87650000 + i:08d}", "name": f"Cliente {i}",
         "interests": ["Submariner", "Daytona"], "interests_all": ["Datejust", "Submariner", "Daytona"],
         "created_at": "2025-01-10T10:00:00Z", "last_interaction": "2026-01-10T10:00:00Z"}
        for i in range(customers)
    ])
    return path


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return make_db(tmp_path / "vitrine.db")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out, err)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("erro: "), result.stderr
    return lines[0]


def customers_in(path: Path) -> int:
    with sqlite3.connect(path) as con:
        return con.execute("SELECT count(*) FROM customers").fetchone()[0]


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


# --- 1. an export never overwrites the database ------------------------------------------------


def test_segment_output_over_its_own_database_is_refused_and_the_database_survives(db: Path) -> None:
    assert cli("--db", str(db), "segment", "--store", STORE, *NOW).returncode == 0  # one audit entry
    before = db.read_bytes()
    message = one_line_error(cli("--db", str(db), "segment", "--store", STORE, "--output", str(db),
                                 "--format", "csv", *NOW))
    assert "lê" in message and "nada foi gravado" in message
    assert db.read_bytes()[:16] == b"SQLite format 3\x00"
    assert customers_in(db) == CUSTOMERS
    assert len(AuditLog(db).entries()) == 1
    assert db.read_bytes() == before


def test_the_refusal_holds_end_to_end(db: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services", "--db", str(db), "segment", "--store", STORE, "--output",
         str(db), "--format", "csv"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8", "VITRINE_SECRETS": NO_SECRETS},
    )
    one_line_error(result)
    assert customers_in(db) == CUSTOMERS


@pytest.mark.parametrize("name", ["vitrine.db-wal", "vitrine.db-shm", "link.csv", "hard.csv", "other.db"])
def test_no_output_lands_on_the_database_its_companions_a_link_or_another_database(
    db: Path, name: str
) -> None:
    target = db.parent / name
    if name == "link.csv":
        target.symlink_to(db)
    elif name == "hard.csv":
        os.link(db, target)
    elif name == "other.db":
        make_db(target, customers=3)
    before = db.read_bytes()
    one_line_error(cli("--db", str(db), "segment", "--store", STORE, "--output", str(target),
                       "--format", "csv", *NOW))
    assert db.read_bytes() == before and customers_in(db) == CUSTOMERS
    if name == "other.db":
        assert customers_in(target) == 3
    assert AuditLog(db).entries().empty
    assert not leftovers(db.parent)


def test_an_export_replaces_an_older_list_whole_and_leaves_no_temporary_file(db: Path) -> None:
    listing = db.parent / "lista.csv"
    listing.write_text("old list\n", encoding="utf-8")
    result = cli("--db", str(db), "segment", "--store", STORE, "--output", str(listing), *NOW)
    assert result.returncode == 0, result.stderr
    assert listing.read_bytes().startswith(b"\xef\xbb\xbf") and "old list" not in listing.read_text("utf-8")
    assert not leftovers(db.parent)


def test_an_export_through_a_link_writes_the_file_it_points_to(db: Path, tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert cli("--db", str(db), "segment", "--store", STORE, "--output", str(link), *NOW).returncode == 0
    assert link.is_symlink() and json.loads(real.read_text("utf-8"))["rows"] is not None


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "lista.csv"
    target.write_text("old", encoding="utf-8")

    class Boom(Exception):
        pass

    from services.outputs import replacing

    with pytest.raises(Boom), replacing(target) as temporary:
        temporary.write_text("half", encoding="utf-8")
        raise Boom
    assert target.read_text("utf-8") == "old"
    assert not leftovers(tmp_path)


def test_check_output_refusals(tmp_path: Path, db: Path) -> None:
    with pytest.raises(OutputRefused, match="pasta"):
        check_output(tmp_path, reads=[db])
    with pytest.raises(OutputRefused, match="não existe"):
        check_output(tmp_path / "nowhere" / "x.csv", reads=[db])
    with pytest.raises(OutputRefused, match="SQLite"):
        write_output(db, b"x")  # any database, even one the command does not read
    assert write_output(tmp_path / "ok.csv", b"x", reads=[db]).read_bytes() == b"x"


def test_standard_output_appended_to_the_database_is_refused(db: Path) -> None:
    before = db.read_bytes()
    with open(db, "a", encoding="utf-8") as appended:
        code = main(["--db", str(db), "metrics", *NOW], appended, io.StringIO())
    assert code == 1
    assert db.read_bytes() == before


# --- 12. --db before or after the command -----------------------------------------------------


def test_db_is_accepted_after_the_command_and_wins_there(db: Path, tmp_path: Path) -> None:
    after = cli("segment", "--store", STORE, *NOW, "--db", str(db))
    assert after.returncode == 0, after.stderr
    before = cli("--db", str(db), "segment", "--store", STORE, *NOW)
    assert json.loads(after.stdout) == json.loads(before.stdout)
    missing = tmp_path / "missing.db"
    wins = cli("--db", str(missing), "metrics", "--db", str(db), *NOW)
    assert wins.returncode == 0 and json.loads(wins.stdout)["customers"] == CUSTOMERS
    assert "python -m services" in one_line_error(cli("--db", str(db), "metrics", "--db", str(missing)))
    assert not missing.exists()
