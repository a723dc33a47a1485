"""Real data without Airtable on the command line: ``store add|list`` and ``import`` (SPEC §8)."""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.__main__ import main
from services.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[1]
NO_SECRETS = str(ROOT / "tests" / "no-such-secrets.toml")
JARDINS, LEBLON = "Vitrine Jardins", "Vitrine Leblon"
AIRTABLE_CSV = (
    "Phone,Name,tenant_id,interests,interests_all,created_at,last_interaction,opt_out\n"
    '+55 11 98765-4321,Ana Souza,Vitrine Jardins,"Submariner,GMT-Master II",'
    '"Datejust,Submariner,GMT-Master II",2025-06-02T14:00:00.000Z,1/5/2026 10:00am,\n'
    '(21) 99876-5432,Bruno Lima,Vitrine Leblon,Nautilus 5711,,02/06/2025,05/01/2026 15:30,checked\n'
)


@pytest.fixture(autouse=True)
def no_airtable(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("AIRTABLE_") or k == "VITRINE_DB"]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("VITRINE_SECRETS", NO_SECRETS)


def cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--db", str(db), *args], out, err)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("erro: "), result.stderr
    return lines[0]


def customers_in(path: Path) -> int:
    with sqlite3.connect(path) as con:
        return con.execute("SELECT count(*) FROM customers").fetchone()[0]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "real" / "vitrine.db"
    ok(cli(path, "store", "add", JARDINS))
    ok(cli(path, "store", "add", LEBLON))
    return path


def test_store_add_creates_an_empty_local_file_and_store_list_prints_json(tmp_path: Path) -> None:
    path = tmp_path / "new" / "vitrine.db"
    assert "criada" in ok(cli(path, "store", "add", "  Vitrine   Jardins "))
    store = SqliteStore(path)
    assert store.stores() == [JARDINS] and store.is_empty() and store.get_meta("source") == "local"
    assert json.loads(ok(cli(path, "store", "list"))) == {"stores": [JARDINS]}
    assert "já existe" in ok(cli(path, "store", "add", JARDINS))
    assert "'Vitrine Jardins'" in one_line_error(cli(path, "store", "add", "vitrine JARDINS"))
    ok(cli(path, "store", "add", LEBLON))
    assert json.loads(ok(cli(path, "store", "list"))) == {"stores": [JARDINS, LEBLON]}
    # The file now opens for every command, and holds no invented customer.
    assert json.loads(ok(cli(path, "metrics", "--now", "2026-01-01T00:00:00Z")))["customers"] == 0


def test_store_list_of_a_missing_file_says_how_to_create_it(tmp_path: Path) -> None:
    assert "store add" in one_line_error(cli(tmp_path / "none.db", "store", "list"))
    assert not (tmp_path / "none.db").exists()


