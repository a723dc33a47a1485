"""The interest fields, phones and the recording rule (SPEC §2–§3)."""

import re
import unicodedata
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.interests import (
    Customer,
    InvalidBatch,
    InvalidTime,
    apply_event,
    clean_item,
    depth_segment,
    depth_segments,
    format_phone,
    merge_history,
    normalize_phone,
    parse_interests,
    parse_time,
    phone_key,
    product_key,
    record_batch,
    repaired_history,
    require_time,
    to_long_text,
)

# The user's customer journey (SPEC §3), as the code computes it.
JOURNEY = [
    (
        ["Submariner", "GMT-Master II", "Datejust"],
        ["Submariner", "GMT-Master II", "Datejust"],
        3,
    ),
    (
        ["Anel Diamante", "Cartier Love"],
        ["Submariner", "GMT-Master II", "Datejust", "Anel Diamante", "Cartier Love"],
        5,
    ),
    (
        ["Nautilus 5711", "Aquanaut", "Calatrava"],
        ["Anel Diamante", "Cartier Love", "Nautilus 5711", "Aquanaut", "Calatrava"],
        8,
    ),
    (
        ["Grand Complications", "Twenty-4", "Golden Ellipse"],
        ["Aquanaut", "Calatrava", "Grand Complications", "Twenty-4", "Golden Ellipse"],
        11,
    ),
    (
        ["Submariner"],
        ["Calatrava", "Grand Complications", "Twenty-4", "Golden Ellipse", "Submariner"],
        11,
    ),
]


def test_worked_example_row_by_row():
    recent, history = [], []
    for batch, expected_recent, expected_depth in JOURNEY:
        recent, history = record_batch(recent, history, batch)
        assert recent == expected_recent
        assert len(history) == expected_depth
    assert history == [
        "Submariner", "GMT-Master II", "Datejust", "Anel Diamante", "Cartier Love",
        "Nautilus 5711", "Aquanaut", "Calatrava", "Grand Complications", "Twenty-4",
        "Golden Ellipse",
    ]


def test_remention_moves_product_to_most_recent_keeping_first_spelling():
    recent, history = record_batch(["Submariner", "Datejust"], ["Submariner", "Datejust"],
                                   ["  submariner "])
    assert recent == ["Datejust", "Submariner"]
    assert history == ["Submariner", "Datejust"]


def test_batch_is_cleaned_and_deduplicated_first_wins():
    recent, history = record_batch([], [], ["Anel  Diamante", "anel diamante", "", "Ánel Diamante"])
    assert recent == ["Anel Diamante"]
    assert history == ["Anel Diamante"]


def test_empty_batch_is_refused():
    with pytest.raises(InvalidBatch):
        record_batch(["A"], ["A"], [" ", ""])


def test_legacy_record_is_repaired_before_recording():
    recent, history = record_batch(["Submariner", "Datejust"], [], ["Nautilus 5711"])
    assert history == ["Submariner", "Datejust", "Nautilus 5711"]
    assert recent == ["Submariner", "Datejust", "Nautilus 5711"]


def test_repaired_history_appends_recent_items_missing_from_history():
    assert repaired_history(["A", "B", "C"], ["B", "X"]) == ["B", "X", "A", "C"]


def test_both_representations_read_alike():
    as_list = ["Submariner", " GMT-Master  II", "Datejust"]
    as_text = "Submariner, GMT-Master II, Datejust, ,"
    as_lines = "Submariner\nGMT-Master II,\r\nDatejust\n ,"
    assert parse_interests(as_list) == parse_interests(as_text) == parse_interests(as_lines) == [
        "Submariner", "GMT-Master II", "Datejust"
    ]


def test_a_list_item_with_a_comma_is_one_product():
    assert parse_interests(["Relógio Rolex Datejust 36, aço e ouro", "Frivole"]) == [
        "Relógio Rolex Datejust 36, aço e ouro", "Frivole"
    ]


