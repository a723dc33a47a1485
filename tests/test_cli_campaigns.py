"""``python -m services campaign save|list|show|results|export``: the campaign loop on the command line."""

from __future__ import annotations

import io
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.__main__ import main
from services.audit import CAMPAIGN_SAVED, AuditLog
from services.interests import iso
from services.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
JARDINS = "Vitrine Jardins"
SENT = "2026-03-02T10:00:00+00:00"


def person(i: int, recent: list[str], history: list[str]) -> dict[str, object]:
    return {"id": f"rec{i:04d}", "store": JARDINS, "phone": f"+55119876{i:05d}", "name": f"Cliente {i}",
            "interests": recent, "interests_all": history, "created_at": "2025-01-01T00:00:00Z",
            "last_interaction": iso(NOW - timedelta(days=20 + i)), "opt_out": False}


@pytest.fixture(autouse=True)
def no_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AIRTABLE_API_KEY", "AIRTABLE_BASE_ID", "VITRINE_DB", "VITRINE_PRODUCT_BASE_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("VITRINE_SECRETS", str(ROOT / "tests" / "no-such-secrets.toml"))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """25 customers who asked for the Submariner lately, 7 who asked for it before."""
    store = SqliteStore(tmp_path / "vitrine.db")
    store.add_store(JARDINS)
    store.insert_raw([person(i, ["Submariner"], ["Submariner"]) for i in range(25)]
                     + [person(100 + i, ["Daytona"], ["Submariner", "Daytona"]) for i in range(7)])
    return store.path


def call(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--db", str(db), *args], out, err)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def save(db: Path, *extra: str) -> dict:
    return json.loads(ok(call(db, "campaign", "save", "--store", JARDINS, "--preset", "estoque",
                              "--term", "Submariner", "--name", "Submariner de volta",
                              "--now", iso(NOW), *extra)))


def test_save_prints_the_campaign_and_its_members_per_tier_and_group(db: Path) -> None:
    body = save(db, "--seed", "7", "--at", SENT)
    assert body == {"id": 1, "name": "Submariner de volta", "sent_at": SENT, "members": {
        "primary": {"envio": 22, "controle": 3}, "secondary": {"envio": 6, "controle": 1}}}
    entry = AuditLog(db).entries().iloc[0]
    assert (entry["format"], entry["rows"], entry["channel"]) == (CAMPAIGN_SAVED, 32, "cli")


def test_the_same_seed_and_list_hold_out_the_same_customers(db: Path) -> None:
    first, second = save(db, "--seed", "7"), save(db, "--seed", "7", "--control", "10%")
    assert first["sent_at"] is None

    def control(cid: int) -> set[str]:
        shown = json.loads(ok(call(db, "campaign", "show", str(cid))))
        return {m["customer_id"] for m in shown["members"] if m["group"] == "controle"}

    assert control(first["id"]) == control(second["id"]) and len(control(first["id"])) == 4


def test_list_and_show_give_each_campaign_and_its_members(db: Path) -> None:
    body = save(db, "--seed", "1", "--control", "0.2")
    listed = json.loads(ok(call(db, "campaign", "list")))
    assert listed == [{"id": body["id"], "name": "Submariner de volta", "sent_at": None, "stores": [JARDINS],
                       "members": {"primary": {"envio": 20, "controle": 5},
                                   "secondary": {"envio": 6, "controle": 1}}}]
    shown = json.loads(ok(call(db, "campaign", "show", str(body["id"]))))
    assert shown["control_share"] == 0.2 and shown["seed"] == 1 and shown["preset"] == "estoque"
    first = shown["members"][0]
    assert set(first) == {"customer_id", "store", "phone", "name", "tier", "group", "matched", "message"}
    assert first["tier"] == "primary" and first["matched"] == ["Submariner"]
    assert "Submariner" in first["message"]
    assert {m["tier"] for m in shown["members"][-7:]} == {"secondary"}


def test_results_count_a_reply_and_a_purchase_in_the_member_tier_and_group(db: Path) -> None:
    body = save(db, "--seed", "7", "--at", SENT)
    members = json.loads(ok(call(db, "campaign", "show", str(body["id"]))))["members"]
    held = next(m for m in members if m["tier"] == "secondary" and m["group"] == "controle")
    sent = next(m for m in members if m["tier"] == "primary" and m["group"] == "envio")
    ok(call(db, "record", "--store", JARDINS, "--phone", sent["phone"], "--at", "2026-03-03T09:00:00Z",
            "Submariner"))
    ok(call(db, "purchase", "--store", JARDINS, "--phone", held["phone"], "--product", "Submariner",
            "--value", "98000", "--at", "2026-03-05T15:00:00Z"))
    ok(call(db, "record", "--store", JARDINS, "--phone", sent["phone"], "--at", "2026-03-30T09:00:00Z",
            "Daytona"))  # after the 14-day window: not counted
    result = json.loads(ok(call(db, "campaign", "results", str(body["id"]), "--now", "2026-04-01T00:00:00Z")))
    assert list(result) == ["id", "name", "sent_at", "window_days", "tiers"]
    assert result["window_days"] == 14 and result["sent_at"] == SENT
    primary, secondary = result["tiers"]["primary"], result["tiers"]["secondary"]
    assert primary["envio"] == {"members": 22, "respondeu": 1, "perguntou": 1, "visitou": 0, "comprou": 0,
                                "revenue_brl": 0.0}
    assert secondary["controle"] == {"members": 1, "respondeu": 0, "perguntou": 0, "visitou": 0,
                                     "comprou": 1, "revenue_brl": 98000.0}
    assert primary["controle"]["respondeu"] == secondary["envio"]["comprou"] == 0
    wide = json.loads(ok(call(db, "campaign", "results", str(body["id"]), "--window", "30",
                              "--now", "2026-04-01T00:00:00Z")))
    assert wide["window_days"] == 30 and wide["tiers"]["primary"]["envio"]["perguntou"] == 1


def test_export_writes_only_the_group_sent_and_dates_the_sending(db: Path, tmp_path: Path) -> None:
    body = save(db, "--seed", "7")
    target = tmp_path / "envio.csv"
    line = ok(call(db, "campaign", "export", str(body["id"]), "--output", str(target)))
    assert line.startswith("28 cliente(s) do grupo de envio") and "4 no controle" in line
    shown = json.loads(ok(call(db, "campaign", "show", str(body["id"]))))
    phones = [row.split(",")[2] for row in target.read_text(encoding="utf-8-sig").splitlines()[1:]]
    assert phones == [m["phone"] for m in shown["members"] if m["group"] == "envio"]
    assert shown["sent_at"] is not None
    assert AuditLog(db).entries().iloc[0]["format"] == "csv"


@pytest.mark.parametrize(("args", "words"), [
    (("--control", "0.6"), "entre 0 e 0.5"),
    (("--preset", "estoque"), "precisa de pelo menos um --term"),
])
def test_bad_options_are_one_line_usage_errors(db: Path, args: tuple[str, ...], words: str) -> None:
    result = call(db, "campaign", "save", "--store", JARDINS, "--name", "X", *args)
    assert result.returncode == 2 and words in result.stderr and len(result.stderr.splitlines()) == 1


def test_an_unknown_campaign_is_a_one_line_error(db: Path) -> None:
    result = call(db, "campaign", "results", "9")
    assert result.returncode == 1 and "campanha 9 não encontrada" in result.stderr
