"""The command line end to end: ``python -m services`` on a temporary database."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services import config
from services.__main__ import main
from tests.airtable_helpers import STORES, TOKEN, make_base, phone_of
from tests.fake_airtable import FakeAirtable

ROOT = Path(__file__).resolve().parents[1]
STORE = "Vitrine Jardins"
PHONE = "(11) 9 8765-4321"

# SPEC §3 worked example: (event, at, batch, interests after, interests_all after).
WEEK_1 = ["Submariner", "GMT-Master II", "Datejust"]
WEEK_2 = ["Anel Diamante", "Cartier Love"]
MONTH_2 = ["Nautilus 5711", "Aquanaut", "Calatrava"]
MONTH_3 = ["Grand Complications", "Twenty-4", "Golden Ellipse"]
WORKED_EXAMPLE = [
    ("Week 1", "2026-01-05T10:00:00Z", WEEK_1, WEEK_1, WEEK_1),
    ("Week 2", "2026-01-12T15:30:00Z", WEEK_2, WEEK_1 + WEEK_2, WEEK_1 + WEEK_2),
    ("Month 2", "2026-02-16T11:00:00Z", MONTH_2,
     ["Anel Diamante", "Cartier Love", *MONTH_2], WEEK_1 + WEEK_2 + MONTH_2),
    ("Month 3", "2026-03-16T17:45:00Z", MONTH_3,
     ["Aquanaut", "Calatrava", *MONTH_3], WEEK_1 + WEEK_2 + MONTH_2 + MONTH_3),
    ("later", "2026-05-04T09:15:00Z", ["Submariner"],
     ["Calatrava", *MONTH_3, "Submariner"], WEEK_1 + WEEK_2 + MONTH_2 + MONTH_3),
]


NO_SECRETS = str(ROOT / "tests" / "no-such-secrets.toml")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without a developer's database or Airtable base (no secrets file either)."""
    env = {k: v for k, v in os.environ.items() if k != "VITRINE_DB" and not k.startswith("AIRTABLE_")}
    return {**env, "PYTHONIOENCODING": "utf-8", "VITRINE_SECRETS": NO_SECRETS, **extra}


@pytest.fixture(autouse=True)
def demo_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process calls see the same clean environment as the subprocesses."""
    for key in [k for k in os.environ if k.startswith("AIRTABLE_") or k == "VITRINE_DB"]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("VITRINE_SECRETS", NO_SECRETS)


def run(db: Path, *args: str, stdin: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services", "--db", str(db), *args],
        cwd=ROOT, capture_output=True, text=True, input=stdin, timeout=120,
        env=env or clean_env(),
    )


def call(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The same command in this process (fast), for the many cases of bad input."""
    out, err = io.StringIO(), io.StringIO()
    code = main(["--db", str(db), *args], out, err)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("erro: ")
    return lines[0]


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("cli") / "vitrine.db"
    out = ok(run(db, "demo", "--customers", "300", "--seed", "7", "--now", "2026-01-01T00:00:00Z"))
    assert out.count("\n") == 1 and "300 clientes" in out
    return db


@pytest.fixture
def db(demo_db, tmp_path) -> Path:
    """A fresh copy of the small demo for each test."""
    copy = tmp_path / "vitrine.db"
    copy.write_bytes(demo_db.read_bytes())
    return copy


def customer(db: Path, phone: str = PHONE, store: str = STORE) -> dict:
    return json.loads(ok(run(db, "customer", "--store", store, "--phone", phone)))


def test_record_reproduces_the_worked_example_row_by_row(db):
    for event, at, batch, interests, interests_all in WORKED_EXAMPLE:
        out = ok(run(db, "record", "--store", STORE, "--phone", PHONE, "--name", "Ana Souza",
                     "--at", at, *batch))
        saved = json.loads(out)
        assert saved["interests"] == interests, event
        assert saved["interests_all"] == interests_all, event
        assert saved["last_interaction"] == at, event
        assert saved["created_at"] == "2026-01-05T10:00:00Z", event
    assert len(saved["interests_all"]) == 11
    assert saved["phone"] == "+5511987654321"
    assert saved["store"] == STORE and saved["name"] == "Ana Souza"


