"""How raw field values are stored in the SQLite file: JSON, so a list stays a list and text stays text."""

from __future__ import annotations

import json


def encode(value: object) -> str | None:
    """A raw field value as stored: JSON, so a list stays a list and text stays text."""
    return None if value is None else json.dumps(value, ensure_ascii=False)


# The C scanner behind json.loads, called directly: a 100,000-customer read decodes
# 600,000 values, and json.loads' own checks cost more than the parse of a short value.
_SCAN = json.JSONDecoder().scan_once


def decode(text: str | None) -> object:
    """The raw field value back; text that is not JSON is returned as it is."""
    if text is None:
        return None
    if type(text) is str:
        try:
            value, end = _SCAN(text, 0)
        except (StopIteration, ValueError):
            pass
        else:
            if end == len(text):
                return value
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def shared(value: object, same: dict[str, str]) -> object:
    """A decoded list with each text replaced by the first equal one seen (``same``)."""
    if type(value) is not list:
        return value
    try:
        return [same.setdefault(item, item) for item in value]
    except TypeError:  # an unhashable item (a list in a list): kept as it is
        return value
