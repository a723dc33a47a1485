"""The demo's past campaigns: outcomes drawn from stated rates the results recover; customers untouched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services import demo, demo_campaigns
from services.campaign_results import OUTCOMES, outcomes, period_results, results
from services.catalog import DEMO_CATALOG
from services.interests import product_key
from services.store.campaigns import CampaignStore
from services.store.sqlite import SqliteStore
from services.timeline import ASKED

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
STEPS = ("respondeu", "visitou", "comprou")


def customers_of(store: SqliteStore) -> list[tuple]:
    with store.connect() as db:
        return db.execute("SELECT * FROM customers ORDER BY rowid").fetchall()


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> SqliteStore:
    store = SqliteStore(tmp_path_factory.mktemp("demo") / "vitrine.db")
    demo.generate(store, 1500, seed=3, now=NOW)
    return store


def demo_outcomes(store: SqliteStore):
    campaigns = CampaignStore(store.path)
    found = campaigns.list()
    frame = outcomes(found, campaigns.members(), store.events.frame(), demo_campaigns.WINDOW_DAYS, NOW,
                     catalog=store.catalog())
    return found, frame


def test_a_handful_of_campaigns_sent_20_to_150_days_ago_with_windows_apart(demo_db: SqliteStore) -> None:
    found = sorted(CampaignStore(demo_db.path).list(), key=lambda c: c.sent_at)
    assert 4 <= len(found) <= 6
    assert all(NOW - timedelta(days=150) <= c.sent_at <= NOW - timedelta(days=20) for c in found)
    gaps = [later.sent_at - earlier.sent_at for earlier, later in zip(found, found[1:], strict=False)]
    assert min(gaps) > timedelta(days=demo_campaigns.WINDOW_DAYS)
    assert {c.created_by for c in found} == {demo_campaigns.CREATED_BY}
    assert any(len(c.stores) == 1 for c in found) and any(len(c.stores) == 3 for c in found)


def test_the_results_recover_the_stated_rates_within_their_95_percent_intervals(demo_db: SqliteStore) -> None:
    found, frame = demo_outcomes(demo_db)
    checked = 0
    for full in [results(c, frame) for c in found] + [period_results(found, frame)]:
        for (tier, group), stated in demo_campaigns.RATES.items():
            cell = full[tier][group]
            if not cell["members"]:
                continue
            for step, rate in zip(STEPS, stated, strict=True):
                shown = cell["rates"][step]
                assert shown.low <= rate <= shown.high, (tier, group, step, shown, rate)
                checked += 1
            assert cell["perguntou"] == 0  # the campaigns never change what customers asked about
    assert checked > 30
    pooled = period_results(found, frame)
    assert pooled["primary"]["envio"]["rates"]["respondeu"].rate == pytest.approx(0.30, abs=0.01)
    assert pooled["primary"]["lift"]["respondeu"].low > 0  # the message works, and the lift says so


def test_purchases_carry_catalog_prices(demo_db: SqliteStore) -> None:
    found, frame = demo_outcomes(demo_db)
    events = demo_db.events.frame()
    bought = events[events["kind"] == "compra"]
    prices = {product_key(title): price for title, _b, _c, price in DEMO_CATALOG}
    members = CampaignStore(demo_db.path).members()
    ours = bought[bought["customer_id"].isin(set(members["customer_id"]))]
    assert len(ours) and all(value == prices[product_key(products[0])]
                             for products, value in zip(ours["products"], ours["value_brl"], strict=True)
                             if products)
    assert frame["revenue_brl"].sum() > 0 and set(OUTCOMES) <= set(frame.columns)


def test_the_campaigns_change_no_customer_and_no_question(tmp_path: Path, monkeypatch) -> None:
    with_campaigns = SqliteStore(tmp_path / "with.db")
    demo.generate(with_campaigns, 600, seed=5, now=NOW)
    monkeypatch.setattr(demo_campaigns, "of_demo", lambda *args: ([], []))
    without = SqliteStore(tmp_path / "without.db")
    demo.generate(without, 600, seed=5, now=NOW)
    assert customers_of(with_campaigns) == customers_of(without)
    asked = [frame[frame["kind"].isin(ASKED)][["customer_id", "at", "kind"]].astype(str).values.tolist()
             for frame in (with_campaigns.events.frame(), without.events.frame())]
    assert asked[0] == asked[1]
    assert CampaignStore(with_campaigns.path).list() and not CampaignStore(without.path).list()


def test_rebuilding_the_demo_replaces_its_campaigns(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "vitrine.db")
    demo.generate(store, 400, seed=2, now=NOW)
    first = CampaignStore(store.path).list()
    summary = demo.generate(store, 400, seed=2, now=NOW)
    again = CampaignStore(store.path).list()
    assert len(again) == len(first) == summary.campaigns
    assert {c.id for c in again}.isdisjoint({c.id for c in first})
    assert len(CampaignStore(store.path).members()) == len(CampaignStore(store.path).members(
        [c.id for c in again]))