def test_record_keeps_what_the_assistant_sends_in_the_catalogs_spelling(db):
    result = call(db, "record", "--store", STORE, "--phone", PHONE, "--at", "2026-01-05T10:00:00Z",
                  "daytona", "Relógio Inventado 3000")
    assert result.returncode == 0, result.stderr
    saved = json.loads(result.stdout)
    assert saved["interests"] == ["Daytona", "Relógio Inventado 3000"]


def test_customer_is_found_with_or_without_the_ninth_digit(db):
    ok(run(db, "record", "--store", STORE, "--phone", PHONE, "--at", "2026-01-05T10:00:00Z", *WEEK_1))
    typed = customer(db, "(11) 9 8765-4321")
    without_ninth = customer(db, "+55 11 8765-4321")
    assert typed == without_ninth
    assert list(typed) == ["store", "phone", "name", "interests", "interests_all",
                           "created_at", "last_interaction", "timeline"]
    assert typed["interests"] == WEEK_1


def test_record_jsonl_replays_a_conversation_log(db, tmp_path):
    log = tmp_path / "log.jsonl"
    lines = [
        {"store": STORE, "phone": PHONE, "name": "Ana", "products": batch, "at": at}
        for _event, at, batch, _i, _a in WORKED_EXAMPLE
    ]
    lines.insert(2, {"store": "Vitrine Leblon", "phone": "+55 21 99876-5432",
                     "products": ["Serpenti"], "at": "2026-01-20T12:00:00Z"})
    log.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n\n",
                   encoding="utf-8")
    printed = [json.loads(line) for line in ok(run(db, "record", "--jsonl", str(log))).splitlines()]
    assert len(printed) == 6
    assert printed[2]["store"] == "Vitrine Leblon" and printed[2]["interests"] == ["Serpenti"]
    assert printed[-1]["interests"] == WORKED_EXAMPLE[-1][3]
    assert customer(db)["interests_all"] == WORKED_EXAMPLE[-1][4]


def test_record_jsonl_from_stdin(db):
    event = {"store": STORE, "phone": PHONE, "products": ["Daytona"], "at": "2026-02-01T10:00:00Z"}
    out = ok(run(db, "record", "--jsonl", "-", stdin=json.dumps(event) + "\n"))
    assert json.loads(out)["interests"] == ["Daytona"]


def test_record_jsonl_stops_at_a_bad_line_and_keeps_what_came_before(db, tmp_path):
    log = tmp_path / "log.jsonl"
    good = {"store": STORE, "phone": PHONE, "products": WEEK_1, "at": "2026-01-05T10:00:00Z"}
    after = {"store": STORE, "phone": PHONE, "products": ["Daytona"], "at": "2026-01-09T10:00:00Z"}
    log.write_text(f"{json.dumps(good)}\n{{not json\n{json.dumps(after)}\n", encoding="utf-8")
    result = run(db, "record", "--jsonl", str(log))
    message = one_line_error(result)
    assert result.returncode == 1
    assert "linha 2" in message and "1 evento" in message
    assert len(result.stdout.splitlines()) == 1
    assert customer(db)["interests"] == WEEK_1  # line 1 saved, line 3 not applied


@pytest.mark.parametrize("bad_event, reason", [
    ({"store": STORE, "phone": PHONE, "products": [], "at": "2026-01-05T10:00:00Z"}, "produto"),
    ({"store": STORE, "phone": "n/d", "products": ["A"], "at": "2026-01-05T10:00:00Z"}, "Telefone"),
    ({"store": "Loja Z", "phone": PHONE, "products": ["A"], "at": "2026-01-05T10:00:00Z"}, "Loja"),
    ({"store": STORE, "phone": PHONE, "products": ["A"], "at": "ontem"}, "data"),
    ({"store": STORE, "phone": PHONE, "products": "A"}, "products"),
    ({"store": STORE, "phone": PHONE, "products": ["A"]}, "at"),
    (["not", "an", "object"], "objeto"),
])
def test_record_jsonl_names_the_bad_line(db, tmp_path, bad_event, reason):
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps(bad_event) + "\n", encoding="utf-8")
    message = one_line_error(call(db, "record", "--jsonl", str(log)))
    assert "linha 1" in message and reason in message


