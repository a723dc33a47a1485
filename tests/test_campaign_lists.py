"""Saving a campaign list (SPEC §12): members frozen with tier, products, message and group; downloads."""

from __future__ import annotations

import os
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from services.audit import CAMPAIGN_SAVED, AuditLog
from services.campaign_lists import (
    audit_entry,
    counts,
    freeze,
    sending_rows,
    sent_moment,
    split_titles,
    templates_of,
)
from services.campaigns import CONTROLE, ENVIO, MEMBER_COLUMNS, InvalidCampaign, control_split, held_out
from services.exports import EXPORT_HEADERS, to_csv
from services.frame import build
from services.interests import iso
from services.messages import Templates
from services.segments import PRIMARY, SECONDARY, Segment, build_list
from services.store.campaigns import CampaignStore

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
TEMPLATES = Templates("Oi {first_name}, o {product} chegou!", "Lembra do {product}?")


def customer(i: int, recent: list[str], history: list[str]) -> dict[str, object]:
    return {"id": f"rec{i:04d}", "store": "Vitrine Jardins", "phone": f"+55119876{i:05d}",
            "name": f"Cliente {i} Souza", "interests": recent, "interests_all": history,
            "created_at": "2025-01-01T00:00:00Z", "last_interaction": iso(NOW - timedelta(days=30 + i)),
            "opt_out": False}


@pytest.fixture(scope="module")
def submariner():
    people = [customer(i, ["Submariner"], ["Submariner"]) for i in range(25)]
    people += [customer(100 + i, ["Daytona"], ["Datejust 36, aço e ouro", "Submariner", "Daytona"])
               for i in range(7)]
    data = build(pd.DataFrame(people))
    segment = Segment(("Submariner", "Datejust"), stores=("Vitrine Jardins",))
    return data, build_list(data, segment, NOW, TEMPLATES)


def frozen(result, **changes):
    values = dict(name="Submariner de volta", preset="estoque", templates=TEMPLATES,
                  created_by="ana@loja.com", created_at=NOW, control_share=0.1, seed=7)
    values.update(changes)
    return freeze(result, **values)


def test_saving_freezes_the_list_in_order_with_tier_products_message_and_group(submariner) -> None:
    _, result = submariner
    campaign, members = frozen(result)
    assert list(members.columns) == list(MEMBER_COLUMNS)
    assert members["customer_id"].tolist() == result.rows.index.tolist()
    assert members["tier"].tolist() == result.rows["tier"].tolist()
    assert members["message"].tolist() == result.rows["message"].tolist()
    assert campaign.stores == ("Vitrine Jardins",) and campaign.terms == ("Submariner", "Datejust")
    assert campaign.segment["terms"] == ["Submariner", "Datejust"]
    assert campaign.templates == {PRIMARY: TEMPLATES.primary, SECONDARY: TEMPLATES.secondary}
    assert templates_of(campaign) == TEMPLATES
    assert (campaign.seed, campaign.control_share, campaign.sent_at) == (7, 0.1, None)


def test_the_control_group_is_exactly_its_share_of_each_tier_drawn_with_the_stored_seed(submariner) -> None:
    _, result = submariner
    campaign, members = frozen(result)
    assert counts(members) == {PRIMARY: {ENVIO: 22, CONTROLE: 3}, SECONDARY: {ENVIO: 6, CONTROLE: 1}}
    assert held_out(25, 0.1) == 3 and held_out(7, 0.1) == 1
    by_tier = {tier: members.loc[members["tier"] == tier, "customer_id"].tolist()
               for tier in (PRIMARY, SECONDARY)}
    assert dict(zip(members["customer_id"], members["group"], strict=True)) == control_split(
        by_tier, 0.1, campaign.seed)
    _, again = frozen(result)
    assert again["group"].tolist() == members["group"].tolist()


def test_without_a_seed_one_is_drawn_and_kept(submariner) -> None:
    _, result = submariner
    seeds = {frozen(result, seed=None)[0].seed for _ in range(5)}
    assert len(seeds) > 1


def test_a_product_whose_title_holds_a_comma_stays_one_product(submariner) -> None:
    data, result = submariner
    _, members = frozen(result, known_titles=data.products["title"].tolist())
    old = members[members["tier"] == SECONDARY].iloc[0]
    assert old["matched"] == ("Submariner", "Datejust 36, aço e ouro")
    assert split_titles("A, B, C", {"A, B"}) == ("A, B", "C")
    assert split_titles("") == ()


@pytest.mark.parametrize("share", [-0.1, 0.51])
def test_a_share_outside_zero_to_half_is_refused(submariner, share: float) -> None:
    _, result = submariner
    with pytest.raises(InvalidCampaign):
        frozen(result, control_share=share)


def test_the_download_of_a_saved_campaign_holds_only_the_group_sent(submariner, tmp_path: Path) -> None:
    _, result = submariner
    campaign, members = frozen(result)
    store = CampaignStore(tmp_path / "vitrine.db")
    cid = store.save(campaign, members)
    _, reopened = store.get(cid)
    text = to_csv(sending_rows(reopened)).decode("utf-8-sig")
    phones = [line.split(",")[2] for line in text.splitlines()[1:]]
    sent = reopened[reopened["group"] == ENVIO]
    assert phones == sent["phone"].tolist()
    assert not set(phones) & set(reopened.loc[reopened["group"] == CONTROLE, "phone"])
    assert text.splitlines()[0] == ",".join(EXPORT_HEADERS.values())


def test_a_given_send_date_starts_that_day_and_today_is_now() -> None:
    assert sent_moment(date(2026, 2, 20), NOW) == datetime(2026, 2, 20, tzinfo=UTC)
    assert sent_moment(NOW.date(), NOW) == NOW


def test_saving_is_written_in_the_audit_log_as_an_act_not_a_file(submariner, tmp_path: Path) -> None:
    _, result = submariner
    campaign, members = frozen(result)
    log = AuditLog(tmp_path / "vitrine.db")
    log.append(audit_entry(campaign, len(members), "ana@loja.com", NOW, channel="dashboard"))
    entry = log.entries().iloc[0]
    assert (entry["format"], entry["rows"], entry["filename"]) == (CAMPAIGN_SAVED, 32, "Submariner de volta")
    assert '"seed": 7' in entry["segment"] and '"terms": ["Submariner", "Datejust"]' in entry["segment"]


def test_the_store_version_moves_with_every_change_and_clear_empties_it(submariner, tmp_path: Path) -> None:
    _, result = submariner
    store = CampaignStore(tmp_path / "vitrine.db")
    empty = store.version()
    cid = store.save(*frozen(result))
    saved = store.version()
    store.set_sent_at(cid, NOW)
    sent = store.version()
    store.rename(cid, "Outro nome")
    assert len({empty, saved, sent, store.version()}) == 4
    store.clear()
    assert store.list() == [] and store.members().empty


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files")
def test_a_read_only_file_still_lists_its_campaigns(submariner, tmp_path: Path) -> None:
    _, result = submariner
    path = tmp_path / "vitrine.db"
    cid = CampaignStore(path).save(*frozen(result))
    path.chmod(stat.S_IRUSR)
    tmp_path.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        store = CampaignStore(path, read_only=True)
        assert [c.id for c in store.list()] == [cid]
        assert len(store.members([cid])) == 32
    finally:
        tmp_path.chmod(stat.S_IRWXU)
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_a_file_from_before_campaigns_opened_read_only_has_none(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    sqlite3.connect(path).close()
    store = CampaignStore(path, read_only=True)
    assert store.list() == [] and store.members().empty and store.version() == "none"
