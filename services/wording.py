"""Portuguese wording shared by the services and the dashboard: lists, numbers, percentages, days."""

from __future__ import annotations

import math
from collections.abc import Iterable
from zoneinfo import ZoneInfo

SEPARATOR = ", "
LAST_SEPARATOR = " e "
UNKNOWN = "—"
# The stores' clock: times people read (the audit page) are in it, not in UTC.
LOCAL_TIME = ZoneInfo("America/Sao_Paulo")


def join_pt(names: Iterable[str]) -> str:
    """Names as a Portuguese list.

    Example: ``join_pt(["A", "B", "C"]) == "A, B e C"``; ``"A e B"``, ``"A"``, ``""`` for fewer.
    """
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return SEPARATOR.join(names[:-1]) + LAST_SEPARATOR + names[-1]


def _half_up(value: float, decimals: int) -> float:
    # A half rounds away from zero, as people round by hand (Python's format rounds 12.5 to 12);
    # the nudge keeps a half on paper that binary stores just below it (0.145) a half.
    scale = 10**decimals
    return math.copysign(math.floor(abs(value) * scale + 0.5 + 1e-9) / scale, value)


def number(value: float | None, decimals: int = 0) -> str:
    """A number with pt-BR separators, halves rounded up; ``"—"`` when unknown.

    Example: ``number(1234.5, 1) == "1.234,5"``, ``number(12.5) == "13"``.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return UNKNOWN
    text = f"{_half_up(value, decimals):,.{decimals}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def percent(fraction: float | None, decimals: int = 0) -> str:
    """A 0–1 share as people read it in pt-BR; ``"—"`` when unknown.

    Halves round up. Under 10% one more decimal shows unless it is zero, so a small
    share keeps its size ("2,5%", not "2%" or "3%").

    Args:
        fraction: the share, 0 to 1.
        decimals: the decimals of a share of 10% or more.

    Returns:
        e.g. ``percent(0.8123) == "81%"``, ``percent(0.125) == "13%"``,
        ``percent(0.025) == "2,5%"``, ``percent(0.05) == "5%"``.
    """
    if fraction is None or (isinstance(fraction, float) and math.isnan(fraction)):
        return UNKNOWN
    value = fraction * 100
    if abs(value) >= 10:
        return f"{number(value, decimals)}%"
    text = number(value, decimals + 1)
    if text.endswith("0"):
        text = text[:-1].removesuffix(",")
    return f"{text}%"


def days_ago(days: int | None) -> str:
    """How long ago, in whole days: ``"hoje"`` (0 or less), ``"ontem"``, ``"há 12 dias"``.

    Example: ``days_ago(1234) == "há 1.234 dias"``; ``days_ago(None) == "—"`` (unknown).
    """
    if days is None:
        return UNKNOWN
    if days <= 0:
        return "hoje"
    if days == 1:
        return "ontem"
    return f"há {number(days)} dias"
