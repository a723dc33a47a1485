"""A local fake of Airtable's REST API, for tests (standard library only).

It speaks enough of the API for pyairtable 3.5 pointed at it with
``pyairtable.Api(token, endpoint_url=fake.url)``:

* list records: ``GET /v0/{base}/{table}`` and ``POST .../listRecords`` with
  ``pageSize`` (clamped to 100), ``offset``, ``fields[]``, ``filterByFormula``,
  ``sort``, ``maxRecords``, ``view`` and ``returnFieldsByFieldId``;
* get, create (one or a batch), update (PATCH/PUT, one or a batch), delete;
* schema: ``GET /v0/meta/bases`` and ``GET /v0/meta/bases/{base}/tables``.

On top of that: tokens (401/403), a per-base rate limit (429 and a block),
request counters and a request log, expiring offsets, fault injection
(an error status, a dropped connection or a delay on matching requests), and a
page latency (``page_latency``: every list request answers that much later,
without holding up the requests served meanwhile).

Usage::

    with FakeAirtable() as fake:
        fake.add_base("appXXXXXXXXXXXXXX", {"Customers": [{"name": "phone", "type": "phoneNumber"}]})
        api = fake.api()            # pyairtable.Api bound to the fake
"""

from __future__ import annotations

import json
import math
import random
import re
import string
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

Json = Any

MAX_PAGE_SIZE = 100
MAX_RECORDS_PER_BATCH = 10

#: Field types whose value Airtable computes (writes are refused).
COMPUTED_TYPES = frozenset(
    {
        "autoNumber",
        "button",
        "count",
        "createdBy",
        "createdTime",
        "formula",
        "lastModifiedBy",
        "lastModifiedTime",
        "multipleLookupValues",
        "rollup",
    }
)
TEXT_TYPES = frozenset(
    {"singleLineText", "multilineText", "richText", "email", "url", "phoneNumber", "barcode"}
)
NUMBER_TYPES = frozenset({"number", "currency", "percent", "rating", "duration"})
DATE_TYPES = frozenset({"date", "dateTime", "createdTime", "lastModifiedTime"})
LIST_TYPES = frozenset(
    {"multipleSelects", "multipleRecordLinks", "multipleLookupValues", "multipleAttachments"}
)

_ISO_DATE = {"name": "iso", "format": "YYYY-MM-DD"}
_DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {
    "checkbox": {"icon": "check", "color": "greenBright"},
    "number": {"precision": 0},
    "percent": {"precision": 0},
    "currency": {"precision": 2, "symbol": "R$"},
    "rating": {"icon": "star", "color": "yellowBright", "max": 5},
    "duration": {"durationFormat": "h:mm"},
    "date": {"dateFormat": _ISO_DATE},
    "dateTime": {
        "timeZone": "utc",
        "dateFormat": _ISO_DATE,
        "timeFormat": {"name": "24hour", "format": "HH:mm"},
    },
    "multipleAttachments": {"isReversed": False},
    "formula": {"formula": "", "isValid": True, "referencedFieldIds": []},
    "rollup": {"isValid": True},
    "count": {"isValid": True},
    "multipleLookupValues": {"isValid": True},
}
_CHOICE_COLORS = (
    "blueLight2",
    "cyanLight2",
    "tealLight2",
    "greenLight2",
    "yellowLight2",
    "orangeLight2",
    "redLight2",
    "pinkLight2",
    "purpleLight2",
    "grayLight2",
)

RATE_LIMIT_BODY: Json = {
    "errors": [{"error": "RATE_LIMIT_REACHED", "message": "Rate limit exceeded. Please try again later"}]
}
AUTH_REQUIRED_BODY: Json = {
    "error": {"type": "AUTHENTICATION_REQUIRED", "message": "Authentication required"}
}
NO_PERMISSION_BODY: Json = {
    "error": {
        "type": "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
        "message": "Invalid permissions, or the requested model was not found. Check that both "
        "your user and your token have the required permissions, and that the model names "
        "and/or ids are correct.",
    }
}
ROUTE_NOT_FOUND_BODY: Json = {"error": "NOT_FOUND"}


# --------------------------------------------------------------------------- errors, time


class AirtableError(Exception):
    """An API error: HTTP status plus Airtable's JSON error body."""

    def __init__(self, status: int, error_type: str, message: str | None = None, body: Json = None) -> None:
        super().__init__(f"{status} {error_type}: {message}")
        self.status = status
        self.error_type = error_type
        if body is None:
            body = {"error": {"type": error_type, **({"message": message} if message else {})}}
        self.body = body


def utc_now() -> datetime:
    """The real current time, timezone-aware UTC."""
    return datetime.now(UTC)


def iso(value: datetime) -> str:
    """Airtable's timestamp format: ``2024-01-05T13:00:00.000Z``."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")


def parse_iso(value: str) -> datetime | None:
    """Parse an ISO 8601 date or date-time (naive means UTC); None if not ISO."""
    text = value.strip()
    if not _ISO_RE.match(text):
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


class ManualClock:
    """A settable clock to assign to ``FakeAirtable.now``."""

    def __init__(self, start: datetime | str = "2024-01-01T12:00:00Z") -> None:
        self.current = start if isinstance(start, datetime) else _must_parse(start)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, seconds: float = 1.0) -> datetime:
        """Move forward and return the new time."""
        self.current += timedelta(seconds=seconds)
        return self.current

    def set(self, value: datetime | str) -> None:
        self.current = value if isinstance(value, datetime) else _must_parse(value)


def _must_parse(value: str) -> datetime:
    parsed = parse_iso(value)
    if parsed is None:
        raise ValueError(f"not an ISO date-time: {value!r}")
    return parsed


# --------------------------------------------------------------------------- data model


@dataclass
class FieldDef:
    """One field of a table, as the schema endpoint reports it."""

    id: str
    name: str
    type: str
    options: dict[str, Any] = field(default_factory=dict)
    description: str | None = None

    def choice_names(self) -> list[str]:
        return [c["name"] for c in self.options.get("choices", [])]

    def to_json(self) -> Json:
        out: dict[str, Any] = {"id": self.id, "name": self.name, "type": self.type}
        if self.description:
            out["description"] = self.description
        if self.options:
            out["options"] = json.loads(json.dumps(self.options))
        return out


@dataclass
class Record:
    """A stored record; ``fields`` is keyed by field name and never holds empty values."""

    id: str
    fields: dict[str, Any]
    created_time: datetime
    modified_time: datetime
    field_modified: dict[str, datetime] = field(default_factory=dict)

    def last_modified(self, names: Iterable[str] = ()) -> datetime:
        """LAST_MODIFIED_TIME(): of the record, or of the given fields."""
        wanted = list(names)
        if not wanted:
            return self.modified_time
        times = [self.field_modified[n] for n in wanted if n in self.field_modified]
        return max(times) if times else self.created_time


@dataclass
class FakeTable:
    id: str
    name: str
    fields: dict[str, FieldDef]  # by name, in schema order; the first is the primary field
    records: dict[str, Record] = field(default_factory=dict)  # insertion ordered
    view_id: str = ""
    view_name: str = "Grid view"

    @property
    def primary(self) -> FieldDef:
        return next(iter(self.fields.values()))

    def field(self, name_or_id: str) -> FieldDef | None:
        found = self.fields.get(name_or_id)
        if found is None and name_or_id.startswith("fld"):
            found = next((f for f in self.fields.values() if f.id == name_or_id), None)
        return found

    def to_json(self, include_visible: bool = False) -> Json:
        view: dict[str, Any] = {"id": self.view_id, "name": self.view_name, "type": "grid"}
        if include_visible:
            view["visibleFieldIds"] = [f.id for f in self.fields.values()]
        return {
            "id": self.id,
            "name": self.name,
            "primaryFieldId": self.primary.id,
            "fields": [f.to_json() for f in self.fields.values()],
            "views": [view],
        }


@dataclass
class FakeBase:
    id: str
    name: str
    tables: dict[str, FakeTable] = field(default_factory=dict)  # by table id

    def table(self, name_or_id: str) -> FakeTable | None:
        if name_or_id in self.tables:
            return self.tables[name_or_id]
        return next((t for t in self.tables.values() if t.name == name_or_id), None)


# --------------------------------------------------------------------------- formulas


class FormulaError(Exception):
    """The formula cannot be used at all (Airtable answers 422)."""


class _EvalError(Exception):
    """#ERROR! for one record: that record does not match."""