def test_metrics_for_all_stores_and_for_one(db):
    now = ("--now", "2026-01-01T00:00:00Z")
    report = json.loads(ok(run(db, "metrics", *now)))
    assert report["customers"] == 300
    assert sorted(report["stores"]) == ["Vitrine Jardins", "Vitrine Leblon", "Vitrine Savassi"]
    assert sum(s["customers"] for s in report["stores"].values()) == 300
    assert report["coverage"] == round(report["covered"] / report["customers"], 4)
    assert 0.8 < report["coverage"] < 0.95 and report["met"]["coverage"] is True
    assert set(report["targets"]) == {"coverage", "recency", "depth"}
    assert report["recency_median_days"] <= report["recency_days"]

    leblon = json.loads(ok(run(db, "metrics", "--store", "Vitrine Leblon", *now)))
    assert list(leblon["stores"]) == ["Vitrine Leblon"]
    assert leblon["customers"] == report["stores"]["Vitrine Leblon"]["customers"]
    assert leblon["coverage"] == report["stores"]["Vitrine Leblon"]["coverage"]


def test_metrics_count_a_newly_recorded_customer(db):
    now = ("--now", "2026-01-01T00:00:00Z")
    before = json.loads(call(db, "metrics", "--store", STORE, *now).stdout)
    ok(call(db, "record", "--store", STORE, "--phone", PHONE, "--at", "2025-12-31T00:00:00Z", *WEEK_1))
    after = json.loads(call(db, "metrics", "--store", STORE, *now).stdout)
    assert after["customers"] == before["customers"] + 1
    assert after["covered"] == before["covered"] + 1


SEGMENT_NOW = ("--now", "2026-06-01T12:00:00Z")
SPEC_COLUMNS = ["tier", "name", "phone", "store", "matched", "brands", "last_interaction",
                "days_since", "depth", "message"]


@pytest.fixture
def journey_db(db) -> Path:
    """The small demo plus the SPEC §3 customer after the whole worked example."""
    for _event, at, batch, _i, _a in WORKED_EXAMPLE:
        ok(call(db, "record", "--store", STORE, "--phone", PHONE, "--name", "Ana Souza", "--at", at, *batch))
    return db


def segment(db: Path, *args: str, runner=call) -> dict:
    return json.loads(ok(runner(db, "segment", "--store", STORE, *SEGMENT_NOW, *args)))


def row_of(listing: dict, phone: str = "+5511987654321") -> dict | None:
    return next((row for row in listing["rows"] if row["phone"] == phone), None)


def test_segment_json_has_the_spec_columns_and_the_left_out_counts(journey_db):
    listing = segment(journey_db, "--term", "Submariner", runner=run)
    assert listing["rows"]
    assert all(list(row) == SPEC_COLUMNS for row in listing["rows"])
    assert set(listing["excluded"]) == {"opted_out", "invalid_phone", "recently_active", "duplicate_phone"}
    everyone = segment(journey_db)
    assert everyone["excluded"]["opted_out"] > 0
    assert {row["store"] for row in listing["rows"]} == {STORE}
    tiers = [row["tier"] for row in listing["rows"]]
    assert tiers == sorted(tiers, key=["primary", "secondary"].index)
    ana = row_of(listing)
    assert ana["tier"] == "primary" and ana["matched"] == ["Submariner"]
    assert ana["name"] == "Ana Souza" and ana["depth"] == 11
    assert ana["last_interaction"] == "2026-05-04" and ana["days_since"] == 28
    assert ana["message"] == "O Submariner que você procurou está disponível! Quer agendar visita?"


