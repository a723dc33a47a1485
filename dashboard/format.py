"""How numbers, money and dates read in Brazilian Portuguese."""

from __future__ import annotations

import functools
import re
from datetime import datetime

import pandas as pd

from services import wording
from services.interests import format_phone
from services.wording import number


def money(value: float | None) -> str:
    """``58900`` → ``"R$ 58.900,00"``."""
    return "—" if value is None else f"R$ {number(value, 2)}"


def date(moment: datetime | pd.Timestamp | None) -> str:
    """``dd/mm/aaaa``, or ``—`` when unknown."""
    if moment is None or pd.isna(moment):
        return "—"
    return moment.strftime("%d/%m/%Y")


def date_time(moment: datetime | pd.Timestamp | None) -> str:
    """``dd/mm/aaaa hh:mm`` (UTC), or ``—`` when unknown."""
    if moment is None or pd.isna(moment):
        return "—"
    return moment.strftime("%d/%m/%Y %H:%M")


def days_ago(moment: datetime | pd.Timestamp | None, now: datetime) -> str:
    """``"há 12 dias"``, ``"hoje"``, ``"ontem"`` (``wording.days_ago``); ``"—"`` when unknown."""
    if moment is None or pd.isna(moment):
        return wording.days_ago(None)
    return wording.days_ago((pd.Timestamp(now) - pd.Timestamp(moment)).days)


def age(seconds: float | None) -> str:
    """How old something is, in words: ``"há 3 min"``."""
    if seconds is None:
        return "nunca"
    if seconds < 60:
        return "agora há pouco"
    if seconds < 3600:
        return f"há {int(seconds // 60)} min"
    if seconds < 86400:
        return f"há {int(seconds // 3600)} h"
    return f"há {int(seconds // 86400)} dias"


_MARKDOWN_SPECIAL = set("\\`*_{}[]()<>#+-.!|~:$&=\"'")
# GitHub-flavoured Markdown turns bare addresses into links even when escaped ("http\\://x",
# "www\\.x", "a@b.com"): an invisible word joiner after "://", "www" and "@" keeps them text.
_JOINER = "\u2060"
_AUTOLINKS = re.compile(r"(\\:(?=//)|(?i:www)(?=\\\.)|@)")


def plain(text: object) -> str:
    """Untrusted text (a customer's name, a product) made inert for ``st.markdown``.

    Every character Markdown, Streamlit directives (``:red[…]``) or LaTeX could read
    is backslash-escaped, line breaks become spaces, and bare addresses get an
    invisible word joiner, so the text shows as typed and can never become a
    link, an image, a heading or a formula.

    Example: ``plain("**oi**") == "\\*\\*oi\\*\\*"``
    """
    if text is None:
        return ""
    flat = " ".join(str(text).split())
    escaped = "".join("\\" + ch if ch in _MARKDOWN_SPECIAL else ch for ch in flat)
    return _AUTOLINKS.sub(lambda m: m[0] + _JOINER, escaped)


def phone(value: object) -> str:
    """A phone as people write it (``+55 11 98765-4321``); ``""`` when there is none.

    A frame's missing phone may be None or NaN: neither is a phone.
    """
    return _phone(value) if isinstance(value, str) and value else ""


@functools.lru_cache(maxsize=8192)
def _phone(e164: str) -> str:
    # Parsing costs about 0.1 ms a number: the preview of every rerun shows mostly the same people.
    return format_phone(e164)