@dataclass
class _Lit:
    value: Any


@dataclass
class _FieldRef:
    name: str


@dataclass
class _Call:
    name: str
    args: list[Any]


@dataclass
class _BinOp:
    op: str
    left: Any
    right: Any


@dataclass
class _Neg:
    operand: Any


_TOKEN_RE = re.compile(
    r"""(?P<ws>\s+)
    |(?P<field>\{(?:\\.|[^}\\])*\})
    |(?P<string>'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*")
    |(?P<number>\d+(?:\.\d+)?|\.\d+)
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op>!=|<>|>=|<=|=|>|<|&|\+|-|\*|/|\(|\)|,)""",
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}
_COMPARISONS = ("=", "!=", "<>", ">", ">=", "<", "<=")


def _unescape(body: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body, flags=re.S)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if not match:
            raise FormulaError(f"unexpected character {text[pos]!r} at {pos}")
        pos = match.end()
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append((kind, match.group()))
    return tokens


class _Parser:
    """Recursive descent; precedence low to high: comparison, &, + -, * /, unary minus."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0

    def parse(self) -> Any:
        if not self.tokens:
            raise FormulaError("empty formula")
        node = self.comparison()
        if self.pos != len(self.tokens):
            raise FormulaError(f"unexpected {self.tokens[self.pos][1]!r}")
        return node

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token[0] == "end" or (value is not None and token[1] != value):
            raise FormulaError(f"expected {value or 'a value'}, got {token[1] or 'end'!r}")
        self.pos += 1
        return token

    def binary(self, ops: tuple[str, ...], operand: Callable[[], Any]) -> Any:
        node = operand()
        while self.peek()[0] == "op" and self.peek()[1] in ops:
            op = self.take()[1]
            node = _BinOp(op, node, operand())
        return node

    def comparison(self) -> Any:
        return self.binary(_COMPARISONS, self.concat)

    def concat(self) -> Any:
        return self.binary(("&",), self.additive)

    def additive(self) -> Any:
        return self.binary(("+", "-"), self.term)

    def term(self) -> Any:
        return self.binary(("*", "/"), self.unary)

    def unary(self) -> Any:
        if self.peek() == ("op", "-"):
            self.take()
            return _Neg(self.unary())
        return self.primary()

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "number":
            return _Lit(float(text) if "." in text else int(text))
        if kind == "string":
            return _Lit(_unescape(text[1:-1]))
        if kind == "field":
            return _FieldRef(text[1:-1].replace("\\}", "}"))
        if kind == "name":
            if self.peek() == ("op", "("):
                self.take("(")
                args: list[Any] = []
                if self.peek() != ("op", ")"):
                    args.append(self.comparison())
                    while self.peek() == ("op", ","):
                        self.take(",")
                        args.append(self.comparison())
                self.take(")")
                return _Call(text.upper(), args)
            if text.upper() in ("TRUE", "FALSE"):
                return _Lit(text.upper() == "TRUE")
            return _FieldRef(text)  # a bare single-word field name
        if (kind, text) == ("op", "("):
            node = self.comparison()
            self.take(")")
            return node
        raise FormulaError(f"unexpected {text!r}")


@dataclass
class _Ctx:
    fake: FakeAirtable
    base: FakeBase
    table: FakeTable
    record: Record
    now: datetime


# value helpers: formula values are None (blank), bool, int/float, str, datetime or list


def _to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, list):
        return ", ".join(_to_text(v) for v in value)
    return str(value)


def _to_num(value: Any) -> float:
    if value is None or value == "":
        return 0
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise _EvalError(f"not a number: {value!r}") from None
    raise _EvalError(f"not a number: {value!r}")


def _to_dt(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, list) and len(value) == 1:
        return _to_dt(value[0])
    if isinstance(value, str):
        parsed = parse_iso(value)
        if parsed is None:
            raise _EvalError(f"not a date: {value!r}")
        return parsed
    raise _EvalError(f"not a date: {value!r}")


def _truthy(value: Any) -> bool:
    if isinstance(value, list):
        return len(value) > 0
    return bool(value) if value is not None else False


def _is_blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value is False


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "<>":
        op = "!="
    if op in ("=", "!=") and any(v is None or v == "" for v in (left, right)):
        equal = _is_blank(left) and _is_blank(right)  # BLANK() equals '', unchecked, empty
        return equal if op == "=" else not equal
    a: Any
    b: Any
    date_like = (
        isinstance(left, datetime)
        or isinstance(right, datetime)
        or (
            isinstance(left, str)
            and isinstance(right, str)
            and parse_iso(left) is not None
            and parse_iso(right) is not None
        )
    )
    if date_like:
        a, b = _to_dt(left), _to_dt(right)
        if a is None or b is None:
            return op == "!=" and not (a is None and b is None)
    elif isinstance(left, (int, float, bool)) or isinstance(right, (int, float, bool)):
        a, b = _to_num(left), _to_num(right)
    else:
        a, b = _to_text(left), _to_text(right)
    if op == "=":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if op == ">":
        return bool(a > b)
    if op == ">=":
        return bool(a >= b)
    if op == "<":
        return bool(a < b)
    return bool(a <= b)


def _right(text: str, count: int) -> str:
    return text[-count:] if count > 0 else ""


def _mod(value: float, divisor: float) -> float:
    """Airtable's MOD: the remainder takes the sign of the divisor (as in spreadsheets)."""
    if divisor == 0:
        raise _EvalError("MOD by zero")
    return value - divisor * math.floor(value / divisor)


def _find(args: list[Any], none_if_missing: bool) -> Any:
    needle, haystack = _to_text(args[0]), _to_text(args[1])
    start = int(_to_num(args[2])) if len(args) > 2 else 0
    index = haystack.find(needle, max(start - 1, 0))
    if index < 0:
        return None if none_if_missing else 0
    return index + 1


def _datetime_parse(args: list[Any]) -> datetime | None:
    value = args[0]
    if isinstance(value, datetime) or value is None or value == "":
        return value or None
    parsed = parse_iso(_to_text(value))
    if parsed is None:
        raise _EvalError(f"DATETIME_PARSE cannot read {value!r}")
    return parsed


_UNITS = {
    "millisecond": 0.001,
    "milliseconds": 0.001,
    "ms": 0.001,
    "second": 1,
    "seconds": 1,
    "s": 1,
    "minute": 60,
    "minutes": 60,
    "m": 60,
    "hour": 3600,
    "hours": 3600,
    "h": 3600,
    "day": 86400,
    "days": 86400,
    "d": 86400,
    "week": 604800,
    "weeks": 604800,
    "w": 604800,
}


def _dateadd(args: list[Any]) -> datetime | None:
    start = _to_dt(args[0])
    if start is None:
        return None
    unit = _to_text(args[2]).lower()
    if unit not in _UNITS:
        raise _EvalError(f"unsupported DATEADD unit {unit!r}")
    return start + timedelta(seconds=_to_num(args[1]) * _UNITS[unit])