def test_segment_tiers_follow_recent_and_history(journey_db):
    # Anel Diamante left `interests` in Month 3: secondary with scope all, absent with scope recent.
    assert row_of(segment(journey_db, "--term", "Anel Diamante"))["tier"] == "secondary"
    assert row_of(segment(journey_db, "--term", "Anel Diamante", "--scope", "recent")) is None
    assert row_of(segment(journey_db, "--term", "Patek", "--scope", "recent"))["matched"] == [
        "Golden Ellipse", "Twenty-4", "Grand Complications", "Calatrava"]


def test_segment_quiet_window_and_filters(journey_db):
    day_after = ("--now", "2026-05-05T12:00:00Z")
    quiet = json.loads(ok(call(journey_db, "segment", "--store", STORE, *day_after, "--term", "Submariner")))
    assert row_of(quiet) is None and quiet["excluded"]["recently_active"] >= 1
    loud = json.loads(ok(call(journey_db, "segment", "--store", STORE, *day_after, "--term", "Submariner",
                              "--quiet-days", "0")))
    assert row_of(loud)["tier"] == "primary"
    assert row_of(segment(journey_db, "--term", "Submariner", "--max-depth", "10")) is None
    assert row_of(segment(journey_db, "--term", "Submariner", "--inactive-days", "30")) is None


def test_segment_presets_give_their_messages(journey_db):
    stock = segment(journey_db, "--preset", "estoque", "--term", "Anel Diamante")
    assert row_of(stock)["message"] == "Lembra do Anel Diamante? Temos novidades. Ainda tem interesse?"
    brand = segment(journey_db, "--preset", "marca", "--term", "Cartier", "--inactive-days", "0")
    assert row_of(brand)["message"] == "Novos modelos Cartier chegaram. Gostaria de conhecer?"
    again = segment(journey_db, "--preset", "reengajamento", "--inactive-days", "20")
    assert row_of(again)["message"].startswith(
        "Vi que você se interessou por Patek Philippe, Rolex e Cartier")


def test_segment_csv_and_xlsx_files(journey_db, tmp_path):
    csv_file, xlsx_file = tmp_path / "lista.csv", tmp_path / "lista.xlsx"
    result = run(journey_db, "segment", "--store", STORE, *SEGMENT_NOW, "--term", "Submariner",
                 "--output", str(csv_file))
    assert "cliente(s)" in ok(result) and str(csv_file) in result.stdout
    data = csv_file.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert "+5511987654321" in data.decode("utf-8")
    ok(call(journey_db, "segment", "--store", STORE, *SEGMENT_NOW, "--term", "rolex", "--output",
            str(xlsx_file)))
    assert xlsx_file.read_bytes()[:2] == b"PK"
    printed = ok(call(journey_db, "segment", "--store", STORE, *SEGMENT_NOW, "--term", "Submariner",
                      "--format", "csv"))
    assert printed.startswith("\ufeff") and "+5511987654321" in printed


def test_unknown_store_lists_the_stores(db):
    message = one_line_error(run(db, "customer", "--store", "Loja Z", "--phone", PHONE))
    assert "Loja Z" in message
    assert "Vitrine Jardins, Vitrine Leblon, Vitrine Savassi" in message