def test_recording_a_product_with_a_comma_stores_one_interest():
    recent, history = record_batch([], [], ["Relógio Rolex Datejust 36, aço e ouro", "Frivole"])
    assert recent == history == ["Relógio Rolex Datejust 36, aço e ouro", "Frivole"]


def test_long_text_splits_on_lines_when_it_has_any_else_on_commas():
    assert parse_interests("A, B") == ["A", "B"]
    assert parse_interests("A, b\nC") == ["A, b", "C"]
    assert parse_interests("Datejust 36, aço e ouro\n") == ["Datejust 36, aço e ouro"]
    assert parse_interests("A, b\u2028C\r\n") == ["A, b", "C"]


def test_long_text_is_comma_joined_unless_a_product_holds_a_comma():
    assert to_long_text(["Submariner", "Datejust"]) == "Submariner, Datejust"
    assert to_long_text(["Datejust 36, aço e ouro", "Frivole"]) == "Datejust 36, aço e ouro\nFrivole"
    assert to_long_text(["Datejust 36, aço e ouro"]) == "Datejust 36, aço e ouro\n"
    assert to_long_text([]) == ""


product_titles = st.lists(
    st.text(alphabet="aÁç ,\u200b\tZ5-", min_size=1, max_size=12), max_size=7
).map(parse_interests)


@given(product_titles)
def test_long_text_reads_back_to_the_same_products(products):
    assert parse_interests(to_long_text(products)) == products


@pytest.mark.parametrize("item", ["\u200b", "\ufeff\u200d", "\x00", " \u2060 \x07 ", "\ud800"])
def test_invisible_only_products_are_dropped_like_empty_ones(item):
    assert clean_item(item) == ""
    assert parse_interests([item, "Daytona"]) == ["Daytona"]
    with pytest.raises(InvalidBatch):
        record_batch([], [], [item])


def test_control_and_zero_width_characters_are_removed_from_products():
    assert clean_item("Anel\u200b Dia\x00mante\ufeff") == "Anel Diamante"
    assert clean_item("Day\ttona\x85Rolex") == "Day tona Rolex"
    assert parse_interests(["Daytona", "Day\u200btona"]) == ["Daytona"]


@pytest.mark.parametrize("value", [None, 42, {"a": 1}, "", " , \n", []])
def test_unreadable_or_blank_field_reads_as_empty(value):
    assert parse_interests(value) == []


def test_product_keys_ignore_accents_case_and_spaces():
    assert product_key("Anel Diamante") == product_key("anel  diamante") == product_key(
        "Ánel Diamante"
    )
    assert parse_interests(["Anel Diamante", "anel  diamante", "Ánel Diamante"]) == [
        "Anel Diamante"
    ]


def _plain_product_key(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", bare.casefold()).strip()


@given(st.text(alphabet=st.sampled_from("aAeE çÇãÃéÉöÖßﬁİıǅ\u0301\u0327\u00a0\t\n1-ŉ한Ω")) | st.text())
def test_product_key_is_accents_dropped_then_case_folded_then_spaces_collapsed(text):
    assert product_key(text) == _plain_product_key(text)


def test_product_key_of_names_and_ligatures():
    assert product_key("  JOÃO  da Conceição ") == "joao da conceicao"
    assert product_key("Straße ﬁne İstanbul") == "strasse fine istanbul"


def test_merge_history_is_a_union_in_order_of_first_mention():
    merged = merge_history(["A", "B"], ["b", "C"], ["A", "D"])
    assert merged == ["A", "B", "C", "D"]
    assert merge_history(merged, merged) == merged


def test_apply_event_sets_last_interaction_and_first_contact():
    at = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)
    customer = apply_event(Customer(id="x", store="S", phone="+5511987654321"), ["Daytona"], at)
    assert customer.last_interaction == at
    assert customer.created_at == at
    later = apply_event(customer, ["Explorer"], datetime(2026, 4, 1, tzinfo=UTC))
    assert later.created_at == at
    assert later.interests == ["Daytona", "Explorer"]


