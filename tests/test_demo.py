"""The demo database: deterministic, realistic, obeying the recording rule, messy on purpose."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import phonenumbers
import pytest

from services import demo
from services.catalog import DEMO_CATALOG
from services.frame import build
from services.interests import parse_interests, parse_time, product_key, split_raw
from services.store.sqlite import SqliteStore

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
AREA_CODES = {s.name: s.area_code for s in demo.STORES}
NAME = re.compile(r"^[A-ZÀ-Ý][a-zà-ÿ]+(?: [A-ZÀ-Ý][a-zà-ÿ]+)*(?: (?:de|da|do|dos|das) [A-ZÀ-Ý][a-zà-ÿ]+)*")


def fill(tmp_path, name: str, customers: int = 1500, seed: int = 7, now: datetime = NOW):
    store = SqliteStore(tmp_path / name)
    summary = demo.generate(store, customers, seed, now=now)
    return store, summary


def all_rows(store: SqliteStore) -> list[tuple]:
    with store.connect() as db:
        customers = db.execute("SELECT * FROM customers ORDER BY rowid").fetchall()
        products = db.execute("SELECT * FROM products ORDER BY key").fetchall()
        stores = db.execute("SELECT * FROM stores ORDER BY name").fetchall()
    return [*customers, *products, *stores]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return fill(tmp_path_factory.mktemp("demo"), "small.db")


def test_same_seed_gives_the_same_database(tmp_path):
    first, _ = fill(tmp_path, "a.db", 800)
    second, _ = fill(tmp_path, "b.db", 800)
    assert all_rows(first) == all_rows(second)


def test_another_seed_gives_other_customers(tmp_path):
    first, _ = fill(tmp_path, "a.db", 300, seed=1)
    second, _ = fill(tmp_path, "b.db", 300, seed=2)
    assert all_rows(first) != all_rows(second)


def test_regenerating_replaces_the_content(tmp_path):
    store, _ = fill(tmp_path, "a.db", 300)
    demo.generate(store, 200, now=NOW)
    assert len(store.raw_customers(store.stores())) == 200


def test_default_size_has_three_stores_and_thousands_of_customers(tmp_path):
    started = time.perf_counter()
    store, summary = fill(tmp_path, "full.db", customers=6000)
    elapsed = time.perf_counter() - started
    raw = store.raw_customers(store.stores())
    assert len(raw) == summary.customers == 6000
    assert store.stores() == ["Vitrine Jardins", "Vitrine Leblon", "Vitrine Savassi"]
    assert raw["store"].value_counts().min() > 600
    assert store.get_meta("source") == "demo"
    assert elapsed < 10


def test_catalog_holds_the_demo_products_with_prices(small):
    store, _ = small
    prices = store.prices()
    assert len(prices) == len(DEMO_CATALOG)
    assert prices[product_key("Nautilus 5711")] == 980_000
    assert store.catalog()[product_key("Cartier Love")].brand == "Cartier"


def test_clean_records_obey_the_recording_rule(small):
    store, summary = small
    raw = store.raw_customers(store.stores())
    clean = raw[~raw["id"].isin(summary.messy_ids)]
    assert len(clean) > 0.9 * len(raw)
    for row in clean.itertuples():
        recent, history = row.interests or [], row.interests_all or []
        assert isinstance(recent, list) and isinstance(history, list)
        assert len(recent) <= 5
        assert len(set(map(product_key, recent))) == len(recent)
        assert len(set(map(product_key, history))) == len(history)
        assert {product_key(i) for i in recent} <= {product_key(i) for i in history}
        if row.id not in summary.rementioned:
            assert recent == history[-5:]
        else:
            # A product asked about again is the most recent, still only once in history.
            assert recent[-1] in history


def test_rementions_happen_but_most_journeys_follow_the_slice(small):
    _, summary = small
    assert 0 < len(summary.rementioned) < summary.customers


def test_times_span_the_year_before_now_with_created_first(small):
    store, summary = small
    raw = store.raw_customers(store.stores())
    clean = raw[~raw["id"].isin(summary.messy_ids)]
    created = clean["created_at"].map(parse_time)
    last = clean["last_interaction"].map(parse_time)
    assert (created <= last).all()
    assert created.min() >= NOW - timedelta(days=366)
    assert last.max() <= NOW


def test_recency_depth_and_coverage_look_like_a_real_base(small):
    store, _ = small
    customers = build(store.raw_customers(store.stores()), store.catalog()).customers
    with_interests = customers[customers["depth"] > 0]
    coverage = len(with_interests) / len(customers)
    days = (NOW - with_interests["last_interaction"]).dt.days
    depth = with_interests["depth"]
    assert 0.84 <= coverage <= 0.92
    assert (days <= 14).mean() > 0.3
    assert (days > 60).mean() > 0.15
    assert ((depth >= 3) & (depth <= 12)).mean() > 0.65
    assert (depth <= 2).mean() > 0.05
    assert (depth > 10).mean() > 0.05
    assert 0.02 <= customers["opt_out"].mean() <= 0.045


def test_clean_records_have_brazilian_names_and_whatsapp_numbers(small):
    store, summary = small
    raw = store.raw_customers(store.stores())
    clean = raw[~raw["id"].isin(summary.messy_ids)]
    for row in clean.itertuples():
        assert NAME.match(row.name), row.name
        assert len(row.name.split()) >= 2
        number = phonenumbers.parse(row.phone, None)
        assert phonenumbers.is_valid_number(number)
        assert row.phone == phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        assert row.phone.startswith("+55" + AREA_CODES[row.store] + "9")


def test_each_kind_of_mess_is_present(small):
    store, summary = small
    raw = store.raw_customers(store.stores()).set_index("id")
    for kind in demo.MESSY_SHARES:
        assert summary.messy[kind], kind
    first = {kind: raw.loc[list(ids)] for kind, ids in summary.messy.items()}
    assert all(not isinstance(n, str) or not n.strip() for n in first[demo.BLANK_NAME]["name"])
    assert all(p in demo.UNREADABLE_PHONES for p in first[demo.BAD_PHONE]["phone"])
    assert all(not p.startswith("+55") or " " in p for p in first[demo.ODD_PHONE]["phone"])
    assert all(isinstance(v, str) for v in first[demo.LONG_TEXT]["interests_all"])
    assert all(not v for v in first[demo.LEGACY]["interests_all"])
    assert all(len(v) > 5 for v in first[demo.OVER_FIVE]["interests"])
    assert all(
        len(split_raw(v)) > len(parse_interests(v)) or any(not i.strip() for i in v)
        for v in first[demo.REPEATED]["interests"]
    )
    assert all(
        parse_time(c) is None or parse_time(last) is None
        for c, last in zip(first[demo.BAD_DATE]["created_at"],
                           first[demo.BAD_DATE]["last_interaction"], strict=True)
    )


def test_duplicates_are_found_as_the_same_customer(small):
    store, summary = small
    data = build(store.raw_customers(store.stores()), store.catalog()).customers.set_index("id")
    for twin in summary.messy[demo.NINTH_DIGIT]:
        assert len(data.loc[twin, "phone"]) == 13  # +55 DD 8 digits: no ninth digit
        assert "mesmo telefone com e sem o nono dígito" in data.loc[twin, "problems"]
    for twin in summary.messy[demo.DUPLICATE]:
        assert "telefone duplicado na loja" in data.loc[twin, "problems"]


def test_odd_phone_formats_still_read_as_the_customers_number(small):
    store, summary = small
    data = build(store.raw_customers(store.stores()), store.catalog()).customers.set_index("id")
    odd = data.loc[list(summary.messy[demo.ODD_PHONE])]
    assert odd["phone"].notna().all()
    assert {"(", " "} & set("".join(odd["phone_raw"]))


def test_nautilus_and_royal_oak_are_trending(small):
    store, _ = small
    data = build(store.raw_customers(store.stores()), store.catalog())
    recent = data.recent_items["key"].value_counts(normalize=True)
    history = data.history_items["key"].value_counts(normalize=True)
    lift = recent / history
    assert lift[product_key("Nautilus 5711")] >= 1.5
    assert lift[product_key("Royal Oak")] >= 1.5
    assert lift[product_key("Oyster Perpetual 41")] < 1


def test_rolex_customers_also_ask_about_cartier(small):
    store, _ = small
    data = build(store.raw_customers(store.stores()), store.catalog())
    brands = data.products.set_index("key")["brand"]
    per_customer = data.history_items.assign(brand=lambda f: f["key"].map(brands).astype(object))
    sets = per_customer.groupby("cid")["brand"].agg(set)
    rolex = sets[sets.map(lambda s: "Rolex" in s)]
    both = rolex.map(lambda s: "Cartier" in s).mean()
    assert 0.15 < both < 0.6
    climbers = rolex.map(lambda s: "Patek Philippe" in s).mean()
    assert climbers > 0.05


def test_ensure_demo_fills_only_a_new_file(tmp_path):
    path = tmp_path / "vitrine.db"
    store = demo.ensure_demo(path, NOW, customers=200)
    assert len(store.raw_customers(store.stores())) == 200
    store.record("Vitrine Jardins", "+5511987654321", ["Submariner"], NOW)
    again = demo.ensure_demo(path, NOW + timedelta(days=1), customers=200)
    assert len(again.raw_customers(again.stores())) == 201


def test_ensure_demo_leaves_an_airtable_mirror_alone(tmp_path):
    path = tmp_path / "mirror.db"
    SqliteStore(path).set_meta("source", "airtable")
    store = demo.ensure_demo(path, NOW, customers=200)
    assert store.is_empty()


def test_summary_line_names_the_stores_and_coverage(small):
    _, summary = small
    line = summary.line()
    assert "\n" not in line
    assert "1500 clientes" in line and "Vitrine Leblon" in line and "cobertura" in line
