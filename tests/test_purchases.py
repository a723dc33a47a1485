"""Purchases from the till: every row checked with its line and reason, then all or nothing."""

from __future__ import annotations

import io
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from services import purchases
from services.__main__ import main
from services.importer import InvalidImport
from services.sheets import read_sheet
from services.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
JARDINS, LEBLON = "Vitrine Jardins", "Vitrine Leblon"
ANA, BIA = "+5511987650001", "+5521987650002"


@pytest.fixture(autouse=True)
def no_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AIRTABLE_API_KEY", "AIRTABLE_BASE_ID", "VITRINE_DB"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("VITRINE_SECRETS", str(ROOT / "tests" / "no-such-secrets.toml"))


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    store = SqliteStore(tmp_path / "vitrine.db")
    for name in (JARDINS, LEBLON):
        store.add_store(name)
    store.insert_raw([
        {"id": "recAna", "store": JARDINS, "phone": ANA, "name": "Ana", "interests": ["Submariner"],
         "interests_all": ["Submariner"], "last_interaction": "2026-02-01T10:00:00Z"},
        {"id": "recBia", "store": LEBLON, "phone": BIA, "name": "Bia", "interests": ["Daytona"],
         "interests_all": ["Daytona"], "last_interaction": "2026-02-01T10:00:00Z"},
    ])
    return store


GOOD = (
    "Telefone;Data;Produto;Valor;Loja\n"
    f"(11) 98765-0001;10/02/2026;Submariner;R$ 98.000,00;{JARDINS}\n"
    f"{BIA};2026-02-11T15:30:00Z;Daytona;145000.50;{LEBLON}\n"
).encode("cp1252")


def plan_of(store: SqliteStore, data: bytes, name: str = "caixa.csv", default_store: str | None = None):
    return purchases.check(read_sheet(name, data), store, store.stores(), NOW, default_store)


@pytest.mark.parametrize(("cell", "value"), [
    ("58900", 58900.0), ("58.900", 58900.0), ("58.900,00", 58900.0), ("R$ 58.900,50", 58900.5),
    ("1,234.50", 1234.5), ("589,5", 589.5), ("1.234.567", 1234567.0), (98000, 98000.0), (12.5, 12.5),
])
def test_values_are_read_as_people_write_reais(cell: object, value: float) -> None:
    assert purchases.parse_value(cell) == value


@pytest.mark.parametrize("cell", ["", "abc", "0", "-10", True])
def test_a_value_that_is_no_positive_amount_is_refused(cell: object) -> None:
    with pytest.raises(ValueError):
        purchases.parse_value(cell)


def test_a_date_without_time_is_noon_of_that_day() -> None:
    assert purchases.purchase_time("10/02/2026") == datetime(2026, 2, 10, 12, tzinfo=UTC)
    assert purchases.purchase_time(date(2026, 2, 10)) == datetime(2026, 2, 10, 12, tzinfo=UTC)
    assert purchases.purchase_time(datetime(2026, 2, 10)) == datetime(2026, 2, 10, 12, tzinfo=UTC)
    assert purchases.purchase_time("10/02/2026 14:30") == datetime(2026, 2, 10, 14, 30, tzinfo=UTC)


def test_good_rows_become_purchases_of_their_customers(store: SqliteStore) -> None:
    plan = plan_of(store, GOOD)
    assert plan.ok and plan.lines == (2, 3) and plan.revenue == 243000.5
    first, second = plan.events
    assert (first.customer_id, first.store) == ("recAna", JARDINS)
    assert (first.kind, first.source) == ("compra", "importacao")
    assert (first.products, first.value_brl, first.at) == (("Submariner",), 98000.0,
                                                           datetime(2026, 2, 10, 12, tzinfo=UTC))
    assert (second.customer_id, second.value_brl) == ("recBia", 145000.5)


