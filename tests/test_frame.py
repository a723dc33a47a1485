"""The customer frame: every record shows, however messy (SPEC §2, §9)."""

from datetime import UTC, datetime

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from services.frame import (
    BAD_DATE,
    BAD_PHONE,
    BAD_TYPE,
    DUPLICATE,
    LEGACY,
    NINTH_DIGIT,
    NO_PHONE,
    OVER_LIMIT,
    REPEATED,
    build,
    field_problem,
)


def record(id_, **fields):
    base = {"id": id_, "store": "Loja A", "phone": "+5511900000000", "name": "Ana",
            "interests": [], "interests_all": [], "created_at": "2026-01-01T00:00:00Z",
            "last_interaction": "2026-11-01T00:00:00Z", "opt_out": False}
    return base | fields


def test_messy_records_still_show_with_their_reasons():
    data = build(pd.DataFrame([
        record("a", phone="n/d"),
        record("b", phone="+5511911111111", interests=42),
        record("c", phone="+5511922222222", last_interaction="31/02/2025"),
        record("d", phone="+5511933333333", interests=["A", "B", "C", "D", "E", "F"],
               interests_all=["A", "B", "C", "D", "E", "F"]),
        record("e", phone="+5511944444444", interests="Daytona, daytona, Explorer"),
    ]))
    problems = dict(zip(data.customers["id"], data.customers["problems"], strict=True))
    assert len(data.customers) == 5
    assert BAD_PHONE in problems["a"]
    assert field_problem(BAD_TYPE, "interests") in problems["b"]
    assert field_problem(BAD_DATE, "last_interaction") in problems["c"]
    assert OVER_LIMIT in problems["d"]
    assert field_problem(REPEATED, "interests") in problems["e"]
    assert data.customers.loc[4, "recent"] == ["Daytona", "Explorer"]


def test_legacy_record_reads_with_repaired_history():
    data = build(pd.DataFrame([record("a", interests=["Submariner", "Datejust"],
                                      interests_all=["Datejust"])]))
    assert data.customers.loc[0, "history"] == ["Datejust", "Submariner"]
    assert data.customers.loc[0, "depth"] == 2
    assert LEGACY in data.customers.loc[0, "problems"]


def test_duplicate_phones_in_a_store_are_flagged_by_kind():
    data = build(pd.DataFrame([
        record("a", phone="+5511987654321"),
        record("b", phone="(11) 8765-4321"),
        record("c", phone="+5521999990000"),
        record("d", phone="21 99999-0000"),
        record("e", phone="+5521999990000", store="Loja B"),
    ]))
    problems = dict(zip(data.customers["id"], data.customers["problems"], strict=True))
    assert NINTH_DIGIT in problems["a"] and NINTH_DIGIT in problems["b"]
    assert DUPLICATE in problems["c"] and DUPLICATE in problems["d"]
    assert problems["e"] == []


def test_long_tables_follow_history_order():
    data = build(pd.DataFrame([
        record("a", interests=["B", "C"], interests_all=["A", "B", "C"]),
        record("b", phone="+5511911111111", interests=[], interests_all=[]),
        record("c", phone="+5511922222222", interests="X", interests_all="X"),
    ]))
    assert data.history_items["cid"].tolist() == [0, 0, 0, 2]
    assert data.history_items["pos"].tolist() == [0, 1, 2, 0]
    assert data.recent_items["key"].astype(str).tolist() == ["b", "c", "x"]
    assert sorted(data.products["key"]) == ["a", "b", "c", "x"]


def test_scoping_to_stores_renumbers_the_long_tables():
    data = build(pd.DataFrame([
        record("a", interests=["A"], interests_all=["A"]),
        record("b", store="Loja B", phone="+5511911111111", interests=["B"], interests_all=["B"]),
    ]))
    only_b = data.for_stores({"Loja B"})
    assert only_b.customers["id"].tolist() == ["b"]
    assert only_b.history_items["cid"].tolist() == [0]
    assert only_b.history_items["key"].astype(str).tolist() == ["b"]
    assert data.for_stores(set()).customers.empty


def test_an_empty_base_builds_an_empty_frame():
    data = build(pd.DataFrame(columns=["id", "store", "phone"]))
    assert data.customers.empty
    assert data.history_items.empty and data.products.empty


def test_missing_phone_and_dates_read_as_missing_not_unreadable(tmp_path):
    from services.store.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "v.db")
    store.add_store("Loja A")
    store.insert_raw([
        record("a", store="Loja A", interests=["X"], interests_all=["X"]),
        record("b", store="Loja A", phone=None, name=None, interests=None, interests_all=None,
               created_at=None, last_interaction=None),
    ])
    # The text columns read their gaps as NaN: still missing, not unreadable.
    data = build(store.raw_customers(["Loja A"]))
    assert data.customers.loc[1, "problems"] == [NO_PHONE]
    assert data.customers["last_interaction"].isna().tolist() == [False, True]


