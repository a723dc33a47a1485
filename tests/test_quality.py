"""The data-quality panel (SPEC §9): every problem record with its reason, and duplicate phones."""

from __future__ import annotations

from services import frame, quality
from tests.records import frame_of as data_of
from tests.records import raw_record as record


def messy_data():
    return data_of(
        record(1),
        record(2, phone="12345"),
        record(3, phone="", last_interaction="ontem"),
        record(4, interests=["Submariner", "Nautilus 5711"], interests_all=["Submariner"]),
        record(5, interests="Submariner, submariner"),
        record(6, phone="+5511987654321", name="Ana"),
        record(7, phone="+551187654321", name="Ana Souza"),
        record(8, phone="+5511912340000", name="Bia"),
        record(9, phone="(11) 91234-0000", name="Beatriz"),
        record(10, phone="+5511912340000", store="Leblon", name="Bia no Leblon"),
        record(11, interests=42),
    )


def test_clean_customers_are_not_listed():
    report = quality.quality_report(messy_data())
    assert "rec1" not in set(report["id"])
    assert "rec10" not in set(report["id"])


def test_each_reason_is_one_row_with_the_customer():
    report = quality.quality_report(messy_data())
    assert list(report.columns) == ["id", "store", "name", "phone_raw", "reason"]
    reasons = report.groupby("id")["reason"].agg(sorted).to_dict()
    assert reasons["rec2"] == [frame.BAD_PHONE]
    # In words, not the base's field names.
    assert reasons["rec3"] == sorted([frame.NO_PHONE, "data do último contato ilegível"])
    assert reasons["rec4"] == [frame.LEGACY]
    assert reasons["rec5"] == ["produtos repetidos nos interesses recentes"]
    assert reasons["rec11"] == ["interesses recentes em formato inesperado"]
    assert not any(field in reason for reason in report["reason"]
                   for field in ("interests", "last_interaction", "created_at"))
    row = report[report["id"] == "rec2"].iloc[0]
    assert (row["store"], row["name"], row["phone_raw"]) == ("Jardins", "Cliente 2", "12345")


def test_phone_with_and_without_ninth_digit_is_flagged_on_both_records():
    report = quality.quality_report(messy_data())
    flagged = report[report["reason"] == frame.NINTH_DIGIT]
    assert sorted(flagged["id"]) == ["rec6", "rec7"]
    exact = report[report["reason"] == frame.DUPLICATE]
    assert sorted(exact["id"]) == ["rec8", "rec9"]


def test_reason_counts():
    counts = quality.reason_counts(quality.quality_report(messy_data()))
    by_reason = dict(zip(counts["reason"], counts["customers"], strict=True))
    assert by_reason[frame.NINTH_DIGIT] == 2
    assert by_reason[frame.DUPLICATE] == 2
    assert by_reason[frame.BAD_PHONE] == 1
    assert by_reason[frame.NO_PHONE] == 1
    assert sum(by_reason.values()) == 10
    assert counts["customers"].is_monotonic_decreasing


def test_duplicate_phone_pairs_within_a_store():
    pairs = quality.duplicate_phones(messy_data())
    assert list(pairs.columns) == quality.PAIR_COLUMNS
    assert len(pairs) == 2
    ninth = pairs[pairs["reason"] == frame.NINTH_DIGIT].iloc[0]
    assert (ninth["id_a"], ninth["id_b"]) == ("rec6", "rec7")
    assert (ninth["phone_a"], ninth["phone_b"]) == ("+5511987654321", "+551187654321")
    assert (ninth["name_a"], ninth["name_b"]) == ("Ana", "Ana Souza")
    exact = pairs[pairs["reason"] == frame.DUPLICATE].iloc[0]
    assert (exact["id_a"], exact["id_b"]) == ("rec8", "rec9")
    assert exact["phone_a"] == exact["phone_b"] == "+5511912340000"
    assert exact["phone_raw_b"] == "(11) 91234-0000"


def test_three_records_of_one_phone_give_three_pairs():
    pairs = quality.duplicate_phones(data_of(
        record(1, phone="+5511987654321"),
        record(2, phone="+551187654321"),
        record(3, phone="11 98765-4321"),
    ))
    assert sorted(zip(pairs["id_a"], pairs["id_b"], strict=True)) == [
        ("rec1", "rec2"), ("rec1", "rec3"), ("rec2", "rec3"),
    ]
    assert sorted(pairs["reason"]) == sorted([frame.DUPLICATE, frame.NINTH_DIGIT, frame.NINTH_DIGIT])


def test_store_scope_limits_the_panel():
    data = messy_data().for_stores(["Leblon"])
    assert quality.quality_report(data).empty
    assert quality.duplicate_phones(data).empty
    assert quality.reason_counts(quality.quality_report(data)).empty


def test_products_outside_the_catalog_are_listed_with_their_customers():
    data = data_of(
        record(1, history=["Submariner", "Submarine"]),
        record(2, history=["Submarine", "Daytona"]),
        record(3, history=["Daytona"]),
    )
    catalog = {"submariner", "daytona"}
    outside = quality.outside_catalog(data, catalog)
    assert outside.to_dict("records") == [{"title": "Submarine", "customers": 2}]
    report = quality.quality_report(data, catalog)
    flagged = report[report["reason"] == quality.OUTSIDE_CATALOG]
    assert sorted(flagged["id"]) == ["rec1", "rec2"]
    # Without a catalog there is nothing to check against.
    assert quality.outside_catalog(data, set()).empty
    assert quality.quality_report(data).empty