# --- invariants, property-based -------------------------------------------------

titles = st.sampled_from([
    "Submariner", "submariner", "GMT-Master II", "Datejust", "Nautilus 5711", "Aquanaut",
    "Anel Diamante", "Ánel diamante", "Cartier Love", "Royal Oak", "Tank Must", "Carrera",
])
batches = st.lists(titles, min_size=1, max_size=3)


@given(st.lists(batches, min_size=1, max_size=12), st.lists(titles, max_size=7))
def test_recording_rule_invariants(events, legacy_recent):
    recent, history = list(dict.fromkeys(legacy_recent))[:5], []
    for batch in events:
        before_keys = [product_key(item) for item in repaired_history(recent, history)]
        recent, history = record_batch(recent, history, batch)
        keys = [product_key(item) for item in history]
        assert len(recent) <= 5
        assert {product_key(item) for item in recent} <= set(keys)
        assert keys[: len(before_keys)] == before_keys  # never loses or reorders an item
        assert len(keys) == len(set(keys))
        # The batch's products are now the most recent, in batch order.
        batch_keys = list(dict.fromkeys(product_key(item) for item in batch))[-5:]
        assert [product_key(item) for item in recent[-len(batch_keys):]] == batch_keys


@given(st.lists(batches, min_size=1, max_size=10))
def test_recording_the_same_batch_twice_changes_nothing(events):
    recent, history = [], []
    for batch in events:
        recent, history = record_batch(recent, history, batch)
    again = record_batch(recent, history, events[-1])
    assert again == (recent, history)


@given(st.lists(st.lists(st.integers(0, 10_000), min_size=1, max_size=3, unique=True),
                min_size=1, max_size=10, unique_by=tuple))
def test_without_repeats_recent_is_last_five_of_history(events):
    seen = [n for batch in events for n in batch]
    if len(seen) != len(set(seen)):
        return
    recent, history = [], []
    for batch in events:
        recent, history = record_batch(recent, history, [f"Produto {n}" for n in batch])
    assert recent == history[-5:]


# --- phones ----------------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    "(11) 9 8765-4321", "+55 11 98765-4321", "11987654321", "5511987654321",
    "+55 (11) 98765 4321", "011 98765-4321", " 11 98765.4321 ",
])
def test_brazilian_mobile_in_any_format_is_e164(raw):
    assert normalize_phone(raw) == "+5511987654321"


def test_mobile_without_ninth_digit_is_kept_and_shares_the_key():
    old = normalize_phone("+55 11 8765-4321")
    assert old == "+551187654321"
    assert phone_key(old) == phone_key("+5511987654321")


def test_landline_is_not_confused_with_a_mobile():
    landline = normalize_phone("(21) 3456-7890")
    assert landline == "+552134567890"
    assert phone_key(landline) == landline


@pytest.mark.parametrize("raw", ["", "n/d", "123", "abc", None, "+55 11 1234"])
def test_unreadable_phone_is_none(raw):
    assert normalize_phone(raw) is None


@pytest.mark.parametrize("raw", [
    "+55 11 9ABCD-4321", "(11) 9 8765-432l", "+55 11 98765-4321 ramal 2", "1-800-FLOWERS",
])
def test_letters_in_a_phone_are_refused_not_read_as_keypad_digits(raw):
    assert normalize_phone(raw) is None


@pytest.mark.parametrize("raw", [
    "0800 722 7777", "+55 800 722 7777", "0300 789 1234", "0900 123 4567", "4004-0001",
])
def test_toll_free_premium_and_shared_cost_numbers_are_not_whatsapp_numbers(raw):
    assert normalize_phone(raw) is None


def test_fixed_lines_are_kept_for_whatsapp_business():
    assert normalize_phone("+55 11 4004-0001") == "+551140040001"
    assert normalize_phone("+44 20 7946 0958") == "+442079460958"