def test_every_bad_row_is_listed_with_its_line_and_reason(store: SqliteStore) -> None:
    bad = GOOD + (
        f"{BIA};10/02/2026;Daytona;1000;{JARDINS}\n"      # a customer of another store
        f"{ANA};31/02/2026;Submariner;1000;{JARDINS}\n"   # no such day
        f"{ANA};10/02/2026;;1000;{JARDINS}\n"             # no product
        f"{ANA};10/02/2026;Submariner;mil;{JARDINS}\n"    # not an amount
        f"{ANA};10/03/2026;Submariner;1000;{JARDINS}\n"   # after now
        f"{ANA};10/02/2026;Submariner;1000;Loja Z\n"
    ).encode("cp1252")
    plan = plan_of(store, bad)
    reasons = {p.line: p.reason for p in plan.problems}
    assert sorted(reasons) == [4, 5, 6, 7, 8, 9]
    assert f"telefone {BIA} não é cliente da loja {JARDINS}" in reasons[4]
    assert "data" in reasons[5] and "sem produto" in reasons[6] and "valor inválido" in reasons[7]
    assert "data no futuro" in reasons[8] and "loja desconhecida" in reasons[9]
    assert not plan.ok
    with pytest.raises(InvalidImport):
        purchases.apply(store, plan)
    assert store.events.count() == 0


def test_a_file_without_a_store_column_takes_the_store_given(store: SqliteStore) -> None:
    data = b"phone,date,product,value\n11987650001,2026-02-10,Submariner,98000\n"
    assert "sem loja" in plan_of(store, data).problems[0].reason
    assert plan_of(store, data, default_store=JARDINS).events[0].customer_id == "recAna"
    with pytest.raises(InvalidImport, match="falta valor"):
        plan_of(store, b"phone,date,product\n11987650001,2026-02-10,Submariner\n")


def test_an_xlsx_from_the_till_reads_like_the_csv(store: SqliteStore, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["Celular", "Data da compra", "Item", "Total"])
    sheet.append(["+55 11 98765-0001", datetime(2026, 2, 10), "Submariner", 98000])
    buffer = io.BytesIO()
    book.save(buffer)
    plan = plan_of(store, buffer.getvalue(), "caixa.xlsx", default_store=JARDINS)
    assert plan.ok and plan.events[0].at == datetime(2026, 2, 10, 12, tzinfo=UTC)


def call(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--db", str(db), *args], out, err)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def test_the_command_is_a_dry_run_until_apply_and_a_second_import_adds_nothing(store: SqliteStore,
                                                                               tmp_path: Path) -> None:
    file = tmp_path / "caixa.csv"
    file.write_bytes(GOOD)
    now = ("--now", NOW.isoformat())
    dry = call(store.path, "purchases", "import", str(file), *now)
    assert dry.returncode == 0 and "Simulação: 2 compra(s) nova(s), R$ 243.000,50" in dry.stdout
    assert store.events.count() == 0
    done = call(store.path, "purchases", "import", str(file), "--apply", *now)
    assert done.returncode == 0 and "2 compra(s)" in done.stdout
    assert [(e.kind, e.source, e.value_brl) for e in store.events.for_customer("recAna")] == [
        ("compra", "importacao", 98000.0)]
    again = call(store.path, "purchases", "import", str(file), "--apply", *now)
    assert again.returncode == 1 and "2 compra(s) já na linha do tempo" in again.stdout
    assert "nenhuma compra nova" in again.stderr
    assert store.events.count() == 2


def test_one_bad_row_and_the_command_writes_nothing(store: SqliteStore, tmp_path: Path) -> None:
    file = tmp_path / "caixa.csv"
    file.write_bytes(GOOD + f"{ANA};10/02/2026;;1000;{JARDINS}\n".encode())
    result = call(store.path, "purchases", "import", str(file), "--apply", "--now", NOW.isoformat())
    assert result.returncode == 1 and "linha 4: sem produto" in result.stdout
    assert "nada foi importado" in result.stderr and store.events.count() == 0
