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
    before = dump(db)
    message = one_line_error(cli("--db", str(db), "segment", "--store", STORE, "--output", str(db),
                                 "--format", "csv", *NOW))
    assert "lê" in message and "nada foi gravado" in message
    assert db.read_bytes()[:16] == b"SQLite format 3\x00"
    assert customers_in(db) == CUSTOMERS
    assert len(AuditLog(db).entries()) == 1
    # Compared as content: a later connection may checkpoint the WAL into the file's pages.
    assert dump(db) == before


def dump(path: Path) -> list[str]:
    """Every table's rows and the schema, as SQL text."""
    connection = sqlite3.connect(path)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


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


# --- 9. bad JSONL lines, a byte-order mark, read-only and corrupt files ---------------------------

EVENT = {"store": STORE, "phone": "+55 11 98765-4321", "products": ["Submariner"],
         "at": "2026-01-05T10:00:00Z"}


def test_a_jsonl_line_nested_too_deep_is_a_one_line_error_for_that_line(db: Path, tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps(EVENT) + "\n" + "[" * 100_000 + "\n", encoding="utf-8")
    result = cli("--db", str(db), "record", "--jsonl", str(log))
    message = one_line_error(result)
    assert "linha 2" in message and "aninhamento" in message and "1 evento" in message
    assert len(result.stdout.splitlines()) == 1


def test_a_jsonl_file_with_a_byte_order_mark_is_read(db: Path, tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps(EVENT) + "\n", encoding="utf-8-sig")
    result = cli("--db", str(db), "record", "--jsonl", str(log))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["interests"] == ["Submariner"]


