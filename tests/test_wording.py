"""Portuguese wording: lists, numbers, percentages and relative days read as people write them."""

from __future__ import annotations

import math

import pytest

from services.wording import days_ago, join_pt, number, percent


@pytest.mark.parametrize(
    ("names", "text"),
    [([], ""), (["Rolex"], "Rolex"), (["Rolex", "Cartier"], "Rolex e Cartier"),
     (["Rolex", "Cartier", "Omega"], "Rolex, Cartier e Omega"),
     (iter(["A", "B", "C", "D"]), "A, B, C e D")],
)
def test_join_pt_puts_e_before_the_last_name(names, text):
    assert join_pt(names) == text


@pytest.mark.parametrize(
    ("share", "text"),
    [(0.4, "40%"), (0.15, "15%"), (2 / 3, "67%"), (0.125, "13%"), (0.025, "2,5%"),
     (0.05, "5%"), (0.0, "0%"), (1.0, "100%"), (0.8123, "81%"), (0.0996, "10%"), (0.0004, "0%")],
)
def test_percent_is_pt_br(share, text):
    assert percent(share) == text


def test_percent_with_decimals_and_unknown():
    assert percent(0.8125, 1) == "81,3%"
    assert percent(0.025, 1) == "2,5%"
    assert percent(0.02555, 1) == "2,56%"
    assert percent(None) == percent(math.nan) == "—"


def test_number_uses_pt_br_separators_and_rounds_halves_up():
    assert number(1234.5, 1) == "1.234,5"
    assert number(58900, 2) == "58.900,00"
    assert number(12.5) == "13"
    assert number(0.145, 2) == "0,15"
    assert number(None) == number(math.nan) == "—"


@pytest.mark.parametrize(
    ("days", "text"),
    [(None, "—"), (-2, "hoje"), (0, "hoje"), (1, "ontem"), (12, "há 12 dias"), (1234, "há 1.234 dias")],
)
def test_days_ago_reads_today_yesterday_and_n_days(days, text):
    assert days_ago(days) == text
