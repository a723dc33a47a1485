"""Resultados (AppTest): a campaign's outcomes per tier and group as the services count them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apptest_support import JARDINS, NOW, data_of, open_app

from dashboard.format import money
from dashboard.results import OPEN_NOTE, readings, table
from services.campaign_lists import freeze
from services.campaign_results import outcomes, period_results, results
from services.campaigns import CONTROLE, ENVIO
from services.segments import PRESETS, PRIMARY, SECONDARY, build_list
from services.store.campaigns import CampaignStore
from services.store.sqlite import SqliteStore

SENT = datetime(2026, 2, 20, tzinfo=UTC)


def saved_campaign(db: Path, name: str = "Submariner de volta", sent_at: datetime | None = SENT):
    """A back-in-stock campaign for the Submariner at Jardins, sent on 20/02, with a reply and a purchase."""
    data = data_of(db, (JARDINS,))
    preset = PRESETS["estoque"]
    result = build_list(data, preset.segment_for(["Submariner"], stores=(JARDINS,), quiet_days=0),
                        SENT, preset.templates)
    campaign, members = freeze(result, name=name, preset="estoque", templates=preset.templates,
                               created_by="ana@loja.com", created_at=SENT, control_share=0.2, seed=5,
                               sent_at=sent_at)
    cid = CampaignStore(db).save(campaign, members)
    return dataclasses.replace(campaign, id=cid), members.assign(campaign_id=cid)


def record_outcomes(db: Path, campaign, members) -> tuple[str, str]:
    """A primary member sent the message replies; a secondary control member buys (each of them
    with no such outcome yet: the demo's own timeline has replies and purchases too)."""
    store = SqliteStore(db)
    _, before = expected(db, campaign)
    mine = before[before["campaign_id"] == campaign.id].set_index("customer_id")
    members = members.set_index("customer_id", drop=False)
    quiet = members[~mine.loc[members.index, "respondeu"].to_numpy()]
    no_purchase = members[~mine.loc[members.index, "comprou"].to_numpy()]
    replier = quiet[(quiet["tier"] == PRIMARY) & (quiet["group"] == ENVIO)].iloc[0]
    buyer = no_purchase[(no_purchase["tier"] == SECONDARY) & (no_purchase["group"] == CONTROLE)].iloc[0]
    store.record(JARDINS, replier["phone"], ["Submariner"], SENT + timedelta(days=2))
    store.record_event(JARDINS, buyer["phone"], "compra", SENT + timedelta(days=5), products=["Submariner"],
                       value_brl=98_000.0)
    return replier["customer_id"], buyer["customer_id"]


def expected(db: Path, campaign, window: int = 14):
    store = SqliteStore(db)
    campaigns = CampaignStore(db)
    frame = outcomes(campaigns.list(), campaigns.members(), store.events.frame(), window,
                     NOW + timedelta(hours=1), catalog=store.catalog())
    return results(campaign, frame), frame


def open_results(campaign_id: int):
    at = open_app("resultados")
    at.selectbox(key="resultados_campanha").select(str(campaign_id)).run()
    assert not at.exception
    return at


def shown_table(at):
    return next(t.value for t in at.table if "Respondeu" in t.value.columns)


def test_the_table_counts_each_outcome_in_the_member_tier_and_group(db: Path) -> None:
    campaign, members = saved_campaign(db)
    before, _ = expected(db, campaign)
    record_outcomes(db, campaign, members)
    at = open_results(campaign.id)
    full, _ = expected(db, campaign)
    assert full[PRIMARY][ENVIO]["respondeu"] == before[PRIMARY][ENVIO]["respondeu"] + 1
    assert full[PRIMARY][ENVIO]["perguntou"] == before[PRIMARY][ENVIO]["perguntou"] + 1
    assert full[SECONDARY][CONTROLE]["comprou"] == before[SECONDARY][CONTROLE]["comprou"] + 1
    assert full[SECONDARY][CONTROLE]["revenue_brl"] == before[SECONDARY][CONTROLE]["revenue_brl"] + 98_000
    for tier, group in ((PRIMARY, CONTROLE), (SECONDARY, ENVIO)):
        assert full[tier][group] == before[tier][group]
    shown = shown_table(at)
    assert shown.astype(str).to_numpy().tolist() == table(full).astype(str).to_numpy().tolist()
    rows = shown.set_index(["Nível", "Grupo"])
    count = full[PRIMARY][ENVIO]["respondeu"]
    assert rows.loc[("principal", "envio"), "Respondeu"].startswith(f"{count} · ")
    assert rows.loc[("secundário", "controle"), "Receita"] == money(full[SECONDARY][CONTROLE]["revenue_brl"])
    assert OPEN_NOTE in [c.value for c in at.caption]
    assert len(at.get("vega_lite_chart")) == 1  # the funnel


def test_a_reading_claims_a_difference_only_when_the_intervals_do_not_overlap(db: Path) -> None:
    campaign, members = saved_campaign(db)
    store = SqliteStore(db)
    primary = members[(members["tier"] == PRIMARY) & (members["group"] == ENVIO)]
    for number, phone in enumerate(primary["phone"]):  # every primary customer sent the message replies
        store.record(JARDINS, phone, ["Submariner"], SENT + timedelta(days=1, minutes=number))
    at = open_results(campaign.id)
    full, _ = expected(db, campaign)
    assert full[PRIMARY][ENVIO]["rates"]["respondeu"].rate > 0.9  # a ninth-digit twin may take a reply
    lines = [m.value for m in at.markdown if m.value.startswith("- ")]
    assert [line.removeprefix("- ").strip("*") for line in lines] == readings(full)
    assert lines[0].startswith("- **Respondeu: principal respondeu")


def test_a_wider_window_counts_what_came_later(db: Path) -> None:
    sent = datetime(2026, 2, 1, tzinfo=UTC)
    campaign, members = saved_campaign(db, sent_at=sent)
    _, before = expected(db, campaign, window=30)
    mine = before[before["campaign_id"] == campaign.id]
    late = mine[(mine["tier"] == PRIMARY) & (mine["group"] == ENVIO) & ~mine["visitou"]].iloc[0]
    phone = members.set_index("customer_id").loc[late["customer_id"], "phone"]
    SqliteStore(db).record_event(JARDINS, phone, "visita", sent + timedelta(days=20))
    narrow, _ = expected(db, campaign)
    wide, _ = expected(db, campaign, window=30)
    assert wide[PRIMARY][ENVIO]["visitou"] == int(mine[(mine["tier"] == PRIMARY)
                                                       & (mine["group"] == ENVIO)]["visitou"].sum()) + 1
    at = open_results(campaign.id)
    assert shown_table(at).astype(str).to_numpy().tolist() == table(narrow).astype(str).to_numpy().tolist()
    at.number_input(key="resultados_janela").set_value(30).run()
    assert shown_table(at).astype(str).to_numpy().tolist() == table(wide).astype(str).to_numpy().tolist()


def test_every_campaign_of_a_period_is_summed(db: Path) -> None:
    first, members = saved_campaign(db, "Primeira")
    second, _ = saved_campaign(db, "Segunda", sent_at=SENT + timedelta(days=3))
    record_outcomes(db, first, members)
    at = open_app("resultados")
    at.selectbox(key="resultados_campanha").select("periodo").run()
    at.date_input(key="resultados_periodo").set_value((SENT.date(), (SENT + timedelta(days=3)).date())).run()
    assert not at.exception
    _, frame = expected(db, first)
    chosen = [c for c in CampaignStore(db).list() if c.id in (first.id, second.id)]
    last = (SENT + timedelta(days=3)).date()
    every_sent = [c for c in CampaignStore(db).list()
                  if c.sent_at is not None and SENT.date() <= c.sent_at.date() <= last]
    assert {c.id for c in chosen} <= {c.id for c in every_sent}
    full = period_results(every_sent, frame)
    assert shown_table(at).astype(str).to_numpy().tolist() == table(full).astype(str).to_numpy().tolist()
    assert any(f"{len(every_sent)} campanha(s) enviada(s)" in s.value for s in at.subheader)


def test_a_campaign_not_yet_sent_says_how_to_start_counting(db: Path) -> None:
    campaign, _ = saved_campaign(db, "Ainda não enviada", sent_at=None)
    at = open_results(campaign.id)
    assert "ainda não foi enviada" in at.info[0].value


def test_without_saved_campaigns_the_page_points_to_campanhas(db: Path) -> None:
    CampaignStore(db).clear()
    at = open_app("resultados")
    assert not at.exception
    assert "Nenhuma campanha salva" in at.info[0].value
    assert [e.proto.page for e in at.get("page_link")] == ["campanhas"]