def _is_same(args: list[Any]) -> bool:
    a, b = _to_dt(args[0]), _to_dt(args[1])
    if a is None or b is None:
        return False
    unit = _to_text(args[2]).lower() if len(args) > 2 else ""
    widths = {"year": 4, "month": 7, "day": 10, "hour": 13, "minute": 16, "second": 19}
    width = widths.get(unit.rstrip("s"), 23)
    return iso(a)[:width] == iso(b)[:width]


def _xor(args: list[Any]) -> bool:
    return sum(_truthy(a) for a in args) % 2 == 1


def _arrayjoin(args: list[Any]) -> str:
    separator = _to_text(args[1]) if len(args) > 1 else ", "
    items = args[0] if isinstance(args[0], list) else [args[0]]
    return separator.join(_to_text(v) for v in items if v is not None)


def _regex_match(args: list[Any]) -> bool:
    try:
        return re.search(_to_text(args[1]), _to_text(args[0])) is not None
    except re.error as exc:
        raise _EvalError(str(exc)) from None


#: name -> (min args, max args or None, implementation over evaluated args)
_FUNCTIONS: dict[str, tuple[int, int | None, Callable[[_Ctx, list[Any]], Any]]] = {
    "AND": (1, None, lambda c, a: all(_truthy(v) for v in a)),
    "OR": (1, None, lambda c, a: any(_truthy(v) for v in a)),
    "NOT": (1, 1, lambda c, a: not _truthy(a[0])),
    "XOR": (1, None, lambda c, a: _xor(a)),
    "BLANK": (0, 0, lambda c, a: None),
    "TRUE": (0, 0, lambda c, a: True),
    "FALSE": (0, 0, lambda c, a: False),
    "NOW": (0, 0, lambda c, a: c.now),
    "TODAY": (0, 0, lambda c, a: c.now.replace(hour=0, minute=0, second=0, microsecond=0)),
    "RECORD_ID": (0, 0, lambda c, a: c.record.id),
    "CREATED_TIME": (0, 0, lambda c, a: c.record.created_time),
    "IS_AFTER": (2, 2, lambda c, a: _compare(">", _to_dt(a[0]), _to_dt(a[1]))),
    "IS_BEFORE": (2, 2, lambda c, a: _compare("<", _to_dt(a[0]), _to_dt(a[1]))),
    "IS_SAME": (2, 3, lambda c, a: _is_same(a)),
    "DATETIME_PARSE": (1, 3, lambda c, a: _datetime_parse(a)),
    "DATEADD": (3, 3, lambda c, a: _dateadd(a)),
    "FIND": (2, 3, lambda c, a: _find(a, none_if_missing=False)),
    "SEARCH": (2, 3, lambda c, a: _find(a, none_if_missing=True)),
    "LOWER": (1, 1, lambda c, a: _to_text(a[0]).lower()),
    "UPPER": (1, 1, lambda c, a: _to_text(a[0]).upper()),
    "TRIM": (1, 1, lambda c, a: _to_text(a[0]).strip()),
    "LEN": (1, 1, lambda c, a: len(_to_text(a[0]))),
    "LEFT": (2, 2, lambda c, a: _to_text(a[0])[: max(int(_to_num(a[1])), 0)]),
    "RIGHT": (2, 2, lambda c, a: _right(_to_text(a[0]), int(_to_num(a[1])))),
    "MOD": (2, 2, lambda c, a: _mod(_to_num(a[0]), _to_num(a[1]))),
    "SUM": (1, None, lambda c, a: sum(_to_num(v) for v in a)),
    "CONCATENATE": (1, None, lambda c, a: "".join(_to_text(v) for v in a)),
    "ARRAYJOIN": (1, 2, lambda c, a: _arrayjoin(a)),
    "REGEX_MATCH": (2, 2, lambda c, a: _regex_match(a)),
    "VALUE": (1, 1, lambda c, a: _to_num(a[0])),
    # evaluated specially (need the argument nodes): listed for validation only
    "IF": (2, 3, lambda c, a: None),
    "LAST_MODIFIED_TIME": (0, None, lambda c, a: None),
}


class Formula:
    """A parsed ``filterByFormula``, validated against one table."""

    def __init__(self, text: str, table: FakeTable) -> None:
        self.text = text
        self.root = _Parser(text).parse()
        unknown: list[str] = []
        self._check(self.root, table, unknown)
        if unknown:
            raise FormulaError("Unknown field names: " + ", ".join(unknown))

    def _check(self, node: Any, table: FakeTable, unknown: list[str]) -> None:
        if isinstance(node, _FieldRef):
            if table.fields.get(node.name) is None and node.name not in unknown:
                unknown.append(node.name)
        elif isinstance(node, _Call):
            spec = _FUNCTIONS.get(node.name)
            if spec is None:
                raise FormulaError(f"Unsupported function {node.name}() in fake Airtable")
            low, high = spec[0], spec[1]
            if len(node.args) < low or (high is not None and len(node.args) > high):
                raise FormulaError(f"Wrong number of arguments to {node.name}()")
            if node.name == "LAST_MODIFIED_TIME" and not all(isinstance(arg, _FieldRef) for arg in node.args):
                raise FormulaError("LAST_MODIFIED_TIME() takes field references")
            for arg in node.args:
                self._check(arg, table, unknown)
        elif isinstance(node, _BinOp):
            self._check(node.left, table, unknown)
            self._check(node.right, table, unknown)
        elif isinstance(node, _Neg):
            self._check(node.operand, table, unknown)

    def matches(self, ctx: _Ctx) -> bool:
        """True if the record matches; a per-record error counts as no match."""
        try:
            return _truthy(self._eval(self.root, ctx))
        except (_EvalError, TypeError, ValueError, ZeroDivisionError, OverflowError):
            return False

    def _eval(self, node: Any, ctx: _Ctx) -> Any:
        if isinstance(node, _Lit):
            return node.value
        if isinstance(node, _FieldRef):
            return ctx.fake._formula_value(ctx.base, ctx.table, ctx.record, node.name)
        if isinstance(node, _Neg):
            return -_to_num(self._eval(node.operand, ctx))
        if isinstance(node, _BinOp):
            left, right = self._eval(node.left, ctx), self._eval(node.right, ctx)
            if node.op in _COMPARISONS:
                return _compare(node.op, left, right)
            if node.op == "&":
                return _to_text(left) + _to_text(right)
            a, b = _to_num(left), _to_num(right)
            return {"+": a + b, "-": a - b, "*": a * b}[node.op] if node.op != "/" else a / b
        assert isinstance(node, _Call)
        if node.name == "IF":
            chosen = (
                node.args[1]
                if _truthy(self._eval(node.args[0], ctx))
                else (node.args[2] if len(node.args) > 2 else _Lit(None))
            )
            return self._eval(chosen, ctx)
        if node.name == "LAST_MODIFIED_TIME":
            return ctx.record.last_modified(arg.name for arg in node.args)
        args = [self._eval(arg, ctx) for arg in node.args]
        return _FUNCTIONS[node.name][2](ctx, args)


# --------------------------------------------------------------------------- faults, log


@dataclass
class RequestInfo:
    """One request as the fake saw it (also the request log entry)."""

    method: str
    path: str  # decoded path without the query string
    query: dict[str, list[str]]
    body: Json
    kind: str  # list, list_post, get, create, batch_create, update, batch_update, ...
    base_id: str | None
    table: str | None  # table name or id as in the URL
    record_id: str | None
    token: str | None
    at: float  # time.monotonic()
    status: int | None = None  # None while running, or when the connection was dropped
    fault: Fault | None = None