def test_a_jsonl_line_that_is_not_utf8_names_its_line(db: Path, tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    log.write_bytes(json.dumps(EVENT).encode() + b'\n{"store": "Jardins \xe7"}\n')
    message = one_line_error(cli("--db", str(db), "record", "--jsonl", str(log)))
    assert "linha 2" in message and "UTF-8" in message


def _obey_permissions() -> None:
    """Run the child without root's override of file permissions (a no-op for other users)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def as_user(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services", "--db", str(db), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8", "VITRINE_SECRETS": NO_SECRETS},
        preexec_fn=_obey_permissions if os.geteuid() == 0 else None,
    )


@pytest.fixture(params=["file", "folder"])
def read_only_db(request: pytest.FixtureRequest, tmp_path: Path):
    folder = tmp_path / "ro"
    folder.mkdir()
    path = make_db(folder / "vitrine.db")
    assert sorted(p.name for p in folder.iterdir()) == ["vitrine.db"]  # closed cleanly: no -wal/-shm
    if os.geteuid() == 0:
        try:
            subprocess.run([sys.executable, "-c", "pass"], preexec_fn=_obey_permissions, check=True)
        except (OSError, subprocess.SubprocessError):
            pytest.skip("root without CAP_SETPCAP: cannot make a file read-only for this process")
    path.chmod(0o444)
    if request.param == "folder":
        folder.chmod(0o555)
    yield path
    folder.chmod(0o755)
    path.chmod(0o644)


def test_a_read_only_database_still_serves_the_read_commands(read_only_db: Path) -> None:
    before = read_only_db.read_bytes()
    found = as_user(read_only_db, "customer", "--store", STORE, "--phone", "+55 11 98765-0003")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["name"] == "Cliente 3"
    report = as_user(read_only_db, "metrics", *NOW)
    assert report.returncode == 0 and json.loads(report.stdout)["customers"] == CUSTOMERS
    listing = as_user(read_only_db, "segment", "--store", STORE, "--quiet-days", "0", *NOW)
    assert listing.returncode == 0, listing.stderr
    assert len(json.loads(listing.stdout)["rows"]) == CUSTOMERS
    warning = listing.stderr.strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith("aviso:")
    assert "NÃO foi registrada na auditoria" in warning[0] and "somente leitura" in warning[0]
    assert read_only_db.read_bytes() == before


def test_a_read_only_database_refuses_a_record_in_one_line(read_only_db: Path) -> None:
    before = read_only_db.read_bytes()
    refused = as_user(read_only_db, "record", "--store", STORE, "--phone", "+55 11 98765-0003",
                      "--at", "2026-01-05T10:00:00Z", "Daytona")
    assert "somente leitura" in one_line_error(refused)
    assert read_only_db.read_bytes() == before


def corrupt(path: Path) -> None:
    """Break the header of a page in the middle of the customers table."""
    data = bytearray(path.read_bytes())
    page = len(data) // 4096 // 2
    data[(page - 1) * 4096:(page - 1) * 4096 + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))


def test_record_refuses_to_write_into_a_corrupt_database(tmp_path: Path) -> None:
    db = make_db(tmp_path / "vitrine.db", customers=2000)
    corrupt(db)
    before = db.read_bytes()
    message = one_line_error(cli("--db", str(db), "record", "--store", STORE, "--phone", "+55 11 98765-0003",
                                 "--at", "2026-01-05T10:00:00Z", "Daytona"))
    assert f"a base {db} está corrompida" in message and "nada foi gravado" in message
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps(EVENT) + "\n", encoding="utf-8")
    assert "corrompida" in one_line_error(cli("--db", str(db), "record", "--jsonl", str(log)))
    assert db.read_bytes() == before


# --- 13. backup: a consistent copy while others write ------------------------------------------


def integrity(path: Path) -> list[str]:
    with sqlite3.connect(path) as con:
        return [row[0] for row in con.execute("PRAGMA integrity_check")]


def test_backup_while_another_thread_writes_gives_a_sound_copy(tmp_path: Path) -> None:
    import threading
    from datetime import UTC, datetime

    db = make_db(tmp_path / "vitrine.db", customers=3000)
    store = SqliteStore(db)
    started, stop = threading.Event(), threading.Event()
    written: list[int] = []

    def writer() -> None:
        n = 0
        while not stop.is_set():
            store.record(STORE, f"+5521{987000000 + n:09d}", [f"Produto {n}"],
                         datetime(2026, 1, 5, tzinfo=UTC))
            n += 1
            written.append(n)
            if n == 5:
                started.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert started.wait(30)
        before = len(written)
        copies = [tmp_path / f"copia{i}.db" for i in range(5)]
        for copy in copies:
            result = cli("--db", str(db), "backup", str(copy))
            assert result.returncode == 0, result.stderr
            assert f"em {copy}" in result.stdout
        during = len(written) - before
    finally:
        stop.set()
        thread.join()
    assert during > 0  # the copies were taken while the writer was writing
    for copy in copies:
        assert integrity(copy) == ["ok"]
        assert CUSTOMERS <= 3000 <= customers_in(copy) <= 3000 + len(written)
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(copy.name)) == [copy.name]
    assert customers_in(copies[-1]) >= 3000 + before


def test_backup_holds_what_is_still_in_the_write_ahead_log(db: Path, tmp_path: Path) -> None:
    keeper = sqlite3.connect(db)  # an open connection: the WAL is not folded into the file
    with keeper:
        keeper.execute("UPDATE customers SET name = 'Nome Novo' WHERE id = 'rec00001'")
    try:
        assert Path(f"{db}-wal").stat().st_size > 0
        copy = tmp_path / "copia.db"
        assert cli("--db", str(db), "backup", str(copy)).returncode == 0
    finally:
        keeper.close()
    with sqlite3.connect(copy) as con:
        assert con.execute("SELECT name FROM customers WHERE id = 'rec00001'").fetchone() == ("Nome Novo",)


def test_backup_never_writes_over_the_source_and_asks_before_replacing(db: Path, tmp_path: Path) -> None:
    before = db.read_bytes()
    for target in (db, Path(f"{db}-wal"), db.parent / "." / db.name):
        assert "própria base" in one_line_error(cli("--db", str(db), "backup", str(target)))
    link = tmp_path / "link.db"
    link.symlink_to(db)
    one_line_error(cli("--db", str(db), "backup", str(link), "--force"))
    assert db.read_bytes() == before

    old = tmp_path / "old.db"
    make_db(old, customers=3)
    assert "--force" in one_line_error(cli("--db", str(db), "backup", str(old)))
    assert customers_in(old) == 3
    assert cli("--db", str(db), "backup", str(old), "--force").returncode == 0
    assert customers_in(old) == CUSTOMERS and integrity(old) == ["ok"]
    assert not leftovers(tmp_path)


def test_backup_of_a_missing_database_is_a_one_line_error(tmp_path: Path) -> None:
    message = one_line_error(cli("--db", str(tmp_path / "nada.db"), "backup", str(tmp_path / "copia.db")))
    assert "não existe" in message
    assert not (tmp_path / "copia.db").exists() and not (tmp_path / "nada.db").exists()