def test_e164_fast_path_agrees_with_normalize_phone_for_every_area_code():
    import random

    from services.frame import _normalize_phones
    from services.interests import normalize_phone

    rng = random.Random(11)
    shapes = [(ddd, 9, d4, 9) for ddd in range(10, 100) for d4 in range(10)]
    shapes += [(rng.randrange(10, 100), rng.randrange(10), rng.randrange(10), rng.choice((8, 9)))
               for _ in range(1500)]
    numbers = [
        f"+55{ddd}{d3}{d4}{rng.randrange(10 ** (rest - 2)):0{rest - 2}d}"
        for ddd, d3, d4, rest in shapes for _ in range(3)
    ]
    assert _normalize_phones(numbers) == [normalize_phone(n) for n in numbers]


@settings(deadline=None)  # a loaded machine must not fail a rule test
@given(st.lists(st.one_of(
    st.none(), st.integers(),
    st.text(alphabet="aÁá \u0301,\n\tXy", max_size=8),
    st.lists(st.one_of(st.text(alphabet="aÁá \u0301,\n\tXy", max_size=6), st.integers(), st.none()),
             max_size=7),
), min_size=2, max_size=12))
def test_the_fast_reading_of_lists_agrees_with_the_field_rules(values):
    from services.frame import _read_list
    from services.interests import product_key, repaired_history

    rows = [record(str(i), phone=f"+55119{i:08d}", interests=v, interests_all=values[-1 - i])
            for i, v in enumerate(values)]
    data = build(pd.DataFrame(rows))
    for i, row in enumerate(rows):
        problems: list[str] = []
        recent = _read_list(row["interests"], "interests", problems)
        stored = _read_list(row["interests_all"], "interests_all", problems)
        history = repaired_history(recent, stored)
        assert data.customers.loc[i, "recent"] == recent
        assert data.customers.loc[i, "history"] == history
        assert [p for p in data.customers.loc[i, "problems"] if p in problems] == problems
        items = data.history_items[data.history_items["cid"] == i]
        assert items["key"].astype(str).tolist() == [product_key(h) for h in history]


OUT_OF_RANGE = [
    "2300-01-01T00:00:00Z", "9999-12-31", "0001-01-01", "1600-01-01T10:00:00+03:00",
    "0001-01-01T00:00:00+03:00", "9999-12-31T23:00:00-03:00", "1899-12-31T23:59:59Z",
    datetime(9999, 12, 31), datetime(1, 1, 1, tzinfo=UTC),
]


def test_dates_outside_1900_2200_are_listed_as_unreadable_and_every_rule_still_runs():
    from services import metrics, quality
    from services.segments import Segment, build_list

    now = datetime(2026, 11, 24, tzinfo=UTC)
    rows = [record(f"r{i}", phone=f"+55119{i:08d}", interests=["Submariner"],
                   interests_all=["Submariner"], created_at=date, last_interaction=date)
            for i, date in enumerate(OUT_OF_RANGE)]
    rows.append(record("edge", phone="+5511988888888", interests=["Daytona"],
                       interests_all=["Daytona"], created_at="1900-01-01", last_interaction="2200-12-31"))
    data = build(pd.DataFrame(rows))
    customers = data.customers.set_index("id")
    for i in range(len(OUT_OF_RANGE)):
        assert pd.isna(customers.loc[f"r{i}", "last_interaction"])
        assert field_problem(BAD_DATE, "last_interaction") in customers.loc[f"r{i}", "problems"]
        assert field_problem(BAD_DATE, "created_at") in customers.loc[f"r{i}", "problems"]
    assert customers.loc["edge", "problems"] == []
    assert customers.loc["edge", "last_interaction"].year == 2200
    report = quality.quality_report(data)
    flagged = report[report["reason"] == field_problem(BAD_DATE, "last_interaction")]
    assert sorted(flagged["id"]) == sorted(f"r{i}" for i in range(len(OUT_OF_RANGE)))

    report = metrics.compute(data, now)
    assert report.total.customers == len(rows)
    assert report.created_unknown == len(OUT_OF_RANGE)
    listed = build_list(data, Segment(("Submariner",), quiet_days=0), now)
    assert listed.counts["primary"] == len(OUT_OF_RANGE)


def test_invisible_only_products_are_dropped_and_listed_like_blank_ones():
    from services.frame import BLANK_ITEMS, field_problem

    data = build(pd.DataFrame([record("a", interests=["\u200b\ufeff", "Daytona"],
                                      interests_all=["Daytona", "\x00"])]))
    assert data.customers.loc[0, "recent"] == ["Daytona"]
    assert data.customers.loc[0, "history"] == ["Daytona"]
    assert field_problem(BLANK_ITEMS, "interests") in data.customers.loc[0, "problems"]
    assert field_problem(BLANK_ITEMS, "interests_all") in data.customers.loc[0, "problems"]