@dataclass
class Fault:
    """A failure applied to matching requests (see ``FakeAirtable.inject``)."""

    status: int | None = None  # answer with this HTTP status
    body: Json = None  # JSON body for ``status`` (default: an Airtable-like error)
    drop: bool = False  # close the connection without any response
    delay: float = 0.0  # seconds to wait first
    after: bool = False  # carry out the request, then drop / answer ``status``
    times: int | None = 1  # matching requests affected; None = until removed
    method: str | None = None
    kind: str | None = None
    path: str | None = None  # substring of the decoded path
    base_id: str | None = None
    match: Callable[[RequestInfo], bool] | None = None
    hits: int = 0

    def matches(self, info: RequestInfo) -> bool:
        return (
            (self.times is None or self.hits < self.times)
            and (self.method is None or self.method.upper() == info.method)
            and (self.kind is None or self.kind == info.kind)
            and (self.path is None or self.path in info.path)
            and (self.base_id is None or self.base_id == info.base_id)
            and (self.match is None or self.match(info))
        )


def _default_fault_body(status: int) -> Json:
    if status == 429:
        return RATE_LIMIT_BODY
    if status == 401:
        return AUTH_REQUIRED_BODY
    if status == 403:
        return NO_PERMISSION_BODY
    if status == 404:
        return ROUTE_NOT_FOUND_BODY
    if status >= 500:
        return {
            "error": {
                "type": "SERVER_ERROR",
                "message": "Try again. If the problem persists, contact support.",
            }
        }
    return {"error": {"type": "INVALID_REQUEST_UNKNOWN", "message": "Injected fault"}}


@dataclass
class _Response:
    status: int
    body: Json


@dataclass
class _ListIterator:
    id: str
    table_id: str
    ids: list[str]
    touched: float
    issued: dict[str, int] = field(default_factory=dict)  # next record id -> position


@dataclass
class _ListOptions:
    fields: list[str] | None = None
    formula: str | None = None
    page_size: int = MAX_PAGE_SIZE
    offset: str | None = None
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    max_records: int | None = None
    view: str | None = None
    by_field_id: bool = False


_EMPTY = object()  # a written value that clears the cell


# --------------------------------------------------------------------------- the fake


