"""Interest fields: parsing, product keys, phones and the recording rule (SPEC §2–§3)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache

import numpy as np
import phonenumbers
from numpy.typing import ArrayLike

RECENT_LIMIT = 5


@dataclass(frozen=True)
class DepthSegment:
    """A depth segment of SPEC §5: customers by the length of their history."""

    key: str
    label: str
    range: str
    low: int
    high: float


EARLY, DEVELOPING, SERIOUS = "early", "developing", "serious"
DEPTH_SEGMENTS: tuple[DepthSegment, ...] = (
    DepthSegment(EARLY, "inicial", "menos de 3", 0, 2),
    DepthSegment(DEVELOPING, "em desenvolvimento", "3 a 10", 3, 10),
    DepthSegment(SERIOUS, "comprador sério", "mais de 10", 11, float("inf")),
)
DEPTH_LABELS = {segment.key: f"{segment.label} ({segment.range})" for segment in DEPTH_SEGMENTS}


def depth_segments(depths: ArrayLike) -> np.ndarray:
    """The depth segment key of each history length: ``early`` < 3, ``developing`` 3–10, ``serious`` > 10.

    Args:
        depths: history lengths (a list, an array or a Series).

    Returns:
        The keys of ``DEPTH_SEGMENTS``, an object array in the same order.
        Example: ``depth_segments([0, 3, 11]).tolist() == ["early", "developing", "serious"]``
    """
    values = np.asarray(depths, dtype=np.int64)
    keys = np.select([values <= segment.high for segment in DEPTH_SEGMENTS],
                     [segment.key for segment in DEPTH_SEGMENTS], default=DEPTH_SEGMENTS[-1].key)
    return keys.astype(object)


def depth_segment(depth: int) -> str:
    """The depth segment key of one history length (``depth_segments``).

    Example: ``depth_segment(11) == "serious"``
    """
    return str(depth_segments([depth])[0])


# What str.splitlines() breaks on: a long text with any of these holds one product per line.
_LINE_BREAK = re.compile(r"[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
_SPACES = re.compile(r"\s+")


class InvalidBatch(ValueError):
    """A batch of products with nothing left after cleaning."""


# Controls (NUL...), format marks (zero-width space, BOM, joiners) and lone surrogates: nobody
# sees them, so an item made only of them is as empty as a blank one.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs"})
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]")  # \t\n\v\f\r and \x1c-\x1f are spaces


@lru_cache(maxsize=200_000)
def clean_item(text: str) -> str:
    """Trim an item (white space and commas), drop invisible characters, collapse inner white space.

    Example: ``clean_item("  Anel \\u200b  Diamante\\x00, ") == "Anel Diamante"``
    """
    if text.isascii():
        visible = _ASCII_CONTROL.sub("", text)
    else:
        visible = "".join(
            ch for ch in text if ch.isspace() or unicodedata.category(ch) not in _INVISIBLE
        )
    # A comma at either end separated products ("Submariner,\nDatejust,"): it is no part of one.
    return _SPACES.sub(" ", visible).strip(", ")


class _Marks(dict):
    """A ``str.translate`` table that drops combining marks (accents), learning each character once."""

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.combining(chr(code)) else code
        self[code] = kept
        return kept


_DROP_MARKS = _Marks()


@lru_cache(maxsize=200_000)
def product_key(text: str) -> str:
    """The identity of a product title: no accents, case-folded, spaces collapsed.

    Example: ``product_key("Ánel  Diamante") == "anel diamante"``
    """
    if text.isascii():  # nothing to decompose, and case-folding is lower-casing
        return " ".join(text.lower().split())
    return " ".join(unicodedata.normalize("NFKD", text).translate(_DROP_MARKS).casefold().split())


def split_raw(value: object) -> list[str]:
    """The cleaned, non-empty items of a field value, repeats kept (SPEC §2).

    An item of a list is one product even when it holds a comma; a string is split
    on line breaks when it has any, else on commas (how older records were written).

    Args:
        value: a list (multiple select, a recorded batch), a string (long text) or
            anything else (read as empty).

    Returns:
        The items in order, each cleaned: ``"a, b"`` gives ``["a", "b"]``,
        ``"a, b\\nc"`` gives ``["a, b", "c"]`` and ``["a, b", "c"]`` stays as it is.
    """
    if value is None:
        return []
    if isinstance(value, str):
        parts: Iterable[object] = split_text(value)
    elif isinstance(value, list | tuple):
        parts = value
    else:
        return []
    items = []
    for part in parts:
        if isinstance(part, str):
            cleaned = clean_item(part)
            if cleaned:
                items.append(cleaned)
    return items


def split_text(text: str) -> list[str]:
    """A long text's products, uncleaned: one per line when it has a line break, else one per comma.

    Example: ``split_text("A, b\\nC") == ["A, b", "C"]``; ``split_text("A, B") == ["A", " B"]``
    """
    return _LINE_BREAK.split(text) if _LINE_BREAK.search(text) else text.split(",")


def to_long_text(items: Iterable[str]) -> str:
    """Products as a long-text field holds them: ``", "``-joined, or one per line when any holds a comma.

    ``split_raw`` reads the text back to the same products. A single product with a
    comma ends with a line break, so that it is not read as two.

    Example: ``to_long_text(["Submariner", "Datejust"]) == "Submariner, Datejust"``;
    ``to_long_text(["Datejust 36, aço", "Frivole"]) == "Datejust 36, aço\\nFrivole"``

    Args:
        items: the products, in order (cleaned again here; empty ones are dropped).

    Returns:
        The text to write; ``""`` for no product.
    """
    products = [cleaned for cleaned in map(clean_item, items) if cleaned]
    if not any("," in product for product in products):
        return ", ".join(products)
    return "\n".join(products) + ("\n" if len(products) == 1 else "")


def dedupe(items: Iterable[str]) -> list[str]:
    """Items with repeats (by key) dropped; the first spelling wins."""
    seen: set[str] = set()
    kept = []
    for item in items:
        key = product_key(item)
        if key and key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


def parse_interests(value: object) -> list[str]:
    """Read an interest field in either representation.

    Example: ``parse_interests("Submariner, submariner\\nDatejust") == ["Submariner", "Datejust"]``
    """
    return dedupe(split_raw(value))


def repaired_history(recent: Sequence[str], history: Sequence[str]) -> list[str]:
    """``history`` followed by the items of ``recent`` it lacks (step 2 of the rule).

    Example: ``repaired_history(["A", "B"], ["B"]) == ["B", "A"]``
    """
    return dedupe([*history, *recent])


def record_batch(
    recent: Sequence[str], history: Sequence[str], batch: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Apply the recording rule (SPEC §3) to one customer's two fields.

    Args:
        recent: the current ``interests``.
        history: the current ``interests_all``.
        batch: the products of the event, in order.

    Returns:
        The new ``(interests, interests_all)``.

    Raises:
        InvalidBatch: when the batch holds no product after cleaning.
    """
    # Each item of a batch is one product, commas and all; a string is read as a long text.
    products = dedupe(split_raw(batch if isinstance(batch, str) else list(batch)))
    if not products:
        raise InvalidBatch("Nenhum produto informado.")
    recent = dedupe(recent)
    new_history = repaired_history(recent, history)
    new_history = dedupe([*new_history, *products])
    batch_keys = {product_key(p) for p in products}
    # The spelling already on record is kept, so a re-mention does not rename a product.
    spelling = {product_key(item): item for item in new_history}
    kept = [item for item in recent if product_key(item) not in batch_keys]
    new_recent = [*kept, *(spelling[product_key(p)] for p in products)][-RECENT_LIMIT:]
    return new_recent, new_history


