"""Métricas (AppTest): tiles, per-store table and distributions as the services compute them."""

from __future__ import annotations

from pathlib import Path

from apptest_support import JARDINS, LEBLON, NOW, SAVASSI, data_of, open_app

from dashboard.health import metric_value, store_table, verdict
from services.metrics import COVERAGE, DEPTH, METRICS, RECENCY, compute
from services.quality import quality_report
from services.wording import percent


def tiles(at) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.proto.delta) for m in at.metric}


def expected_tiles(report) -> dict[str, tuple[str, str]]:
    return {METRICS[key].label: (metric_value(key, report.total), verdict(key, report.total))
            for key in (COVERAGE, RECENCY, DEPTH)}


def test_tiles_show_each_metric_with_its_target_and_verdict(db: Path) -> None:
    at = open_app("metricas")
    assert not at.exception
    report = compute(data_of(db), NOW)
    assert tiles(at) == expected_tiles(report)
    assert tiles(at)["Cobertura"][1] in ("meta > 80%: atingida", "meta > 80%: não atingida")


def test_recency_shows_the_median_beside_the_mean(db: Path) -> None:
    at = open_app("metricas")
    report = compute(data_of(db), NOW)
    median = f"{report.total.recency_median_days:.1f}".replace(".", ",")
    mean = metric_value(RECENCY, report.total)
    assert f"Mediana: {median} dias" in [c.value for c in at.caption]
    assert next(m.value for m in at.metric if m.label == METRICS[RECENCY].label) == mean


def test_depth_above_the_range_is_said_in_a_neutral_colour(db: Path, monkeypatch) -> None:
    from dashboard import health
    from services.metrics import Figures

    above = Figures(customers=10, covered=9, coverage=0.9, recency_days=10.0, recency_median_days=8.0,
                    recency_excluded=0, depth=6.2)
    assert health.verdict(DEPTH, above) == "meta 3–5 itens: acima da faixa"
    assert health.STANDING_COLOURS[above.standing[DEPTH]] not in ("red", "green")
    at = open_app("metricas")
    report = compute(data_of(db), NOW)
    tile = next(m for m in at.metric if m.label == METRICS[DEPTH].label)
    assert report.total.depth > 5  # the demo's customers ask about many products
    assert tile.proto.delta == "meta 3–5 itens: acima da faixa"
    assert "RED" not in str(tile.proto).upper()
    table = store_table(report)
    depth_column = next(c for c in table.columns if c.startswith("Profundidade"))
    assert not any(cell.endswith("✗") for cell in table[depth_column] if "acima" in cell)


def test_the_store_table_has_every_store_and_the_total(db: Path) -> None:
    at = open_app("metricas")
    report = compute(data_of(db), NOW)
    shown = next(d.value for d in at.dataframe if "Loja" in d.value.columns and "Clientes" in d.value.columns)
    assert shown.astype(str).to_numpy().tolist() == store_table(report).astype(str).to_numpy().tolist()
    assert shown["Loja"].tolist()[-1] == "Total"


def test_choosing_a_store_in_the_sidebar_changes_the_tiles(db: Path) -> None:
    at = open_app("metricas")
    before = tiles(at)
    at.multiselect(key="app_stores").set_value([LEBLON]).run()
    report = compute(data_of(db, (LEBLON,)), NOW)
    assert tiles(at) == expected_tiles(report)
    assert tiles(at) != before


def test_the_distribution_selector_charts_one_store(db: Path) -> None:
    at = open_app("metricas")

    def recency_caption() -> str:
        return next(c.value for c in at.caption if "conversaram nos últimos 14 dias" in c.value)

    everyone = recency_caption()
    at.selectbox(key="metricas_store").select(LEBLON).run()
    buckets = compute(data_of(db, (LEBLON,)), NOW).recency_buckets
    within = buckets.loc[buckets["within_target"], "share"].sum()
    assert recency_caption().startswith(percent(within))
    assert recency_caption() != everyone
    assert len(at.get("vega_lite_chart")) == 4  # the weekly history, then the three distributions


def test_campaign_performance_points_to_the_results_page(db: Path) -> None:
    at = open_app("metricas")
    (link,) = [e for e in at.get("page_link") if "Resultados" in e.proto.label]
    assert link.proto.page == "resultados"
    assert not any("Desempenho de campanhas" in s.value for s in at.subheader)


def test_the_quality_panel_lists_problem_records_and_duplicate_pairs(db: Path) -> None:
    at = open_app("metricas")
    report = quality_report(data_of(db))
    affected = report["id"].nunique()
    assert any(c.value.startswith(f"{affected} registros com algum problema") for c in at.caption)
    reasons = next(d.value for d in at.dataframe if list(d.value.columns) == ["Motivo", "Clientes"])
    assert "telefone ilegível" in reasons["Motivo"].tolist()
    assert any("Telefones duplicados na mesma loja" in m.value for m in at.markdown)


def test_the_weekly_history_has_twelve_points_per_metric_for_each_store_and_the_total(db: Path) -> None:
    from dashboard.charts import weekly_history
    from services.store.sqlite import SqliteStore
    from services.weekly import weekly_metrics

    at = open_app("metricas")
    assert not at.exception
    assert at.segmented_control(key="metricas_weekly_metric").value == "coverage"
    weekly = weekly_metrics(data_of(db), SqliteStore(db).events.frame(), NOW)
    for metric in ("coverage", "recency_days", "depth"):
        spec = weekly_history(weekly, metric).to_dict()
        rows = next(rows for rows in spec["datasets"].values() if rows and "loja" in rows[0])
        by_store: dict[str, set] = {}
        for row in rows:
            by_store.setdefault(row["loja"], set()).add(row["semana"])
        assert set(by_store) == {JARDINS, LEBLON, SAVASSI, "Total"}
        assert all(len(weeks) == 12 for weeks in by_store.values()), metric
    at.segmented_control(key="metricas_weekly_metric").set_value("depth").run()
    assert not at.exception
