"""``{link}`` in campaign messages (SPEC §5, §12): the product's page per campaign and tier, or nothing."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from services import config
from services.frame import build
from services.interests import iso
from services.links import ProductLinks
from services.messages import Templates, render_message
from services.segments import PRIMARY, SECONDARY, Segment, build_list
from services.store.airtable.records import product_rows
from services.store.airtable.schema import Schema
from services.store.sqlite import SqliteStore

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
SHOP = "https://loja.example.com/produtos"
TEMPLATES = Templates("O {product} chegou! Veja: {link}", "Lembra do {product}? Veja: {link}")


def customer(id_: str, phone: str, recent: list[str], history: list[str]) -> dict[str, object]:
    return {"id": id_, "store": "Loja A", "phone": phone, "name": "Ana Souza", "interests": recent,
            "interests_all": history, "created_at": "2025-01-01T00:00:00Z",
            "last_interaction": iso(NOW - timedelta(days=30)), "opt_out": False}


def submariner_list(links: ProductLinks | None):
    data = build(pd.DataFrame([
        customer("recHot", "+5511987650001", ["Submariner"], ["Submariner"]),
        customer("recOld", "+5511987650002", ["Daytona"], ["Submariner", "Daytona"]),
    ]))
    return build_list(data, Segment(("Submariner",)), NOW, TEMPLATES, links=links)


def test_link_is_the_product_page_tagged_with_campaign_and_tier() -> None:
    rows = submariner_list(ProductLinks("Submariner de volta", SHOP)).rows
    tag = "utm_source=whatsapp&utm_medium=vitrine&utm_campaign=submariner-de-volta"
    assert rows.loc["recHot", "message"] == (
        f"O Submariner chegou! Veja: {SHOP}/submariner?{tag}&utm_content={PRIMARY}")
    assert rows.loc["recOld", "message"] == (
        f"Lembra do Submariner? Veja: {SHOP}/submariner?{tag}&utm_content={SECONDARY}")


def test_a_product_own_page_wins_over_the_base_url() -> None:
    links = ProductLinks("Junho", SHOP, {"submariner": "https://rolex.example.com/sub"})
    rows = submariner_list(links).rows
    assert "Veja: https://rolex.example.com/sub?utm_source=whatsapp" in rows.loc["recHot", "message"]


def test_without_a_page_the_link_leaves_the_message_tidy() -> None:
    for links in (None, ProductLinks("Junho")):
        rows = submariner_list(links).rows
        assert rows.loc["recHot", "message"] == "O Submariner chegou! Veja"
        assert rows.loc["recOld", "message"] == "Lembra do Submariner? Veja"
    assert render_message("Confira em {link}.", {}) == "Confira."


def test_an_old_file_gains_the_url_column_without_losing_its_catalog(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE products (key TEXT PRIMARY KEY, title TEXT, brand TEXT, category TEXT,"
                   " price_brl INTEGER)")
        db.execute("INSERT INTO products VALUES ('submariner', 'Submariner', 'Rolex', 'watch', 98000)")
    store = SqliteStore(path)
    assert store.catalog()["submariner"].brand == "Rolex"
    assert store.prices() == {"submariner": 98000}
    assert store.product_urls() == {}
    store.replace_products([("submariner", "Submariner", "Rolex", "watch", 98000, "https://x.example/sub"),
                            ("daytona", "Daytona", "Rolex", "watch", None)])
    assert store.product_urls() == {"submariner": "https://x.example/sub"}


def test_the_products_table_url_field_reaches_the_catalog_rows() -> None:
    schema = Schema("tblC", "Customers", {}, products="tblP",
                    products_fields={"title": "title", "brand": "brand", "url": "url"})
    rows = product_rows([
        {"fields": {"title": "Submariner", "brand": "Rolex", "url": " https://loja.example.com/sub "}},
        {"fields": {"title": "Daytona", "brand": "Rolex"}},
    ], schema)
    assert [(row[0], row[5]) for row in rows] == [("submariner", "https://loja.example.com/sub"),
                                                  ("daytona", None)]


def test_the_base_url_comes_from_the_environment_then_the_vitrine_secrets() -> None:
    section = {"product_base_url": "https://loja.example.com/p"}
    assert config.product_base_url(section, {}) == "https://loja.example.com/p"
    assert config.product_base_url(section, {config.PRODUCT_BASE_URL: SHOP}) == SHOP
    assert config.product_base_url({"product_base_url": "loja.example.com"}, {}) is None
    assert config.product_base_url(None, {}) is None
