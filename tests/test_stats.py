"""Wilson and Newcombe intervals against the values Newcombe published (Stat Med 1998)."""

from __future__ import annotations

import math

import pytest

from services.stats import newcombe, wilson


# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I, method 3.
@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)],
)
def test_wilson_matches_newcombe_table_one(successes: int, n: int, low: float, high: float) -> None:
    got = wilson(successes, n)
    assert got == pytest.approx((low, high), abs=5e-5)


def test_wilson_of_all_successes_ends_exactly_at_one() -> None:
    low, high = wilson(20, 20)
    assert high == 1.0
    assert low == pytest.approx(1 - 0.1611, abs=5e-5)


def test_wilson_of_no_trials_is_the_whole_range() -> None:
    assert wilson(0, 0) == (0.0, 1.0)


# Newcombe (1998), "Interval estimation for the difference between independent proportions",
# Table II, method 10 (score interval of each proportion, combined).
@pytest.mark.parametrize(
    ("s1", "n1", "s2", "n2", "low", "high"),
    [
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (6, 7, 2, 7, 0.0582, 0.8062),
        (5, 56, 0, 29, -0.0381, 0.1926),
        (0, 10, 0, 20, -0.1611, 0.2775),
        (0, 10, 0, 10, -0.2775, 0.2775),
        (10, 10, 0, 20, 0.6791, 1.0),
        (10, 10, 0, 10, 0.6075, 1.0),
    ],
)
def test_newcombe_matches_newcombe_table_two(
    s1: int, n1: int, s2: int, n2: int, low: float, high: float
) -> None:
    diff, got_low, got_high = newcombe(s1, n1, s2, n2)
    assert diff == pytest.approx(s1 / n1 - s2 / n2)
    assert (got_low, got_high) == pytest.approx((low, high), abs=5e-5)


def test_newcombe_with_an_empty_group_claims_nothing() -> None:
    diff, low, high = newcombe(3, 10, 0, 0)
    assert math.isnan(diff)
    assert (low, high) == (-1.0, 1.0)


@pytest.mark.parametrize(("successes", "n"), [(5, 3), (-1, 3), (1.5, 3), (True, 3)])
def test_impossible_counts_are_refused(successes: object, n: int) -> None:
    with pytest.raises(ValueError):
        wilson(successes, n)  # type: ignore[arg-type]
