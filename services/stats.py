"""Confidence intervals for proportions: Wilson's score interval and Newcombe's difference."""

from __future__ import annotations

import math
from numbers import Integral

Z95 = 1.959964


def _check(successes: int, n: int) -> None:
    for value in (successes, n):
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise ValueError(f"a count must be a whole number, not {value!r}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n: {successes} of {n}")


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval for a proportion (Newcombe 1998, method 3; no continuity correction).

    With no trials (``n == 0``) nothing is known and the interval is the whole
    range ``(0.0, 1.0)``: it overlaps every other interval, so no difference is
    ever claimed from an empty group, and the result stays a pair of floats.

    Args:
        successes: how many of the ``n`` trials succeeded.
        n: trials.
        z: the normal quantile; 1.959964 gives a 95% interval.

    Returns:
        ``(low, high)``; ``wilson(81, 263)`` ≈ ``(0.2553, 0.3662)``.
    """
    _check(successes, n)
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    centre = 2 * n * p + z2
    spread = z * math.sqrt(z2 + 4 * n * p * (1 - p))
    denominator = 2 * (n + z2)
    # The bounds are exact at the edges: rounding must not put 0/n above zero or n/n below one.
    low = 0.0 if successes == 0 else max(0.0, (centre - spread) / denominator)
    high = 1.0 if successes == n else min(1.0, (centre + spread) / denominator)
    return low, high


def newcombe(s1: int, n1: int, s2: int, n2: int, z: float = Z95) -> tuple[float, float, float]:
    """The difference of two independent proportions, p1 − p2, with Newcombe's hybrid score interval.

    Newcombe (1998), method 10: each proportion's Wilson interval ``(l, u)``
    gives ``low = d − sqrt((p1 − l1)² + (u2 − p2)²)`` and
    ``high = d + sqrt((u1 − p1)² + (p2 − l2)²)``.

    A group with no trials has no rate: the difference is NaN and the interval
    the whole range ``(-1.0, 1.0)``.

    Args:
        s1, n1: successes and trials of the first group (e.g. ``envio``).
        s2, n2: successes and trials of the second group (e.g. ``controle``).
        z: the normal quantile; 1.959964 gives a 95% interval.

    Returns:
        ``(diff, low, high)``; ``newcombe(56, 70, 48, 80)`` ≈ ``(0.2, 0.0524, 0.3339)``.
    """
    _check(s1, n1)
    _check(s2, n2)
    if n1 == 0 or n2 == 0:
        return math.nan, -1.0, 1.0
    p1, p2 = s1 / n1, s2 / n2
    l1, u1 = wilson(s1, n1, z)
    l2, u2 = wilson(s2, n2, z)
    diff = p1 - p2
    low = diff - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = diff + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return diff, max(-1.0, low), min(1.0, high)


__all__ = ["Z95", "newcombe", "wilson"]
