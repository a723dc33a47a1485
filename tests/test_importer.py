"""Importing a Customers export (SPEC §8): every row checked first, then all or nothing, nothing lost."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from openpyxl import Workbook

from services import importer
from services.importer import InvalidImport, check, merge
from services.interests import Customer
from services.sheets import UnreadableSheet, read_sheet
from services.store.base import StoreError
from services.store.sqlite import SqliteStore

JARDINS, LEBLON = "Vitrine Jardins", "Vitrine Leblon"
STORES = [JARDINS, LEBLON]
AT = datetime(2026, 3, 1, 12, tzinfo=UTC)

# Airtable's own CSV export: multiple select comma-separated, long text with line breaks,
# a linked tenant by name, a ticked checkbox as "checked", dates as the field shows them.
AIRTABLE_CSV = (
    "phone,name,tenant_id,interests,interests_all,created_at,last_interaction,opt_out,Notes\n"
    '+55 11 98765-4321,Ana Souza,Vitrine Jardins,"Submariner,GMT-Master II",'
    '"Datejust,Submariner,GMT-Master II",2025-06-02T14:00:00.000Z,1/5/2026 10:00am,,vip\n'
    '(21) 99876-5432,Bruno Lima,Vitrine Leblon,"Datejust 36, aço e ouro\nNautilus 5711",'
    '"Datejust 36, aço e ouro\nNautilus 5711",02/06/2025,05/01/2026 15:30,checked,\n'
)


def sheet_of(text: str, name: str = "clientes.csv", encoding: str = "utf-8"):
    return read_sheet(name, text.encode(encoding))


def test_airtable_csv_export_is_read_field_by_field() -> None:
    plan = check(sheet_of(AIRTABLE_CSV), STORES)
    assert plan.ok and plan.lines == (2, 3) and plan.ignored == ("Notes",)
    ana, bruno = plan.customers
    assert (ana.store, ana.phone, ana.name) == (JARDINS, "+5511987654321", "Ana Souza")
    assert ana.interests == ["Submariner", "GMT-Master II"]
    assert ana.interests_all == ["Datejust", "Submariner", "GMT-Master II"]
    assert ana.created_at == datetime(2025, 6, 2, 14, tzinfo=UTC)
    assert ana.last_interaction == datetime(2026, 1, 5, 10, tzinfo=UTC)  # Airtable's m/d/yyyy h:mmam
    assert ana.opt_out is False
    # A long-text cell with line breaks: one product per line, commas and all.
    assert bruno.interests == ["Datejust 36, aço e ouro", "Nautilus 5711"]
    assert bruno.created_at == datetime(2025, 6, 2, tzinfo=UTC)  # dd/mm/aaaa
    assert bruno.last_interaction == datetime(2026, 1, 5, 15, 30, tzinfo=UTC)
    assert bruno.opt_out is True


def test_headers_match_without_case_accents_or_punctuation_and_store_comes_from_the_option() -> None:
    text = ("TELEFONE;Nome;Última Interação;Interesses;Opt-Out\n"
            "11 98765-4321;Ana;2026-01-05;Submariner, Daytona;não\n")
    plan = check(sheet_of(text, encoding="cp1252"), STORES, default_store="vitrine jardins")
    assert plan.ok and plan.columns == {"phone": "TELEFONE", "name": "Nome", "last_interaction":
                                        "Última Interação", "interests": "Interesses", "opt_out": "Opt-Out"}
    (ana,) = plan.customers
    assert ana.store == JARDINS and ana.interests == ["Submariner", "Daytona"]
    assert ana.interests_all == ["Submariner", "Daytona"]  # the legacy repair: recent is history too


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_kept_from_it() -> None:
    text = (
        "phone,loja,last_interaction,opt_out\n"
        "11 98765-4321,Vitrine Jardins,2026-01-05,\n"     # 2: fine
        "abc,Vitrine Jardins,2026-01-05,\n"               # 3: bad phone
        "11 98765-0002,Loja Z,2026-01-05,\n"              # 4: unknown store
        '11 98765-0003,Vitrine Jardins,"31/02/2026",\n'   # 5: no such day
        "11 98765-0004,Vitrine Jardins,01/01/1800,\n"     # 6: outside 1900–2200
        "11 8765-4321,Vitrine Jardins,,\n"                # 7: line 2 again, without the ninth digit
        "11 98765-0006,,,\n"                              # 8: no store
        "11 98765-0007,Vitrine Leblon,,talvez\n"          # 9: unreadable opt-out
        ",,,\n"                                           # 10: blank, skipped
        "11 98765-4321,Vitrine Leblon,,\n"                # 11: same phone, another store: fine
    )
    plan = check(sheet_of(text), STORES)
    assert not plan.ok
    reasons = {problem.line: problem.reason for problem in plan.problems}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9]
    assert "telefone inválido" in reasons[3]
    assert "loja desconhecida: 'Loja Z'" in reasons[4] and JARDINS in reasons[4]
    assert "last_interaction" in reasons[5] and "data inválida" in reasons[5]
    assert "1900–2200" in reasons[6]
    assert "repetido" in reasons[7] and "linha 2" in reasons[7]
    assert "sem loja" in reasons[8]
    assert "opt_out" in reasons[9]
    assert plan.lines == (2, 11)


def test_line_numbers_count_the_lines_of_a_multi_line_cell() -> None:
    text = 'phone,tenant_id,interests\n11 98765-4321,Vitrine Jardins,"A\nB\nC"\nxyz,Vitrine Jardins,D\n'
    plan = check(sheet_of(text), STORES)
    assert [p.line for p in plan.problems] == [5]


@pytest.mark.parametrize("header, message", [
    ("name,tenant_id", "telefone"),
    ("phone,Telefone,tenant_id", "duas colunas"),
])
def test_a_file_without_one_phone_column_is_refused_whole(header: str, message: str) -> None:
    with pytest.raises(InvalidImport, match=message):
        check(sheet_of(header + "\nx,y,z\n"), STORES)


def test_an_unknown_store_option_is_refused_whole() -> None:
    with pytest.raises(InvalidImport, match="store add"):
        check(sheet_of("phone\n11987654321\n"), STORES, default_store="Loja Z")


def test_xlsx_cells_keep_their_types() -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["Phone", "Name", "Store", "Interests", "Last interaction", "Opt out"])
    sheet.append([5511987654321, "Ana", JARDINS, "Submariner, Daytona", datetime(2026, 1, 5, 10), True])
    sheet.append([None, None, None, None, None, None])
    sheet.append(["21 99876-5432", "Bruno", LEBLON, None, datetime(1850, 1, 1), False])
    data = io.BytesIO()
    book.save(data)
    plan = check(read_sheet("clientes.xlsx", data.getvalue()), STORES)
    assert [p.line for p in plan.problems] == [4] and "1900–2200" in plan.problems[0].reason
    (ana,) = plan.customers
    assert ana.phone == "+5511987654321" and ana.opt_out is True
    assert ana.last_interaction == datetime(2026, 1, 5, 10, tzinfo=UTC)


@pytest.mark.parametrize("data, message", [
    (b"SQLite format 3\x00" + b"\x00" * 100, "base SQLite"),
    (b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "XLS"),
    (b"PK\x03\x04 not really a zip", "XLSX"),
    (b"", "vazio"),
    (b"phone\x00name\n", "texto"),
    (b'phone,name\n"unclosed,x\n' + b"y" * 200_000, "CSV"),
])
def test_files_that_are_no_table_are_refused_in_one_line(data: bytes, message: str) -> None:
    with pytest.raises(UnreadableSheet, match=message):
        read_sheet("arquivo", data)


# --- merging: nothing lost ---------------------------------------------------------------------------


def customer(recent, history, last, **extra) -> Customer:
    return Customer("recHeld", JARDINS, "+5511987654321", interests=list(recent), interests_all=list(history),
                    last_interaction=last, **extra)


def test_merge_unites_histories_and_puts_the_newer_interests_in_front() -> None:
    held = customer(["Aquanaut", "Calatrava"], ["Submariner", "Aquanaut", "Calatrava"],
                    datetime(2026, 1, 1, tzinfo=UTC), name="Ana", created_at=datetime(2025, 6, 1, tzinfo=UTC))
    newer = customer(["Daytona", "Aquanaut"], ["Daytona", "Aquanaut", "Serpenti"],
                     datetime(2026, 2, 1, tzinfo=UTC), name="Outra", opt_out=True,
                     created_at=datetime(2025, 1, 1, tzinfo=UTC))
    merged = merge(held, newer)
    assert merged.id == "recHeld" and merged.name == "Ana" and merged.opt_out is True
    assert merged.interests_all == ["Submariner", "Aquanaut", "Calatrava", "Daytona", "Serpenti"]
    assert merged.interests == ["Calatrava", "Daytona", "Aquanaut"]
    assert merged.created_at == datetime(2025, 1, 1, tzinfo=UTC)
    assert merged.last_interaction == datetime(2026, 2, 1, tzinfo=UTC)
    older = merge(held, customer(["Daytona"], ["Daytona"], datetime(2025, 12, 1, tzinfo=UTC)))
    assert older.interests == ["Daytona", "Aquanaut", "Calatrava"]
    assert older.last_interaction == datetime(2026, 1, 1, tzinfo=UTC)
    assert merge(held, held) == held


# --- writing: one transaction ------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path) -> SqliteStore:
    store = SqliteStore(tmp_path / "vitrine.db")
    for name in STORES:
        store.add_store(name)
    store.insert_raw([{
        "id": "recHeld", "store": JARDINS, "phone": "+5511987654321", "name": "Ana Held",
        "interests": "Aquanaut, Calatrava", "interests_all": "Submariner, Aquanaut, Calatrava",
        "created_at": "2025-01-01T00:00:00Z", "last_interaction": "2025-12-01T00:00:00Z",
    }])
    return store


def test_dry_run_counts_new_and_merged_and_writes_nothing(store: SqliteStore) -> None:
    key = store.data_key()
    report = importer.dry_run(store, check(sheet_of(AIRTABLE_CSV), STORES))
    assert not report.applied and (report.new, report.merged) == (1, 1)
    assert [(c.store, c.new, c.merged) for c in report.counts] == [(JARDINS, 0, 1), (LEBLON, 1, 0)]
    assert store.data_key() == key
    assert importer.counts_frame(report).to_dict("records")[0] == {"store": JARDINS, "new": 0, "merged": 1}


def test_apply_writes_new_customers_and_merges_the_one_held(store: SqliteStore) -> None:
    report = importer.apply(store, check(sheet_of(AIRTABLE_CSV), STORES), AT)
    assert report.applied and (report.new, report.merged) == (1, 1)
    ana = store.find(JARDINS, "11 98765-4321")
    assert ana.name == "Ana Held"
    assert ana.interests_all == ["Submariner", "Aquanaut", "Calatrava", "Datejust", "GMT-Master II"]
    assert ana.interests == ["Aquanaut", "Calatrava", "Submariner", "GMT-Master II"]
    assert ana.created_at == datetime(2025, 1, 1, tzinfo=UTC)
    bruno = store.find(LEBLON, "21 99876-5432")
    assert bruno.interests_all == ["Datejust 36, aço e ouro", "Nautilus 5711"] and bruno.opt_out
    assert store.get_meta("source") == "local"
    assert len(store.raw_customers(STORES)) == 2
    # What the merge added is dated (SPEC §11, source importacao); a new customer's history is not.
    events = {(e.kind, e.products, e.source, e.at) for e in store.events.for_customer("recHeld")}
    moment = datetime(2026, 1, 5, 10, tzinfo=UTC)
    assert events == {("interesse", ("Datejust", "GMT-Master II"), "importacao", moment),
                      ("retorno", ("Submariner",), "importacao", moment)}
    assert store.events.count() == 2 and store.events.since() == AT
    again = importer.apply(store, check(sheet_of(AIRTABLE_CSV), STORES), AT)
    assert (again.new, again.merged) == (0, 2)
    assert store.find(JARDINS, "11 98765-4321") == ana  # importing twice changes nothing
    assert store.find(LEBLON, "21 99876-5432") == bruno


def test_apply_refuses_a_plan_with_problems_or_a_mirror(store: SqliteStore) -> None:
    key = store.data_key()
    bad = check(sheet_of("phone,tenant_id\n11987654321,Vitrine Jardins\nabc,Vitrine Jardins\n"), STORES)
    with pytest.raises(InvalidImport, match="nada foi importado"):
        importer.apply(store, bad, AT)
    store.set_meta("source", "airtable")
    key = store.data_key()
    with pytest.raises(StoreError, match="Airtable"):
        importer.apply(store, check(sheet_of(AIRTABLE_CSV), STORES), AT)
    assert store.data_key() == key


def test_a_demo_file_stays_a_demo(store: SqliteStore) -> None:
    store.set_meta("source", "demo")
    importer.apply(store, check(sheet_of(AIRTABLE_CSV), STORES), AT)
    assert store.get_meta("source") == "demo"


def test_report_lines_list_the_bad_rows_or_the_counts(store: SqliteStore) -> None:
    bad = check(sheet_of("phone,tenant_id\nabc,Vitrine Jardins\n"), STORES)
    lines = importer.report_lines(importer.dry_run(store, bad))
    assert lines[0] == "clientes.csv: 1 linha(s) de cliente, 1 com problema"
    assert lines[1].startswith("linha 2: telefone inválido")
    assert importer.problems_frame(bad).to_dict("records") == [{"line": 2, "reason": bad.problems[0].reason}]
    good = importer.report_lines(importer.dry_run(store, check(sheet_of(AIRTABLE_CSV), STORES)))
    assert "Vitrine Jardins: 0 novo(s), 1 já na base (mesclado(s))" in good
    assert good[-1].startswith("Simulação") and "--apply" in good[-1]


def test_preview_checks_an_upload_and_refusal_names_what_cannot_take_an_import(store: SqliteStore) -> None:
    from services.store.readonly import ReadOnlyStore

    report = importer.preview(store, "clientes.csv", AIRTABLE_CSV.encode("utf-8-sig"))
    assert not report.applied and (report.new, report.merged) == (1, 1)
    with pytest.raises(ValueError, match="base SQLite"):
        importer.preview(store, "vitrine.db", store.path.read_bytes())
    assert importer.refusal(store) is None
    assert "somente leitura" in importer.refusal(ReadOnlyStore(store.path))
    store.set_meta("source", "airtable")
    assert "Airtable" in importer.refusal(store)