def merge_history(*histories: Sequence[str]) -> list[str]:
    """Union of histories in order of first mention (safe to repeat)."""
    return dedupe(item for history in histories for item in history)


def missing_items(expected: Sequence[str], actual: Sequence[str]) -> list[str]:
    """Items of ``expected`` whose key is absent from ``actual``."""
    have = {product_key(item) for item in actual}
    return [item for item in expected if product_key(item) not in have]


# --- Customers -------------------------------------------------------------


@dataclass(frozen=True)
class Customer:
    """One customer record as the services see it (fields already parsed)."""

    id: str
    store: str
    phone: str
    name: str = ""
    interests: list[str] = field(default_factory=list)
    interests_all: list[str] = field(default_factory=list)
    created_at: datetime | None = None
    last_interaction: datetime | None = None
    opt_out: bool = False

    @property
    def history(self) -> list[str]:
        """``interests_all`` with legacy repair applied."""
        return repaired_history(self.interests, self.interests_all)

    def as_json(self) -> dict[str, object]:
        """The customer as the CLI prints it: the history read with the legacy repair (SPEC §2)."""
        return {
            "store": self.store,
            "phone": self.phone,
            "name": self.name,
            "interests": list(self.interests),
            "interests_all": self.history,
            "created_at": iso(self.created_at),
            "last_interaction": iso(self.last_interaction),
        }


def apply_event(customer: Customer, batch: Sequence[str], at: datetime) -> Customer:
    """The customer after recording ``batch`` at time ``at``."""
    recent, history = record_batch(customer.interests, customer.interests_all, batch)
    return replace(
        customer,
        interests=recent,
        interests_all=history,
        last_interaction=at.astimezone(UTC),
        created_at=customer.created_at or at.astimezone(UTC),
    )


# --- Dates -------------------------------------------------------------------


# A date outside these years is a typing or export error, not a moment (SPEC §9); it also keeps
# every date inside what pandas' nanosecond timestamps can hold (1677–2262).
DATE_YEARS = range(1900, 2201)


class InvalidTime(ValueError):
    """A typed date that cannot be read, or lies outside 1900–2200; the message is for the screen."""