def test_store_add_keeps_the_demo_a_demo_and_refuses_a_mirror(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror.db"
    SqliteStore(mirror).set_meta("source", "airtable")
    assert "Airtable" in one_line_error(cli(mirror, "store", "add", JARDINS))
    assert SqliteStore(mirror).stores() == []


def test_import_is_a_dry_run_by_default(db: Path, tmp_path: Path) -> None:
    export = tmp_path / "Customers-Grid view.csv"
    export.write_text(AIRTABLE_CSV, encoding="utf-8-sig")
    printed = ok(cli(db, "import", str(export)))
    assert "Vitrine Jardins: 1 novo(s), 0 já na base" in printed and "Simulação" in printed
    assert customers_in(db) == 0


def test_import_apply_writes_and_a_second_import_merges(db: Path, tmp_path: Path) -> None:
    export = tmp_path / "clientes.csv"
    export.write_text(AIRTABLE_CSV, encoding="utf-8")
    assert "Importado" in ok(cli(db, "import", str(export), "--apply"))
    assert customers_in(db) == 2
    ok(cli(db, "record", "--store", JARDINS, "--phone", "11987654321", "--at", "2026-02-01T10:00:00Z",
           "Daytona"))
    again = ok(cli(db, "import", str(export), "--apply"))
    assert "0 novo(s), 2 mesclado(s)" in again
    ana = json.loads(ok(cli(db, "customer", "--store", JARDINS, "--phone", "+55 11 98765-4321")))
    assert ana["interests_all"] == ["Datejust", "Submariner", "GMT-Master II", "Daytona"]  # nothing lost
    assert ana["interests"][-1] == "Daytona" and ana["last_interaction"] == "2026-02-01T10:00:00Z"
    assert SqliteStore(db).get_meta("source") == "local"


def test_import_with_bad_rows_lists_each_and_writes_nothing(db: Path, tmp_path: Path) -> None:
    export = tmp_path / "clientes.csv"
    export.write_text(AIRTABLE_CSV + "abc,Sem Telefone,Vitrine Jardins,,,,,\n"
                      "11 99999-0000,Loja,Loja Z,,,,,\n", encoding="utf-8")
    result = cli(db, "import", str(export), "--apply")
    message = one_line_error(result)
    assert "2 linha(s) com problema" in message and "nada foi importado" in message
    assert "linha 4: telefone inválido: 'abc'" in result.stdout
    assert "linha 5: loja desconhecida: 'Loja Z'" in result.stdout
    assert customers_in(db) == 0


def test_import_refuses_the_database_itself_a_missing_file_and_airtable(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "base SQLite" in one_line_error(cli(db, "import", str(db), "--apply"))
    assert customers_in(db) == 0
    export = tmp_path / "clientes.csv"
    export.write_text(AIRTABLE_CSV, encoding="utf-8")
    assert "store add" in one_line_error(cli(tmp_path / "none.db", "import", str(export)))
    assert not (tmp_path / "none.db").exists()
    assert "store add" in one_line_error(cli(db, "import", str(export), "--store", "Loja Z"))
    monkeypatch.setenv("AIRTABLE_API_KEY", "patAAAAAAAAAAAAAA.0123456789abcdef")
    monkeypatch.setenv("AIRTABLE_BASE_ID", "appAAAAAAAAAAAAAA")
    assert "Airtable" in one_line_error(cli(db, "import", str(export), "--apply"))
    assert customers_in(db) == 0


# --- kill -9 in the middle of an import: all the rows or none -------------------------------------

ROWS = 2000
HELD = 50


def _export(path: Path) -> Path:
    lines = ["phone,name,tenant_id,interests,interests_all,last_interaction"]
    lines += [f"+55 21 9{80000000 + i:08d},Cliente {i},{LEBLON},\"Produto {i % 40}, Serpenti\","
              f"\"Datejust, Produto {i % 40}, Serpenti\",2026-01-{1 + i % 28:02d}T10:00:00Z"
              for i in range(ROWS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _template(path: Path) -> Path:
    store = SqliteStore(path)
    for name in (JARDINS, LEBLON):
        store.add_store(name)
    store.insert_raw([{"id": f"rec{i:04d}", "store": JARDINS, "phone": f"+55119{87650000 + i:08d}",
                       "interests": ["Submariner"], "interests_all": ["Submariner"]} for i in range(HELD)])
    return path


def _state(path: Path) -> tuple[list[str], int, int]:
    with sqlite3.connect(path) as con:
        check = [row[0] for row in con.execute("PRAGMA integrity_check")]
        held = con.execute("SELECT count(*) FROM customers WHERE store = ?", (JARDINS,)).fetchone()[0]
        imported = con.execute("SELECT count(*) FROM customers WHERE store = ?", (LEBLON,)).fetchone()[0]
    return check, held, imported


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:  # not yet created, or already removed by the last connection
        return 0


def _start(db: Path, export: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "services", "--db", str(db), "import", str(export), "--apply"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "VITRINE_SECRETS": NO_SECRETS},
    )


def test_an_import_killed_at_any_moment_leaves_all_rows_or_none(tmp_path: Path) -> None:
    export, template = _export(tmp_path / "clientes.csv"), _template(tmp_path / "template.db")
    started = time.monotonic()
    whole = tmp_path / "whole.db"
    shutil.copy(template, whole)
    assert _start(whole, export).wait(60) == 0
    duration = time.monotonic() - started
    assert _state(whole) == (["ok"], HELD, ROWS)

    chance = random.Random(20260301)
    killed = 0
    for run in range(20):
        db = tmp_path / f"run{run}.db"
        shutil.copy(template, db)
        wal = Path(f"{db}-wal")
        process = _start(db, export)
        if run % 2:
            # Kill as the transaction reaches the file: its pages are going into the WAL.
            while process.poll() is None and not _size(wal):
                try:
                    process.wait(timeout=0.001)
                except subprocess.TimeoutExpired:
                    pass
        else:
            try:
                process.wait(timeout=chance.uniform(0.1, 1.0) * duration)
            except subprocess.TimeoutExpired:
                pass
        process.kill()
        code = process.wait(30)
        killed += code == -9
        check, held, imported = _state(db)
        assert check == ["ok"], (run, check)
        assert held == HELD, run
        assert imported in (0, ROWS), (run, imported)
    assert killed >= 8  # most runs were cut short (a slow machine lets a few finish)
