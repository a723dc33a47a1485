"""The customer frame: every record shows, however messy (SPEC §2, §9)."""

import pandas as pd

from services.frame import (
    BAD_DATE,
    BAD_PHONE,
    BAD_TYPE,
    DUPLICATE,
    LEGACY,
    NINTH_DIGIT,
    OVER_LIMIT,
    REPEATED,
    build,
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
    assert BAD_TYPE.format(field="interests") in problems["b"]
    assert BAD_DATE.format(field="last_interaction") in problems["c"]
    assert OVER_LIMIT in problems["d"]
    assert REPEATED.format(field="interests") in problems["e"]
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