@pytest.mark.parametrize("args, code", [
    ((), 2),
    (("bogus",), 2),
    (("record", "--phone", PHONE, "Submariner"), 2),
    (("record", "--store", STORE, "--phone", PHONE), 2),
    (("record", "--jsonl", "x.jsonl", "Submariner"), 2),
    (("customer", "--store", STORE), 2),
    (("demo", "--customers", "abc"), 2),
    (("demo", "--customers", "0"), 2),
    (("record", "--store", "Loja Z", "--phone", PHONE, "Submariner"), 1),
    (("record", "--store", STORE, "--phone", "123", "Submariner"), 1),
    (("record", "--store", STORE, "--phone", PHONE, "--at", "31/02/2025", "Submariner"), 1),
    (("record", "--store", STORE, "--phone", PHONE, " ", ","), 1),
    (("record", "--jsonl", "/nonexistent/log.jsonl"), 1),
    (("customer", "--store", STORE, "--phone", "n/d"), 1),
    (("customer", "--store", STORE, "--phone", "+55 31 99999-0000"), 1),
    (("demo", "--now", "ontem"), 1),
    (("metrics", "--store", "Loja Z"), 1),
    (("segment", "--term", "Rolex"), 2),
    (("segment", "--store", STORE, "--scope", "everything"), 2),
    (("segment", "--store", STORE, "--quiet-days", "-1"), 2),
    (("segment", "--store", STORE, "--preset", "novidade"), 2),
    (("segment", "--store", STORE, "--preset", "nope", "--term", "Rolex"), 2),
    (("segment", "--store", STORE, "--format", "xlsx"), 2),
    (("segment", "--store", STORE, "--min-depth", "5", "--max-depth", "2"), 1),
    (("segment", "--store", "Loja Z", "--term", "Rolex"), 1),
    (("segment", "--store", STORE, "--now", "ontem"), 1),
    (("segment", "--store", STORE, "--output", "/nonexistent/dir/x.csv"), 1),
    (("metrics", "--now", "31/02/2025"), 1),
])
def test_bad_arguments_give_one_line_and_an_exit_code(db, args, code):
    result = call(db, *args)
    one_line_error(result)
    assert result.returncode == code


@pytest.mark.parametrize("args, code", [
    (("bogus",), 2),
    (("record", "--store", STORE, "--phone", PHONE), 2),
    (("record", "--store", STORE, "--phone", "123", "Submariner"), 1),
    (("record", "--store", STORE, "--phone", PHONE, "--at", "ontem", "Submariner"), 1),
])
def test_bad_arguments_end_to_end_never_show_a_traceback(db, args, code):
    result = run(db, *args)
    one_line_error(result)
    assert result.returncode == code
    assert result.stdout == ""


def test_a_file_that_is_not_a_database_is_a_one_line_error(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 50)
    message = one_line_error(run(junk, "customer", "--store", STORE, "--phone", PHONE))
    assert str(junk) in message


def test_a_mistyped_database_is_never_filled_with_invented_customers(tmp_path):
    db = tmp_path / "new" / "vitrine.db"
    result = run(db, "record", "--store", STORE, "--phone", PHONE, "--at", "2026-01-05T10:00:00Z",
                 *WEEK_1)
    assert result.returncode == 1 and result.stdout == ""
    assert "python -m services demo" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not db.exists()
    for command in (("customer", "--store", STORE, "--phone", PHONE), ("metrics",),
                    ("segment", "--all-stores", "--term", "Rolex")):
        refused = run(db, *command)
        assert refused.returncode == 1 and "python -m services demo" in refused.stderr
    assert not db.exists()


def test_demo_with_the_same_seed_prints_the_same_summary(tmp_path):
    args = ("demo", "--customers", "200", "--seed", "3", "--now", "2026-01-01T00:00:00Z")
    first = ok(run(tmp_path / "a.db", *args))
    again = ok(run(tmp_path / "a.db", *args))
    assert first == again
    assert first.startswith("Demo: 200 clientes em 3 lojas")


