"""The pure chart builders: what each chart encodes, from service results (no Streamlit)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from apptest_support import NOW, data_of

from dashboard import charts
from services.insights import compute as insights
from services.metrics import compute as metrics


def spec(chart) -> dict:
    return chart.to_dict()


def test_depth_histogram_marks_the_target_band_and_reads_pt_br_numbers() -> None:
    frame = pd.DataFrame({"depth": [1, 3, 5, 6], "customers": [10, 20, 30, 1000]})
    out = spec(charts.depth_histogram(frame))
    values = out["datasets"][next(iter(out["datasets"]))]
    assert [v["alvo"] for v in values] == [
        "abaixo da faixa (< 3)", "na faixa (3–5)", "na faixa (3–5)", "acima da faixa (> 5)"]
    # Above the range is neutral, not the alarm red.
    scale = out["encoding"]["color"]["scale"]
    assert dict(zip(scale["domain"], scale["range"], strict=True))["acima da faixa (> 5)"] == charts.SLATE
    assert out["config"]["locale"]["number"]["thousands"] == "."


def test_coverage_by_month_draws_the_80_percent_target(demo_db: Path) -> None:
    report = metrics(data_of(demo_db), NOW)
    out = spec(charts.coverage_by_month(report.coverage_by_month))
    rule = [layer for layer in out["layer"] if layer["mark"]["type"] == "rule"][0]
    assert out["datasets"][rule["data"]["name"]] == [{"meta": 0.8}]


def test_heatmap_keeps_only_the_brands_asked_for(demo_db: Path) -> None:
    pairs = insights(data_of(demo_db)).cross_selling.brands
    out = spec(charts.cross_selling_heatmap(pairs, ["Rolex", "Cartier"]))
    rows = out["datasets"][out["data"]["name"]] if "data" in out else next(iter(out["datasets"].values()))
    assert {(r["a_label"], r["b_label"]) for r in rows} <= {("Rolex", "Cartier"), ("Cartier", "Rolex")}
    assert rows


def test_trending_lift_colours_what_is_trending(demo_db: Path) -> None:
    products = insights(data_of(demo_db)).trending.products
    out = spec(charts.trending_lift(products, "title", top=5))
    bars = [layer for layer in out["layer"] if layer["mark"]["type"] == "bar"][0]
    rows = out["datasets"][bars["data"]["name"]] if "data" in bars else out["datasets"][out["data"]["name"]]
    assert len(rows) == 5
    assert all((r["situacao"] == "em alta") == r["trending"] for r in rows)


def test_trending_grey_bars_say_why_they_are_grey() -> None:
    frame = pd.DataFrame({
        "title": ["Daytona", "Tank Must", "Calatrava"], "lift": [2.0, 1.8, 1.1],
        "customers": [12, 2, 30], "recent": [12, 2, 30], "history": [20, 3, 90],
        "trending": [True, False, False],
    })
    out = spec(charts.trending_lift(frame, "title", min_customers=5))
    bars = next(layer for layer in out["layer"] if layer["mark"]["type"] == "bar")
    values = out["datasets"][bars["data"]["name"]] if "data" in bars else next(iter(out["datasets"].values()))
    assert [v["situacao"] for v in values] == [
        "em alta", "poucos clientes (menos de 5)", "abaixo do limite de 1,5"]
    assert bars["encoding"]["color"]["scale"]["domain"] == [
        "em alta", "poucos clientes (menos de 5)", "abaixo do limite de 1,5"]
    assert any(t.get("title") == "Situação" for t in bars["encoding"]["tooltip"])


def test_the_campaign_funnel_draws_each_step_per_tier_with_its_interval() -> None:
    from services.campaign_results import funnel, outcomes
    from services.campaigns import Campaign

    sent = pd.Timestamp("2026-02-01", tz="UTC").to_pydatetime()
    campaign = Campaign(1, "Junho", ("Loja",), None, {}, {}, "ana", sent, sent)
    members = pd.DataFrame({
        "campaign_id": 1, "customer_id": ["a", "b", "c", "d"], "store": "Loja",
        "tier": ["primary", "primary", "secondary", "secondary"], "group": "envio",
    })
    frame = outcomes([campaign], members, pd.DataFrame(columns=["customer_id", "at", "source", "kind",
                                                                "products", "value_brl"]))
    out = spec(charts.campaign_funnel(funnel([campaign], frame)))
    values = next(iter(out["datasets"].values()))
    assert [(v["nivel"], v["etapa"]) for v in values] == [
        (tier, step) for tier in ("Principal", "Secundário") for step in ("Respondeu", "Visitou", "Comprou")]
    assert {layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
            for layer in out["layer"]} == {"bar", "rule"}
    assert all(v["rate"] == 0 and v["high"] > 0 for v in values)