def test_international_number_is_kept():
    assert normalize_phone("+1 415 555 2671") == "+14155552671"


def test_phone_formatting_for_people():
    assert format_phone("+5511987654321") == "+55 11 98765-4321"
    assert format_phone("+551187654321") == "+55 11 8765-4321"


# --- dates -----------------------------------------------------------------------


def test_times_are_read_as_utc_and_bad_ones_as_none():
    assert parse_time("2026-01-05T10:00:00.000Z") == datetime(2026, 1, 5, 10, tzinfo=UTC)
    assert parse_time("2026-01-05") == datetime(2026, 1, 5, tzinfo=UTC)
    assert parse_time("31/02/2025") is None
    assert parse_time("ontem") is None
    assert parse_time(12) is None


def test_depth_segments_follow_the_spec_at_every_edge():
    depths = [0, 2, 3, 10, 11, 40]
    keys = ["early", "early", "developing", "developing", "serious", "serious"]
    assert depth_segments(depths).tolist() == keys
    assert [depth_segment(d) for d in depths] == keys
    assert depth_segments([]).tolist() == []


@pytest.mark.parametrize("value", [
    "2300-01-01", "9999-12-31T23:59:59Z", "0001-01-01", "1600-01-01T10:00:00+03:00",
    "0001-01-01T00:00:00+03:00", "9999-12-31T23:00:00-03:00", "1899-12-31T23:59:59Z",
    datetime(9999, 12, 31), datetime(1, 1, 1, tzinfo=UTC),
])
def test_dates_outside_1900_2200_are_not_moments(value):
    assert parse_time(value) is None


def test_dates_at_the_edges_of_1900_2200_are_read():
    assert parse_time("1900-01-01") == datetime(1900, 1, 1, tzinfo=UTC)
    assert parse_time("2200-12-31T23:59:59Z") == datetime(2200, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_typed_date_is_read_or_refused_in_one_line():
    assert require_time("2026-01-05T10:00:00Z") == datetime(2026, 1, 5, 10, tzinfo=UTC)
    with pytest.raises(InvalidTime, match="^data fora do intervalo 1900–2200: '2300-01-01'$"):
        require_time("2300-01-01")
    with pytest.raises(InvalidTime, match=r"^data inválida \(use ISO 8601") as refused:
        require_time("ontem\n")
    assert "\n" not in str(refused.value)
    with pytest.raises(ValueError):  # the CLI's existing handlers still catch it
        require_time("0001-01-01T00:00:00+03:00")


# --- One customer in several records ---------------------------------------------------


def test_merging_records_keeps_every_interest_older_record_first():
    from datetime import UTC, datetime

    from services.interests import Customer
    from services.twins import merge_customers, merge_interests

    assert merge_interests([(["A", "B"], ["X", "A", "B"]), (["B", "C"], ["B", "C"])]) == (
        ["A", "B", "C"], ["X", "A", "B", "C"])
    old = Customer("r1", "Loja", "+551187650000", "Carla", ["A"], ["A"],
                   created_at=datetime(2024, 1, 1, tzinfo=UTC),
                   last_interaction=datetime(2025, 1, 1, tzinfo=UTC), opt_out=True)
    new = Customer("r2", "Loja", "+5511987650000", "", ["B"], ["B"],
                   created_at=datetime(2025, 2, 1, tzinfo=UTC),
                   last_interaction=datetime(2026, 1, 1, tzinfo=UTC))
    for records in ([old, new], [new, old]):
        merged = merge_customers(records)
        assert (merged.id, merged.phone, merged.name) == ("r2", "+5511987650000", "Carla")
        assert (merged.interests, merged.interests_all) == (["A", "B"], ["A", "B"])
        assert merged.created_at == old.created_at and merged.last_interaction == new.last_interaction
        assert merged.opt_out