def test_vitrine_db_environment_picks_the_file(tmp_path):
    db = tmp_path / "env.db"
    result = subprocess.run(
        [sys.executable, "-m", "services", "demo", "--customers", "100"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env=clean_env(VITRINE_DB=str(db)),
    )
    ok(result)
    assert db.exists()


# --- Data source: the SQLite file, or the Airtable base when configured -----------------


def test_airtable_settings_come_from_the_environment_first_then_the_secrets():
    secrets = {"AIRTABLE_API_KEY": "patFROMSECRETS", "AIRTABLE_BASE_ID": "appSECRETS",
               "customers_table": "Clientes"}
    settings = config.airtable_settings(secrets, environ={"AIRTABLE_BASE_ID": "appENV"})
    assert settings.base_id == "appENV" and settings.api_key == "patFROMSECRETS"
    assert settings.customers_table == "Clientes" and settings.tenants_table == "Tenants"
    assert settings.endpoint_url == "https://api.airtable.com"
    assert config.airtable_settings({"AIRTABLE_API_KEY": "pat"}, environ={}) is None
    assert config.airtable_settings(None, environ={"AIRTABLE_BASE_ID": "app"}) is None


def test_the_token_never_shows_in_the_settings_repr():
    settings = config.airtable_settings({}, environ={"AIRTABLE_API_KEY": "patSECRET123",
                                                     "AIRTABLE_BASE_ID": "app1"})
    for text in (repr(settings), str(settings), f"{settings}", repr([settings])):
        assert "patSECRET123" not in text and "app1" in text


def test_the_secrets_file_and_the_database_path(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[airtable]\nAIRTABLE_API_KEY = "patX"\nAIRTABLE_BASE_ID = "appX"\n'
                       'products_table = "Produtos"\n', encoding="utf-8")
    section = config.read_secrets_file(secrets)
    assert config.airtable_settings(section, environ={}).products_table == "Produtos"
    assert config.read_secrets_file(tmp_path / "absent.toml") is None
    (tmp_path / "bad.toml").write_text("[airtable\n", encoding="utf-8")
    assert config.read_secrets_file(tmp_path / "bad.toml") is None
    assert config.secrets_file({"VITRINE_SECRETS": str(secrets)}) == secrets
    assert config.db_path({}) == ROOT / "data" / "vitrine.db"
    assert config.db_path({"VITRINE_DB": str(tmp_path / "x.db")}) == tmp_path / "x.db"


def test_with_airtable_the_cli_syncs_reads_the_mirror_and_writes_through_the_base(tmp_path):
    with FakeAirtable(tokens=[TOKEN], rate_limit_per_sec=None, block_seconds=0.2, seed=3) as fake:
        base = make_base(fake, customers=12)
        env = clean_env(AIRTABLE_API_KEY=TOKEN, AIRTABLE_BASE_ID=base.base_id,
                        AIRTABLE_ENDPOINT_URL=fake.url)
        db = tmp_path / "mirror.db"
        store, phone = STORES[1], phone_of(1)

        message = one_line_error(run(db, "customer", "--store", store, "--phone", phone, env=env))
        assert "sync" in message

        synced = run(db, "sync", env=env)
        assert synced.returncode == 0, synced.stderr
        found = json.loads(ok(run(db, "customer", "--store", store, "--phone", phone, env=env)))
        assert found["phone"] == phone and found["interests_all"]

        saved = json.loads(ok(run(db, "record", "--store", store, "--phone", phone,
                                  "--at", "2026-01-05T10:00:00Z", "Daytona", env=env)))
        assert saved["interests"][-1] == "Daytona"
        in_base = [r["fields"] for r in fake.records(base.base_id, "Customers")
                   if "Daytona" in (r["fields"].get("interests_all") or [])]
        assert len(in_base) == 1 and in_base[0]["interests"][-1] == "Daytona"

        refused = run(db, "demo", "--customers", "50", env=env)
        assert "Airtable" in one_line_error(refused)
        for result in (synced, refused):
            assert TOKEN not in result.stdout + result.stderr


def test_backfill_dry_run_counts_without_writing(tmp_path):
    with FakeAirtable(tokens=[TOKEN], rate_limit_per_sec=None, block_seconds=0.2, seed=4) as fake:
        base = make_base(fake, customers=0)
        base.add_customers(1, recent=["Submariner", "Daytona"], history=["Submariner"])
        env = clean_env(AIRTABLE_API_KEY=TOKEN, AIRTABLE_BASE_ID=base.base_id,
                        AIRTABLE_ENDPOINT_URL=fake.url)
        before = fake.records(base.base_id, "Customers")
        result = run(tmp_path / "mirror.db", "backfill", env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() and TOKEN not in result.stdout + result.stderr
        assert fake.records(base.base_id, "Customers") == before


@pytest.mark.parametrize("command", ["sync", "backfill"])
def test_airtable_commands_without_a_base_are_a_one_line_error(db, command):
    assert "Airtable" in one_line_error(call(db, command))


def test_customer_prints_a_legacy_record_with_its_repaired_history(tmp_path):
    from services.store.sqlite import SqliteStore

    db = tmp_path / "legacy.db"
    store = SqliteStore(db)
    store.add_store(STORE)
    store.insert_raw([{
        "id": "recLegacy", "store": STORE, "phone": "+5511987654321", "name": "Legada",
        "interests": "Daytona, Submariner", "interests_all": "Datejust",
        "created_at": "2025-01-01T00:00:00Z", "last_interaction": "2026-01-01T00:00:00Z",
    }])
    printed = json.loads(ok(call(db, "customer", "--store", STORE, "--phone", PHONE)))
    assert printed["interests"] == ["Daytona", "Submariner"]
    assert printed["interests_all"] == ["Datejust", "Daytona", "Submariner"]


def test_customer_prints_its_timeline_newest_first_and_metrics_twelve_weeks(tmp_path):
    db = tmp_path / "t.db"
    ok(call(db, "demo", "--customers", "200", "--now", "2026-03-01T12:00:00Z"))
    ok(call(db, "record", "--store", STORE, "--phone", PHONE, "--at", "2026-02-01T10:00:00Z", *WEEK_1))
    ok(call(db, "record", "--store", STORE, "--phone", PHONE, "--at", "2026-02-02T10:00:00Z", "Datejust"))
    visit = json.loads(ok(call(db, "visit", "--store", STORE, "--phone", PHONE,
                               "--at", "2026-02-03T10:00:00Z")))
    assert visit == {"at": "2026-02-03T10:00:00Z", "source": "loja", "kind": "visita", "products": [],
                     "value_brl": None}
    ok(call(db, "purchase", "--store", STORE, "--phone", PHONE, "--product", "Datejust", "--value", "74300",
            "--at", "2026-02-03T11:00:00Z"))
    printed = json.loads(ok(call(db, "customer", "--store", STORE, "--phone", PHONE)))
    assert [(e["kind"], e["source"], e["products"], e["value_brl"]) for e in printed["timeline"]] == [
        ("compra", "loja", ["Datejust"], 74300.0),
        ("visita", "loja", [], None),
        ("retorno", "whatsapp", ["Datejust"], None),
        ("interesse", "whatsapp", WEEK_1, None),
    ]
    assert [e["at"] for e in printed["timeline"]][-1] == "2026-02-01T10:00:00Z"
    report = json.loads(ok(call(db, "metrics", "--now", "2026-03-01T12:00:00Z")))
    assert len(report["weekly"]) == 12
    assert set(report["weekly"][0]) == {"week_end", "coverage", "recency_days", "depth"}
    assert report["weekly"][-1]["week_end"] == "2026-03-01T12:00:00Z"
    assert report["weekly"][-1]["coverage"] == report["coverage"]
    assert all(len(section["weekly"]) == 12 for section in report["stores"].values())


@pytest.mark.parametrize("value", ["0", "-5", "abc"])
def test_a_purchase_without_a_positive_value_is_refused_in_one_line(db, value: str):
    result = call(db, "purchase", "--store", STORE, "--phone", PHONE, "--product", "Daytona",
                  "--value", value)
    assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1


def test_parallel_first_use_of_a_new_file_invents_nothing_and_says_how_to_create_it(tmp_path):
    db = tmp_path / "novo.db"
    processes = [
        subprocess.Popen([sys.executable, "-m", "services", "--db", str(db), "record", "--store", STORE,
                          "--phone", f"(11) 9 8765-43{i:02d}", "--at", "2026-01-05T10:00:00Z", "Daytona"],
                         cwd=ROOT, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(10)
    ]
    results = [(p.wait(120), p.stderr.read()) for p in processes]
    assert all(code == 1 and "python -m services demo" in err for code, err in results)
    assert not db.exists()  # no demo built by one writer and replaced under the others