class FakeAirtable:
    """In-memory Airtable bases behind a local HTTP server (see module docstring)."""

    def __init__(
        self,
        *,
        tokens: Iterable[str] = ("patFAKEtoken.0123456789",),
        rate_limit_per_sec: int | None = 5,
        block_seconds: float = 30.0,
        expire_offsets: bool = False,
        offset_ttl: float | None = None,
        unknown_base_status: int = 404,
        seed: int | None = None,
        now: Callable[[], datetime] = utc_now,
        port: int = 0,
        page_latency: float = 0.0,
    ) -> None:
        self.valid_tokens: set[str] = set(tokens)
        self.token_bases: dict[str, set[str]] = {}  # token -> bases it may use (else all)
        self.read_only_tokens: set[str] = set()
        self.rate_limit_per_sec = rate_limit_per_sec
        self.block_seconds = block_seconds
        self.expire_offsets = expire_offsets
        self.offset_ttl = offset_ttl
        self.unknown_base_status = unknown_base_status
        self.page_latency = page_latency
        self.now = now
        self.bases: dict[str, FakeBase] = {}
        self.log: list[RequestInfo] = []
        self.requests_by_base: Counter[str] = Counter()
        self.requests_by_kind: Counter[tuple[str, str]] = Counter()  # (method, kind)
        self.faults: list[Fault] = []
        self.errors: list[str] = []  # tracebacks of bugs in the fake itself (should stay empty)
        self.lock = threading.RLock()
        self._rng = random.Random(seed)
        self._ids: set[str] = set()
        self._hits: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}
        self._iterators: dict[str, _ListIterator] = {}
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> FakeAirtable:
        """Bind 127.0.0.1 (port 0 = any free port) and serve in a daemon thread."""
        if self._server is not None:
            return self
        server = ThreadingHTTPServer(("127.0.0.1", self._port), _Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-airtable",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeAirtable:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeAirtable is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Endpoint URL for ``pyairtable.Api(..., endpoint_url=...)``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        """A valid token (the first one, sorted)."""
        return sorted(self.valid_tokens)[0]

    def api(self, token: str | None = None, **kwargs: Any) -> Any:
        """A ``pyairtable.Api`` talking to this fake (kwargs go to ``Api``)."""
        from pyairtable import Api

        return Api(token or self.token, endpoint_url=self.url, **kwargs)

    # ----------------------------------------------------------------- defining data

    def new_id(self, prefix: str) -> str:
        """A fresh Airtable-style id: prefix + 14 alphanumerics."""
        alphabet = string.ascii_letters + string.digits
        with self.lock:
            while True:
                candidate = prefix + "".join(self._rng.choices(alphabet, k=14))
                if candidate not in self._ids:
                    self._ids.add(candidate)
                    return candidate

    def add_base(
        self,
        base_id: str,
        tables: Mapping[str, list[Mapping[str, Any]]],
        name: str | None = None,
    ) -> FakeBase:
        """Define a base: ``{table name: [field spec, ...]}``; the first field is primary.

        A field spec is ``{"name", "type"}`` plus optional ``"options"``,
        ``"choices": [names]`` (selects), ``"linkedTable": name or id`` (links),
        ``"id"`` and ``"description"``. An empty list gets a ``Name`` text field.
        """
        with self.lock:
            base = FakeBase(base_id, name or base_id)
            self.bases[base_id] = base
            for table_name in tables:
                table = FakeTable(self.new_id("tbl"), table_name, {}, view_id=self.new_id("viw"))
                base.tables[table.id] = table
            for table_name, specs in tables.items():
                table = base.table(table_name)
                assert table is not None
                for spec in specs or [{"name": "Name", "type": "singleLineText"}]:
                    self._add_field(base, table, spec)
            return base

    def add_field(self, base_id: str, table: str, spec: Mapping[str, Any]) -> FieldDef:
        """Add a field to an existing table (same spec as ``add_base``)."""
        with self.lock:
            base = self.bases[base_id]
            return self._add_field(base, self.table(base_id, table), spec)

    def remove_field(self, base_id: str, table: str, name: str) -> None:
        """Delete a field and its values (simulates a field removed from the base)."""
        with self.lock:
            fake_table = self.table(base_id, table)
            fake_table.fields.pop(name)
            for record in fake_table.records.values():
                record.fields.pop(name, None)
                record.field_modified.pop(name, None)

    def _add_field(self, base: FakeBase, table: FakeTable, spec: Mapping[str, Any]) -> FieldDef:
        name, ftype = str(spec["name"]), str(spec.get("type", "singleLineText"))
        if name in table.fields:
            raise ValueError(f"duplicate field {name!r} in {table.name}")
        options: dict[str, Any] = json.loads(json.dumps(_DEFAULT_OPTIONS.get(ftype, {})))
        options.update(spec.get("options") or {})
        fdef = FieldDef(spec.get("id") or self.new_id("fld"), name, ftype, options, spec.get("description"))
        if ftype in ("singleSelect", "multipleSelects"):
            fdef.options.setdefault("choices", [])
            for choice in spec.get("choices", []):
                self._add_choice(fdef, str(choice))
        if ftype == "multipleRecordLinks":
            target = spec.get("linkedTable") or options.get("linkedTableId")
            linked = base.table(str(target)) if target else None
            if linked is None:
                raise ValueError(f"link field {name!r} needs an existing linkedTable")
            fdef.options.update(
                {"linkedTableId": linked.id, "isReversed": False, "prefersSingleRecordLink": False}
            )
        if ftype == "lastModifiedTime":
            fdef.options.setdefault("result", {"type": "dateTime", "options": _DEFAULT_OPTIONS["dateTime"]})
        table.fields[name] = fdef
        return fdef

    def _add_choice(self, fdef: FieldDef, name: str) -> None:
        if name not in fdef.choice_names():
            color = _CHOICE_COLORS[len(fdef.options["choices"]) % len(_CHOICE_COLORS)]
            fdef.options["choices"].append({"id": self.new_id("sel"), "name": name, "color": color})

    def add_records(
        self,
        base_id: str,
        table: str,
        records: Iterable[Mapping[str, Any]],
        *,
        validate: bool = False,
        created_time: datetime | None = None,
    ) -> list[str]:
        """Insert records directly (no HTTP, no counters); returns their ids.

        Values are stored as given (so messy data can be seeded) unless
        ``validate`` runs the API's checks (with typecast). Field names must
        exist; select options are added to the field's choices as needed.
        """
        with self.lock:
            base = self.bases[base_id]
            fake_table = self.table(base_id, table)
            ids: list[str] = []
            for fields in records:
                when = created_time or self.now()
                if validate:
                    clean = self._validate_fields(base, fake_table, fields, typecast=True)
                else:
                    clean = self._raw_fields(fake_table, fields)
                record = Record(self.new_id("rec"), {}, when, when)
                self._apply(fake_table, record, clean, when)
                fake_table.records[record.id] = record
                ids.append(record.id)
            return ids

    def _raw_fields(self, table: FakeTable, fields: Mapping[str, Any]) -> dict[str, Any]:
        clean: dict[str, Any] = {}
        for key, value in fields.items():
            fdef = table.field(key)
            if fdef is None:
                raise KeyError(f"unknown field {key!r} in table {table.name}")
            if fdef.type in ("singleSelect", "multipleSelects"):
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, str) and item:
                        self._add_choice(fdef, item)
            clean[fdef.name] = _EMPTY if _is_blank(value) else value
        return clean

    def edit_record(self, base_id: str, table: str, record_id: str, fields: Mapping[str, Any]) -> Record:
        """Change a record directly, as a user in Airtable's UI would (bumps its times)."""
        with self.lock:
            fake_table = self.table(base_id, table)
            record = fake_table.records[record_id]
            self._apply(fake_table, record, self._raw_fields(fake_table, fields), self.now())
            return record

    def delete_records(self, base_id: str, table: str, record_ids: Iterable[str]) -> None:
        with self.lock:
            fake_table = self.table(base_id, table)
            for record_id in record_ids:
                fake_table.records.pop(record_id, None)

    def table(self, base_id: str, table: str) -> FakeTable:
        """The stored table (by name or id); KeyError if unknown."""
        found = self.bases[base_id].table(table)
        if found is None:
            raise KeyError(f"no table {table!r} in {base_id}")
        return found

    def record(self, base_id: str, table: str, record_id: str) -> Record:
        return self.table(base_id, table).records[record_id]

    def records(self, base_id: str, table: str) -> list[Json]:
        """All records as the API would return them (copies)."""
        with self.lock:
            base = self.bases[base_id]
            fake_table = self.table(base_id, table)
            return [self._record_json(base, fake_table, r, None, False) for r in fake_table.records.values()]

    # ----------------------------------------------------------------- faults, stats

    def inject(self, fault: Fault | None = None, **kwargs: Any) -> Fault:
        """Queue a fault: ``inject(status=500, times=2, kind="list")``, ``inject(drop=True)``,
        ``inject(delay=2.0)``, ``inject(drop=True, after=True, method="PATCH")``..."""
        fault = fault or Fault(**kwargs)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def count(self, kind: str | None = None, method: str | None = None, base_id: str | None = None) -> int:
        """Requests seen (since the last reset) matching kind / method / base."""
        with self.lock:
            return sum(
                1
                for r in self.log
                if (kind is None or r.kind == kind)
                and (method is None or r.method == method.upper())
                and (base_id is None or r.base_id == base_id)
            )

    def reset_stats(self) -> None:
        """Clear the request log and counters."""
        with self.lock:
            self.log.clear()
            self.requests_by_base.clear()
            self.requests_by_kind.clear()

    def is_blocked(self, base_id: str) -> bool:
        with self.lock:
            return self._blocked_until.get(base_id, 0.0) > time.monotonic()

    def unblock(self, base_id: str | None = None) -> None:
        """End rate-limit blocks (one base or all) and forget the recent-request window."""
        with self.lock:
            for key in [base_id] if base_id else list(self._blocked_until):
                self._blocked_until.pop(key, None)
                self._hits.pop(key, None)

    def expire_all_offsets(self) -> None:
        """Forget every open list iterator (next offset use gets a 422)."""
        with self.lock:
            self._iterators.clear()

    # ----------------------------------------------------------------- request handling

    def handle(
        self, method: str, raw_path: str, headers: Mapping[str, str], raw_body: bytes
    ) -> _Response | None:
        """Serve one request; None means: drop the connection."""
        method = method.upper()
        parts = urlsplit(raw_path)
        segments = [unquote(s) for s in parts.path.split("/")[1:]]
        query = parse_qs(parts.query, keep_blank_values=True)
        body: Json = None
        bad_json = False
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                bad_json = True
        auth = headers.get("Authorization") or headers.get("authorization") or ""
        token = auth[7:].strip() if auth.startswith("Bearer ") else None
        kind, base_id, table_ref, record_id = _route(method, segments, body)
        info = RequestInfo(
            method,
            "/" + "/".join(segments),
            query,
            body,
            kind,
            base_id,
            table_ref,
            record_id,
            token,
            time.monotonic(),
        )
        with self.lock:
            self.log.append(info)
            self.requests_by_base[base_id or ""] += 1
            self.requests_by_kind[(method, kind)] += 1
            fault = next((f for f in self.faults if f.matches(info)), None)
            if fault is not None:
                fault.hits += 1
                info.fault = fault
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and not fault.after and (fault.drop or fault.status):
            return self._fault_response(info, fault)
        with self.lock:
            if bad_json:
                response = _Response(
                    422, {"error": {"type": "INVALID_REQUEST_UNKNOWN", "message": "Invalid request body"}}
                )
            else:
                try:
                    response = self._process(info, token)
                except AirtableError as exc:
                    response = _Response(exc.status, exc.body)
                except Exception:  # a bug in the fake: answer 500 and keep the traceback
                    self.errors.append(traceback.format_exc())
                    response = _Response(
                        500, {"error": {"type": "FAKE_AIRTABLE_BUG", "message": self.errors[-1]}}
                    )
            info.status = response.status
        if self.page_latency and info.kind in ("list", "list_post"):
            # Airtable took the request into account on arrival and answers a page later;
            # other requests are served meanwhile (each connection has its own thread).
            time.sleep(self.page_latency)
        if fault is not None and fault.after and (fault.drop or fault.status):
            return self._fault_response(info, fault)
        return response

    def _fault_response(self, info: RequestInfo, fault: Fault) -> _Response | None:
        if fault.drop:
            info.status = None
            return None
        assert fault.status is not None
        info.status = fault.status
        body = fault.body if fault.body is not None else _default_fault_body(fault.status)
        return _Response(fault.status, body)

    def _process(self, info: RequestInfo, token: str | None) -> _Response:
        if token is None or token not in self.valid_tokens:
            raise AirtableError(401, "AUTHENTICATION_REQUIRED", body=AUTH_REQUIRED_BODY)
        if info.kind == "unknown":
            raise AirtableError(404, "NOT_FOUND", body=ROUTE_NOT_FOUND_BODY)
        if info.kind == "whoami":
            return _Response(
                200,
                {
                    "id": "usrFAKEuser000001",
                    "scopes": ["data.records:read", "data.records:write", "schema.bases:read"],
                },
            )
        if info.kind == "meta_bases":
            allowed = self.token_bases.get(token)
            level = "read" if token in self.read_only_tokens else "create"
            return _Response(
                200,
                {
                    "bases": [
                        {"id": b.id, "name": b.name, "permissionLevel": level}
                        for b in self.bases.values()
                        if allowed is None or b.id in allowed
                    ]
                },
            )
        assert info.base_id is not None
        base = self.bases.get(info.base_id)
        allowed = self.token_bases.get(token)
        if base is None:
            if self.unknown_base_status == 403:
                raise AirtableError(403, "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND", body=NO_PERMISSION_BODY)
            raise AirtableError(404, "NOT_FOUND", f"Could not find base {info.base_id}")
        if allowed is not None and base.id not in allowed:
            raise AirtableError(403, "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND", body=NO_PERMISSION_BODY)
        self._rate_limit(base.id)
        if info.kind == "meta_tables":
            include = info.query.get("include", []) + info.query.get("include[]", [])
            visible = "visibleFieldIds" in include
            return _Response(200, {"tables": [t.to_json(visible) for t in base.tables.values()]})
        assert info.table is not None
        table = base.table(info.table)
        if table is None:
            raise AirtableError(
                404, "TABLE_NOT_FOUND", f"Could not find table {info.table} in application {base.id}"
            )
        writes = ("create", "batch_create", "update", "batch_update", "delete", "batch_delete")
        if info.kind in writes and token in self.read_only_tokens:
            raise AirtableError(403, "INVALID_PERMISSIONS", "You are not permitted to perform this operation")
        handler = getattr(self, "_do_" + info.kind)
        result: Json = handler(base, table, info)
        return _Response(200, result)

    def _rate_limit(self, base_id: str) -> None:
        if self.rate_limit_per_sec is None:
            return
        now = time.monotonic()
        if self._blocked_until.get(base_id, 0.0) > now:
            raise AirtableError(429, "RATE_LIMIT_REACHED", body=RATE_LIMIT_BODY)
        hits = self._hits.setdefault(base_id, deque())
        while hits and hits[0] <= now - 1.0:
            hits.popleft()
        if len(hits) >= self.rate_limit_per_sec:
            self._blocked_until[base_id] = now + self.block_seconds
            hits.clear()
            raise AirtableError(429, "RATE_LIMIT_REACHED", body=RATE_LIMIT_BODY)
        hits.append(now)

    # ----------------------------------------------------------------- list

    def _do_list(self, base: FakeBase, table: FakeTable, info: RequestInfo) -> Json:
        return self._list(base, table, _options_from_query(info.query))

    def _do_list_post(self, base: FakeBase, table: FakeTable, info: RequestInfo) -> Json:
        if info.body is not None and not isinstance(info.body, dict):
            raise AirtableError(422, "INVALID_REQUEST_UNKNOWN", "Invalid request body")
        return self._list(base, table, _options_from_body(info.body or {}))

    def _list(self, base: FakeBase, table: FakeTable, opts: _ListOptions) -> Json:
        for name in opts.fields or []:
            self._field_or_422(table, name)
        if opts.view is not None and opts.view not in (table.view_name, table.view_id):
            raise AirtableError(422, "VIEW_NAME_NOT_FOUND", f"View {opts.view} not found")
        page_size = max(1, min(opts.page_size, MAX_PAGE_SIZE))
        if opts.offset is not None:
            iterator, start = self._resume(table, opts.offset)
        else:
            ids = self._select(base, table, opts)
            iterator, start = _ListIterator(self.new_id("itr"), table.id, ids, 0.0), 0
        ids, pos, page = iterator.ids, start, []
        while pos < len(ids) and len(page) < page_size:
            record = table.records.get(ids[pos])
            pos += 1
            if record is not None:
                page.append(self._record_json(base, table, record, opts.fields, opts.by_field_id))
        result: dict[str, Any] = {"records": page}
        if pos < len(ids):
            iterator.issued[ids[pos]] = pos
            iterator.touched = time.monotonic()
            self._iterators[iterator.id] = iterator
            while len(self._iterators) > 10_000:
                self._iterators.pop(next(iter(self._iterators)))
            result["offset"] = f"{iterator.id}/{ids[pos]}"
        else:
            self._iterators.pop(iterator.id, None)
        return result

    def _resume(self, table: FakeTable, offset: str) -> tuple[_ListIterator, int]:
        itr_id, _, next_id = offset.partition("/")
        looks_valid = itr_id.startswith("itr") and next_id.startswith("rec")
        if not looks_valid:
            raise AirtableError(422, "INVALID_OFFSET_VALUE", f'The value of offset "{offset}" is invalid')
        iterator = self._iterators.get(itr_id)
        expired = (
            self.expire_offsets
            or iterator is None
            or next_id not in iterator.issued
            or (self.offset_ttl is not None and time.monotonic() - iterator.touched > self.offset_ttl)
        )
        if expired or iterator is None:
            self._iterators.pop(itr_id, None)
            raise AirtableError(
                422, "LIST_RECORDS_ITERATOR_NOT_AVAILABLE", "The list records iterator is no longer available"
            )
        if iterator.table_id != table.id:
            raise AirtableError(422, "INVALID_OFFSET_VALUE", f'The value of offset "{offset}" is invalid')
        return iterator, iterator.issued.pop(next_id)

    def _select(self, base: FakeBase, table: FakeTable, opts: _ListOptions) -> list[str]:
        """Snapshot the matching record ids, sorted and truncated."""
        ids = list(table.records)
        if opts.formula:
            try:
                formula = Formula(opts.formula, table)
            except FormulaError as exc:
                raise AirtableError(
                    422, "INVALID_FILTER_BY_FORMULA", f"The formula for filtering records is invalid: {exc}"
                ) from None
            now = self.now()
            ids = [rid for rid in ids if formula.matches(_Ctx(self, base, table, table.records[rid], now))]
        for name, descending in reversed(opts.sort):
            fdef = self._field_or_422(table, name)
            ids.sort(
                key=lambda rid, f=fdef: _sort_key(
                    self._formula_value(base, table, table.records[rid], f.name)
                ),
                reverse=descending,
            )
        if opts.max_records is not None:
            ids = ids[: max(opts.max_records, 0)]
        return ids

    def _field_or_422(self, table: FakeTable, name: str) -> FieldDef:
        fdef = table.field(name)
        if fdef is None:
            raise AirtableError(422, "UNKNOWN_FIELD_NAME", f'Unknown field name: "{name}"')
        return fdef

    # ----------------------------------------------------------------- get / write

    def _do_get(self, base: FakeBase, table: FakeTable, info: RequestInfo) -> Json:
        record = self._record_or_404(table, info.record_id)
        by_id = _flag(info.query.get("returnFieldsByFieldId", ["0"])[-1])
        return self._record_json(base, table, record, None, by_id)

    def _do_create(self, base: FakeBase, table: FakeTable, info: RequestInfo) -> Json:
        body = self._body(info)
        fields = body.get("fields", {})
        if not isinstance(fields, dict):
            raise AirtableError(422, "INVALID_REQUEST_UNKNOWN", "fields must be an object")
        clean = self._validate_fields(base, table, fields, _flag(body.get("typecast")))
        record = self._insert(table, clean)
        return self._record_json(base, table, record, None, _flag(body.get("returnFieldsByFieldId")))

    def _do_batch_create(self, base: FakeBase, table: FakeTable, info: RequestInfo) -> Json:
        body = self._body(info)
        items = self._batch(
            body, 'You must provide an array of up to 10 record objects, each with a "fields" object'
        )
        typecast = _flag(body.get("typecast"))
        cleaned = []
        for item in items:
            fields = item.get("fields", {})
            if not isinstance(fields, dict):
                raise AirtableError(422, "INVALID_RECORDS", "Each record needs a fields object")
            cleaned.append(self._validate_fields(base, table, fields, typecast))
        records = [self._insert(table, clean) for clean in cleaned]
        by_id = _flag(body.get("returnFieldsByFieldId"))
        return {"records": [self._record_json(base, table, r, None, by_id) for r in records]}

    def _do_update(self, base: FakeBase, table: FakeTable, info: RequestInfo) -> Json:
        body = self._body(info)
        record = self._record_or_404(table, info.record_id)
        fields = body.get("fields", {})
        if not isinstance(fields, dict):
            raise AirtableError(422, "INVALID_REQUEST_UNKNOWN", "fields must be an object")
        clean = self._validate_fields(base, table, fields, _flag(body.get("typecast")))
        self._write(table, record, clean, replace=info.method == "PUT")
        return self._record_json(base, table, record, None, _flag(body.get("returnFieldsByFieldId")))

    def _do_batch_update(self, base: FakeBase, table: FakeTable, info: RequestInfo) -> Json:
        body = self._body(info)
        if "performUpsert" in body:
            raise AirtableError(422, "INVALID_REQUEST_UNKNOWN", "performUpsert is not supported by the fake")
        items = self._batch(
            body,
            "You must provide an array of up to 10 record objects, each "
            'with an "id" string and a "fields" object',
        )
        typecast = _flag(body.get("typecast"))
        planned: list[tuple[Record, dict[str, Any]]] = []
        for item in items:
            record_id, fields = item.get("id"), item.get("fields", {})
            if not isinstance(record_id, str) or not isinstance(fields, dict):
                raise AirtableError(
                    422, "INVALID_RECORDS", 'Each record needs an "id" string and a "fields" object'
                )
            record = table.records.get(record_id)
            if record is None:
                raise AirtableError(
                    422, "ROW_DOES_NOT_EXIST", f"Record ID {record_id} does not exist in this table"
                )
            planned.append((record, self._validate_fields(base, table, fields, typecast)))
        for record, clean in planned:  # all validated first: the batch is all or nothing
            self._write(table, record, clean, replace=info.method == "PUT")
        by_id = _flag(body.get("returnFieldsByFieldId"))
        return {"records": [self._record_json(base, table, r, None, by_id) for r, _ in planned]}

    def _do_delete(self, base: FakeBase, table: FakeTable, info: RequestInfo) -> Json:
        record = self._record_or_404(table, info.record_id)
        del table.records[record.id]
        return {"id": record.id, "deleted": True}

    def _do_batch_delete(self, base: FakeBase, table: FakeTable, info: RequestInfo) -> Json:
        ids = info.query.get("records[]", []) + info.query.get("records", [])
        if not 1 <= len(ids) <= MAX_RECORDS_PER_BATCH:
            raise AirtableError(422, "INVALID_RECORDS", "You must provide an array of up to 10 record ids")
        for record_id in ids:
            if record_id not in table.records:
                raise AirtableError(
                    422, "ROW_DOES_NOT_EXIST", f"Record ID {record_id} does not exist in this table"
                )
        for record_id in ids:
            del table.records[record_id]
        return {"records": [{"id": rid, "deleted": True} for rid in ids]}

    def _body(self, info: RequestInfo) -> dict[str, Any]:
        if not isinstance(info.body, dict):
            raise AirtableError(
                422, "INVALID_REQUEST_MISSING_FIELDS", 'Could not find field "fields" in the request body'
            )
        return info.body

    def _batch(self, body: dict[str, Any], message: str) -> list[dict[str, Any]]:
        items = body.get("records")
        if (
            not isinstance(items, list)
            or not 1 <= len(items) <= MAX_RECORDS_PER_BATCH
            or not all(isinstance(i, dict) for i in items)
        ):
            raise AirtableError(422, "INVALID_RECORDS", message)
        return items

    def _record_or_404(self, table: FakeTable, record_id: str | None) -> Record:
        record = table.records.get(record_id or "")
        if record is None:
            raise AirtableError(404, "MODEL_ID_NOT_FOUND", f'Could not find a record with ID "{record_id}".')
        return record

    def _insert(self, table: FakeTable, clean: dict[str, Any]) -> Record:
        when = self.now()
        record = Record(self.new_id("rec"), {}, when, when)
        self._apply(table, record, clean, when)
        table.records[record.id] = record
        return record

    def _write(self, table: FakeTable, record: Record, clean: dict[str, Any], replace: bool) -> None:
        if replace:
            clean = {**{name: _EMPTY for name in record.fields}, **clean}
        self._apply(table, record, clean, self.now())

    def _apply(self, table: FakeTable, record: Record, clean: dict[str, Any], when: datetime) -> None:
        for name, value in clean.items():
            if value is _EMPTY:
                record.fields.pop(name, None)
            else:
                record.fields[name] = value
            record.field_modified[name] = when
        record.modified_time = max(record.modified_time, when)
        # keep schema order, like Airtable's responses
        order = list(table.fields)
        record.fields = dict(
            sorted(record.fields.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 0)
        )

    # ----------------------------------------------------------------- values

    def _validate_fields(
        self, base: FakeBase, table: FakeTable, fields: Mapping[str, Any], typecast: bool
    ) -> dict[str, Any]:
        """Check a write the way Airtable does; returns {field name: value or _EMPTY}."""
        clean: dict[str, Any] = {}
        for key, value in fields.items():
            fdef = self._field_or_422(table, key)
            clean[fdef.name] = self._coerce(base, fdef, value, typecast)
        return clean

    def _coerce(self, base: FakeBase, fdef: FieldDef, value: Any, typecast: bool) -> Any:
        def invalid() -> AirtableError:
            return AirtableError(
                422, "INVALID_VALUE_FOR_COLUMN", f'Field "{fdef.name}" cannot accept the provided value'
            )

        if fdef.type in COMPUTED_TYPES:
            raise AirtableError(
                422,
                "INVALID_VALUE_FOR_COLUMN",
                f'Field "{fdef.name}" cannot accept a value because the field is computed',
            )
        if value is None or value == "" or value == []:
            return _EMPTY
        ftype = fdef.type
        if ftype in TEXT_TYPES:
            if isinstance(value, (int, float)) and not isinstance(value, bool) and typecast:
                value = _to_text(value)
            if not isinstance(value, str):
                raise invalid()
            return value
        if ftype in NUMBER_TYPES:
            if isinstance(value, str) and typecast:
                try:
                    value = float(value.strip().replace(",", "."))
                except ValueError:
                    raise invalid() from None
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise invalid()
            return value
        if ftype == "checkbox":
            if isinstance(value, str) and typecast:
                value = value.strip().lower() in ("1", "true", "yes", "checked", "x")
            if not isinstance(value, bool):
                raise invalid()
            return value if value else _EMPTY
        if ftype in ("singleSelect", "multipleSelects"):
            return self._coerce_select(fdef, value, typecast, invalid)
        if ftype == "multipleRecordLinks":
            if isinstance(value, str) and typecast:
                value = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise invalid()
            linked = base.tables.get(fdef.options["linkedTableId"])
            for record_id in value:
                if linked is None or record_id not in linked.records:
                    raise AirtableError(
                        422, "ROW_DOES_NOT_EXIST", f"Record ID {record_id} does not exist in this table"
                    )
            return list(dict.fromkeys(value))
        if ftype in ("date", "dateTime"):
            parsed = parse_iso(value) if isinstance(value, str) else None
            if parsed is None:
                raise invalid()
            return parsed.date().isoformat() if ftype == "date" else iso(parsed)
        return value  # other types: stored as sent

    def _coerce_select(
        self, fdef: FieldDef, value: Any, typecast: bool, invalid: Callable[[], AirtableError]
    ) -> Any:
        multiple = fdef.type == "multipleSelects"
        if multiple and isinstance(value, str) and typecast:
            value = [v.strip() for v in value.split(",") if v.strip()]
        items = value if multiple else [value]
        if (multiple and not isinstance(value, list)) or not all(isinstance(v, str) for v in items):
            raise invalid()
        known = set(fdef.choice_names())
        missing = [v for v in items if v not in known]
        if missing and not typecast:
            raise AirtableError(
                422,
                "INVALID_MULTIPLE_CHOICE_OPTIONS",
                f'Insufficient permissions to create new select option ""{missing[0]}""',
            )
        for name in missing:
            self._add_choice(fdef, name)
        if not multiple:
            return value
        unique = list(dict.fromkeys(items))
        return unique or _EMPTY

    def _record_json(
        self, base: FakeBase, table: FakeTable, record: Record, only: list[str] | None, by_field_id: bool
    ) -> Json:
        wanted = None if only is None else {self._field_or_422(table, n).name for n in only}
        fields: dict[str, Any] = {}
        for name, fdef in table.fields.items():
            if wanted is not None and name not in wanted:
                continue
            if fdef.type == "createdTime":
                value: Any = iso(record.created_time)
            elif fdef.type == "lastModifiedTime":
                refs = fdef.options.get("referencedFieldIds") or []
                names = [f.name for f in table.fields.values() if f.id in refs]
                value = iso(record.last_modified(names))
            else:
                value = record.fields.get(name)
            if value is None:
                continue
            fields[fdef.id if by_field_id else name] = json.loads(json.dumps(value))
        return {"id": record.id, "createdTime": iso(record.created_time), "fields": fields}

    def _formula_value(self, base: FakeBase, table: FakeTable, record: Record, name: str) -> Any:
        """A field's value as formulas see it (lists stay lists, dates become datetimes)."""
        fdef = table.fields[name]
        if fdef.type == "createdTime":
            return record.created_time
        if fdef.type == "lastModifiedTime":
            return record.modified_time
        value = record.fields.get(name)
        if fdef.type == "checkbox":
            return bool(value)
        if value is None:
            return None
        if fdef.type == "multipleRecordLinks" and isinstance(value, list):
            linked = base.tables.get(fdef.options.get("linkedTableId", ""))
            if linked is None:
                return value
            primary = linked.primary.name
            return [linked.records[r].fields.get(primary, r) if r in linked.records else r for r in value]
        if fdef.type in ("date", "dateTime") and isinstance(value, str):
            return parse_iso(value) or value
        if fdef.type == "multipleAttachments" and isinstance(value, list):
            return [v.get("filename", "") if isinstance(v, dict) else v for v in value]
        return value


# --------------------------------------------------------------------------- helpers


def _route(method: str, segments: list[str], body: Json) -> tuple[str, str | None, str | None, str | None]:
    """(kind, base id, table, record id) for a path split on '/' (first item 'v0')."""
    if not segments or segments[0] != "v0":
        return "unknown", None, None, None
    rest = segments[1:]
    if rest[:1] == ["meta"]:
        if rest == ["meta", "bases"] and method == "GET":
            return "meta_bases", None, None, None
        if rest == ["meta", "whoami"] and method == "GET":
            return "whoami", None, None, None
        if len(rest) == 4 and rest[1] == "bases" and rest[3] == "tables" and method == "GET":
            return "meta_tables", rest[2], None, None
        return "unknown", None, None, None
    if len(rest) == 2 and all(rest):
        base_id, table = rest
        if method == "GET":
            return "list", base_id, table, None
        if method == "POST":
            batch = isinstance(body, dict) and "records" in body
            return ("batch_create" if batch else "create"), base_id, table, None
        if method in ("PATCH", "PUT"):
            return "batch_update", base_id, table, None
        if method == "DELETE":
            return "batch_delete", base_id, table, None
    if len(rest) == 3 and all(rest):
        base_id, table, tail = rest
        if tail == "listRecords" and method == "POST":
            return "list_post", base_id, table, None
        kinds = {"GET": "get", "PATCH": "update", "PUT": "update", "DELETE": "delete"}
        if method in kinds:
            return kinds[method], base_id, table, tail
    return "unknown", None, None, None


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true")
    return bool(value)


def _int_param(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise AirtableError(
            422, "INVALID_REQUEST_UNKNOWN", f"Invalid request: parameter {name} must be an integer"
        ) from None


_SORT_PARAM = re.compile(r"^sort\[(\d+)\]\[(field|direction)\]$")


def _options_from_query(query: dict[str, list[str]]) -> _ListOptions:
    opts = _ListOptions()
    if "fields[]" in query or "fields" in query:
        opts.fields = query.get("fields[]", []) + query.get("fields", [])
    if query.get("filterByFormula"):
        opts.formula = query["filterByFormula"][-1]
    if "pageSize" in query:
        opts.page_size = _int_param(query["pageSize"][-1], "pageSize")
    if "maxRecords" in query:
        opts.max_records = _int_param(query["maxRecords"][-1], "maxRecords")
    if query.get("offset"):
        opts.offset = query["offset"][-1]
    if query.get("view"):
        opts.view = query["view"][-1]
    opts.by_field_id = _flag(query.get("returnFieldsByFieldId", ["0"])[-1])
    sorts: dict[int, dict[str, str]] = {}
    for key, values in query.items():
        if match := _SORT_PARAM.match(key):
            sorts.setdefault(int(match.group(1)), {})[match.group(2)] = values[-1]
    opts.sort = [(s.get("field", ""), s.get("direction", "asc") == "desc") for _, s in sorted(sorts.items())]
    return opts


def _options_from_body(body: dict[str, Any]) -> _ListOptions:
    opts = _ListOptions()
    if body.get("fields") is not None:
        opts.fields = [str(f) for f in body["fields"]]
    opts.formula = body.get("filterByFormula") or None
    if body.get("pageSize") is not None:
        opts.page_size = _int_param(body["pageSize"], "pageSize")
    if body.get("maxRecords") is not None:
        opts.max_records = _int_param(body["maxRecords"], "maxRecords")
    opts.offset = body.get("offset") or None
    opts.view = body.get("view") or None
    opts.by_field_id = _flag(body.get("returnFieldsByFieldId"))
    opts.sort = [
        (str(s.get("field", "")), s.get("direction", "asc") == "desc")
        for s in body.get("sort") or []
        if isinstance(s, dict)
    ]
    return opts


def _sort_key(value: Any) -> tuple[int, Any]:
    """Blanks first, then numbers, dates, text (case-insensitive)."""
    if value is None or value == "" or value == []:
        return (0, 0)
    if isinstance(value, (bool, int, float)):
        return (1, float(value))
    if isinstance(value, datetime):
        return (2, value.timestamp())
    if isinstance(value, date):
        return (2, datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp())
    return (3, _to_text(value).lower())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = -1  # buffered: headers and body leave in one write
    timeout = 60  # idle keep-alive connections end eventually

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        fake: FakeAirtable = self.server.fake  # type: ignore[attr-defined]
        response = fake.handle(self.command, self.path, dict(self.headers.items()), raw)
        if response is None:
            self.close_connection = True  # nothing written: the client sees a dropped connection
            return
        payload = json.dumps(response.body).encode()
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve


try:
    import pytest
except ImportError:  # pragma: no cover - the fake also works without pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def fake_airtable() -> Iterator[FakeAirtable]:
        """A started FakeAirtable (no bases yet), stopped after the test."""
        with FakeAirtable(seed=1234) as fake:
            yield fake


__all__ = [
    "AirtableError",
    "FakeAirtable",
    "FakeBase",
    "FakeTable",
    "Fault",
    "FieldDef",
    "Formula",
    "FormulaError",
    "ManualClock",
    "Record",
    "RequestInfo",
    "fake_airtable",
    "iso",
    "parse_iso",
]