def _read_moment(value: object) -> datetime | None:
    """The datetime written in ``value`` (a string or a datetime), whatever its year; None when unreadable."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def parse_time(value: object) -> datetime | None:
    """An aware UTC datetime from an ISO string or datetime; None when unreadable or outside 1900–2200.

    Example: ``parse_time("2026-01-05T10:00:00.000Z").year == 2026``; ``parse_time("2300-01-01") is None``
    """
    moment = _read_moment(value)
    # The year as written: converting 0001-01-01T00:00+03:00 to UTC would overflow.
    if moment is None or moment.year not in DATE_YEARS:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def require_time(text: str) -> datetime:
    """``parse_time`` of a typed date, or ``InvalidTime`` saying why in one line (Portuguese).

    Example: ``require_time("2026-01-05") == datetime(2026, 1, 5, tzinfo=UTC)``;
    ``require_time("2300-01-01")`` raises ``InvalidTime("data fora do intervalo 1900–2200: ...")``.

    Args:
        text: the date as typed (``--at``, ``--now``, a form field).

    Returns:
        The moment as an aware UTC datetime.

    Raises:
        InvalidTime: unreadable, or outside 1900–2200.
    """
    moment = parse_time(text)
    if moment is not None:
        return moment
    shown = repr(text)[:80]
    if _read_moment(text) is not None:
        raise InvalidTime(f"data fora do intervalo {DATE_YEARS[0]}–{DATE_YEARS[-1]}: {shown}")
    raise InvalidTime(f"data inválida (use ISO 8601, ex. 2026-01-05T10:00:00Z): {shown}")


def iso(moment: datetime | None) -> str | None:
    """UTC ISO 8601 with a ``Z``, as Airtable writes it."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- Phones ------------------------------------------------------------------


class InvalidPhone(ValueError):
    """A phone that cannot be read as a WhatsApp number."""


# A WhatsApp account sits on a mobile or, for WhatsApp Business, a fixed line; never on a
# toll-free (0800), premium-rate (0900), shared-cost (4004, 0300) or unknown kind of number.
_WHATSAPP_TYPES = frozenset({
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
})


@lru_cache(maxsize=300_000)
def normalize_phone(raw: str, region: str = "BR") -> str | None:
    """A phone in any common format as E.164, or None when it is not a phone.

    Brazilian mobiles written without the ninth digit (older WhatsApp accounts)
    are kept as written: they are valid WhatsApp ids. A text with a letter, or a
    number that is neither mobile nor fixed line (0800, 0900, 4004...), is not a phone.

    Example: ``normalize_phone("(11) 9 8765-4321") == "+5511987654321"``
    """
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if any(ch.isalpha() for ch in text):
        # phonenumbers reads keypad letters as digits (1-800-FLOWERS): a typo would become a number.
        return None
    digits = re.sub(r"\D", "", text)
    if not 8 <= len(digits) <= 15:
        return None
    if not text.startswith("+"):
        if text.startswith("00"):
            text = "+" + digits[2:]
        elif digits.startswith("55") and len(digits) in (12, 13):
            text = "+" + digits
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if phonenumbers.is_valid_number(number):
        return e164 if phonenumbers.number_type(number) in _WHATSAPP_TYPES else None
    if _is_br_mobile_without_ninth(e164):
        return e164
    return None


def require_phone(raw: str) -> str:
    """``normalize_phone``, or ``InvalidPhone`` with a message for the screen."""
    e164 = normalize_phone(raw)
    if e164 is None:
        raise InvalidPhone(f"Telefone inválido: {raw!r}")
    return e164


def _is_br_mobile_without_ninth(e164: str) -> bool:
    # +55 DD NNNNNNNN with a mobile first digit (6–9) became +55 DD 9NNNNNNNN in 2016.
    if not (e164.startswith("+55") and len(e164) == 13 and e164[5] in "6789"):
        return False
    with_ninth = phonenumbers.parse(e164[:5] + "9" + e164[5:], "BR")
    return (phonenumbers.is_valid_number(with_ninth)
            and phonenumbers.number_type(with_ninth) in _WHATSAPP_TYPES)


def phone_key(e164: str | None) -> str | None:
    """The identity of a phone: Brazilian mobiles lose the ninth digit.

    ``+5511987654321`` and ``+551187654321`` share the key ``+551187654321``.
    """
    if not e164:
        return None
    if e164.startswith("+55") and len(e164) == 14 and e164[5] == "9" and e164[6] in "6789":
        return e164[:5] + e164[6:]
    return e164


def format_phone(e164: str | None) -> str:
    """A phone as people write it: ``+55 11 98765-4321``."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    if e164.startswith("+55") and len(e164) == 13:
        return f"+55 {e164[3:5]} {e164[5:9]}-{e164[9:]}"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def now_utc() -> datetime:
    """The clock, for the edges (CLI, dashboard) only."""
    return datetime.now(UTC)
