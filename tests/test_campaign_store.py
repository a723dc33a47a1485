"""Saved campaigns in the SQLite file: round trip, rename, sent date, delete, scoping."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from services.campaigns import (
    CONTROLE,
    ENVIO,
    MEMBER_COLUMNS,
    Campaign,
    InvalidCampaign,
    Member,
    members_frame,
)
from services.segments import PRIMARY, SECONDARY
from services.store.campaigns import CampaignStore, UnknownCampaign
from services.store.sqlite import SqliteStore

SAVED = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)
JARDINS, MOEMA = "Vitrine Jardins", "Vitrine Moema"


def campaign(**changes: object) -> Campaign:
    values: dict[str, object] = dict(
        id=None, name="Submariner de volta — junho", stores=(JARDINS,), preset="estoque",
        segment={"terms": ["Submariner"], "scope": "all", "quiet_days": 7},
        templates={PRIMARY: "O {produto} que você procurou está disponível!",
                   SECONDARY: "Lembra do {produto}?"},
        created_by="ana@vitrine.com.br", created_at=SAVED, sent_at=None,
        control_share=0.1, seed=42, terms=("Submariner",),
    )
    values.update(changes)
    return Campaign(**values)  # type: ignore[arg-type]


MEMBERS = [
    Member(None, "recA", JARDINS, "+5511987654321", "Maria Souza", PRIMARY, ENVIO,
           ("Submariner", "Submariner Date"), "Oi Maria, o Submariner que você procurou está disponível!"),
    Member(None, "recB", JARDINS, "+5511912345678", "João Lima", PRIMARY, CONTROLE, ("Submariner",), ""),
    Member(None, "recC", JARDINS, "+5511955554444", "Ana, \"Aninha\"", SECONDARY, ENVIO, (), "Lembra?"),
]


def test_a_saved_campaign_reads_back_with_its_members_in_order(tmp_path: Path) -> None:
    store = CampaignStore(tmp_path / "vitrine.db")
    cid = store.save(campaign(), MEMBERS)
    got, members = store.get(cid)
    assert got == campaign(id=cid)
    assert list(members.columns) == list(MEMBER_COLUMNS)
    assert members["customer_id"].tolist() == ["recA", "recB", "recC"]
    assert members["campaign_id"].tolist() == [cid] * 3
    assert members.iloc[0]["matched"] == ("Submariner", "Submariner Date")
    assert members.iloc[2]["matched"] == ()
    assert members.iloc[2]["name"] == 'Ana, "Aninha"'
    assert members["group"].tolist() == [ENVIO, CONTROLE, ENVIO]


def test_ids_are_never_reused_and_the_list_is_newest_first(tmp_path: Path) -> None:
    store = CampaignStore(tmp_path / "vitrine.db")
    first = store.save(campaign(name="Primeira"), MEMBERS)
    second = store.save(campaign(name="Segunda"), members_frame(MEMBERS))
    assert [c.name for c in store.list()] == ["Segunda", "Primeira"]
    store.delete(second)
    third = store.save(campaign(name="Terceira"), MEMBERS)
    assert third not in (first, second)
    assert [c.id for c in store.list()] == [third, first]


def test_rename_and_sent_date_change_only_the_campaign(tmp_path: Path) -> None:
    store = CampaignStore(tmp_path / "vitrine.db")
    cid = store.save(campaign(), MEMBERS)
    store.rename(cid, "  Rolex — junho (2ª rodada)  ")
    sent = datetime(2025, 6, 2, 10, 0)  # naive: UTC
    store.set_sent_at(cid, sent)
    got, members = store.get(cid)
    assert got.name == "Rolex — junho (2ª rodada)"
    assert got.sent_at == sent.replace(tzinfo=UTC)
    assert len(members) == 3
    store.set_sent_at(cid, None)
    assert store.get(cid)[0].sent_at is None
    with pytest.raises(InvalidCampaign):
        store.rename(cid, "   ")


def test_delete_removes_the_campaign_and_its_members_only(tmp_path: Path) -> None:
    store = CampaignStore(tmp_path / "vitrine.db")
    keep = store.save(campaign(name="Fica"), MEMBERS)
    gone = store.save(campaign(name="Sai"), MEMBERS)
    store.delete(gone)
    with pytest.raises(UnknownCampaign):
        store.get(gone)
    assert store.members()["campaign_id"].unique().tolist() == [keep]
    for action in (lambda: store.delete(gone), lambda: store.rename(gone, "x"),
                   lambda: store.set_sent_at(gone, SAVED)):
        with pytest.raises(UnknownCampaign, match="não encontrada"):
            action()


def test_members_of_several_campaigns_feed_the_outcomes(tmp_path: Path) -> None:
    store = CampaignStore(tmp_path / "vitrine.db")
    a = store.save(campaign(name="A"), MEMBERS)
    b = store.save(campaign(name="B"), MEMBERS[:1])
    c = store.save(campaign(name="C"), MEMBERS[1:])
    both = store.members([a, c])
    assert both.groupby("campaign_id").size().to_dict() == {a: 3, c: 2}
    assert len(store.members()) == 6
    assert b in store.members()["campaign_id"].tolist()


def test_a_member_twice_or_without_a_group_is_refused_and_nothing_is_saved(tmp_path: Path) -> None:
    store = CampaignStore(tmp_path / "vitrine.db")
    twice = [*MEMBERS, MEMBERS[0]]
    with pytest.raises(InvalidCampaign, match="mais de uma vez"):
        store.save(campaign(), twice)
    no_group = members_frame(MEMBERS).assign(group=["envio", "talvez", "controle"])
    with pytest.raises(InvalidCampaign, match="grupo"):
        store.save(campaign(), no_group)
    assert store.list() == []


def test_a_failed_member_write_leaves_no_campaign_behind(tmp_path: Path) -> None:
    path = tmp_path / "vitrine.db"
    store = CampaignStore(path)
    with sqlite3.connect(path) as db:  # a fault half-way through the members (a full disk, say)
        db.execute("CREATE TRIGGER fault BEFORE INSERT ON campaign_members WHEN NEW.customer_id = 'recC'"
                   " BEGIN SELECT RAISE(ABORT, 'disco cheio'); END")
    with pytest.raises(sqlite3.DatabaseError, match="disco cheio"):
        store.save(campaign(), MEMBERS)
    assert store.list() == []
    assert store.members().empty


def test_list_shows_only_campaigns_within_the_stores_a_user_may_see(tmp_path: Path) -> None:
    store = CampaignStore(tmp_path / "vitrine.db")
    store.save(campaign(name="Jardins"), MEMBERS)
    store.save(campaign(name="Duas lojas", stores=(JARDINS, MOEMA)), MEMBERS)
    assert [c.name for c in store.list(stores=[JARDINS])] == ["Jardins"]
    assert [c.name for c in store.list(stores=[JARDINS, MOEMA])] == ["Duas lojas", "Jardins"]
    assert store.list(stores=[]) == []


def test_campaigns_live_beside_the_customers_and_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "vitrine.db"
    SqliteStore(path)
    cid = CampaignStore(path).save(campaign(sent_at=SAVED + timedelta(hours=1)), MEMBERS)
    SqliteStore(path)  # reopening the customer store touches no campaign table
    got, members = CampaignStore(path).get(cid)
    assert got.sent_at == SAVED + timedelta(hours=1)
    assert len(members) == 3
    with sqlite3.connect(path) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"campaigns", "campaign_members", "customers"} <= tables


def test_a_large_list_round_trips(tmp_path: Path) -> None:
    store = CampaignStore(tmp_path / "vitrine.db")
    n = 5_000
    frame = pd.DataFrame({
        "campaign_id": None, "customer_id": [f"rec{i:06d}" for i in range(n)], "store": JARDINS,
        "phone": "+5511987654321", "name": "Maria", "tier": PRIMARY,
        "group": [CONTROLE if i % 10 == 0 else ENVIO for i in range(n)],
        "matched": [("Submariner",)] * n, "message": "Olá",
    })
    cid = store.save(campaign(), frame)
    _, members = store.get(cid)
    assert len(members) == n
    assert (members["group"] == CONTROLE).sum() == 500
    assert members["customer_id"].tolist() == frame["customer_id"].tolist()
