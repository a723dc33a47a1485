"""Campaign messages: templates per tier, placeholders, rendering and customer names (SPEC §5)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from services.text_arrays import large, strings
from services.wording import SEPARATOR, join_pt

PLACEHOLDERS: tuple[str, ...] = ("first_name", "name", "product", "brand", "brands", "store", "link")
# The names people type (SPEC §5); the English ones are still read.
PORTUGUESE: Mapping[str, str] = {
    "primeiro_nome": "first_name", "nome": "name", "produto": "product", "marca": "brand",
    "marcas": "brands", "loja": "store", "link": "link",
}
#: Placeholders whose values come from the customer's name (the others are given per row).
_FROM_NAME: tuple[str, ...] = ("first_name", "name")


@dataclass(frozen=True)
class Templates:
    """The message of each tier; ``secondary`` None means the primary one is used."""

    primary: str
    secondary: str | None = None

    def for_tier(self, tier: str) -> str:
        """The template of ``tier`` (``"primary"`` or ``"secondary"``, the tiers of a campaign list)."""
        if tier == "secondary" and self.secondary is not None:
            return self.secondary
        return self.primary


# The messages of the ready-made campaigns (SPEC §5 table).
AVAILABLE = "O {produto} que você procurou está disponível! Quer agendar visita?"
REMEMBER = "Lembra do {produto}? Temos novidades. Ainda tem interesse?"
BRANDS = "Vi que você se interessou por {marcas}. Temos novos modelos. Quer conhecer?"
LAUNCH = "Novos modelos {marca} chegaram. Gostaria de conhecer?"


# --- Names ---------------------------------------------------------------------

_PARTICLES = ("da", "das", "de", "do", "dos", "e", "di", "del", "della", "van", "von", "du")
# RE2 syntax (arrow): \p{L} is any letter, in any script.
_FIRST_NAME = (
    r"^[^\p{L}]*(?:(?i:sr|sra|srta|dr|dra|dona|prof|profa)\.?\s+)?"
    r"(?P<first>\p{L}[\p{L}\p{M}'’-]*)"
)


def _first_names(names: pa.Array) -> pa.Array:
    """The first name of each full name, title-cased; ``""`` when there is none."""
    found = pc.struct_field(pc.extract_regex(names, _FIRST_NAME), [0])
    return pc.utf8_title(found).fill_null("")


def _display_names(names: pa.Array) -> pa.Array:
    """Full names title-cased, with Portuguese particles (da, dos…) in lower case."""
    text = pc.utf8_title(names)
    for particle in _PARTICLES:
        text = pc.replace_substring_regex(text, rf"(\s){particle.title()}(\s)", rf"\1{particle}\2")
    return text


def first_name(name: str | None) -> str:
    """The first name of a full name, capitalised for a greeting.

    Honorifics (Sr., Dra.) are skipped; a name with no letters gives ``""``.

    Example: ``first_name("maria DA silva") == "Maria"``.
    """
    return _first_names(strings([" ".join((name or "").split())]))[0].as_py()


def display_name(name: str | None) -> str:
    """A full name capitalised the Portuguese way: particles (da, de, dos…) in lower case.

    Every word is capitalised, so "McKenzie" reads "Mckenzie": names are typed
    in any case by customers, and most need it.

    Example: ``display_name("maria DA silva") == "Maria da Silva"``.
    """
    return _display_names(strings([" ".join((name or "").split())]))[0].as_py()


# --- Messages --------------------------------------------------------------------

# Any text in braces is a placeholder: a known one is filled, any other is left out.
_FIELD = re.compile(r"\{\s*([^{}\n]*?)\s*\}")
_PRIVATE = re.compile("[\ue000-\ue003]")
_HOLE = "\ue002"
_CAP = "\ue003"
_SLOT = re.compile("\ue000(\\d+)\ue001")
# Words that cannot stand without the value after them: dropped with a missing value.
_DANGLING = (
    "a|o|as|os|à|às|ao|aos|da|do|das|dos|de|em|no|na|nos|nas|num|numa|por|pelo|pela|pelos|"
    "pelas|para|pra|com|e|ou|seu|sua|seus|suas|um|uma|meu|minha"
)
# ...except where what follows still makes a phrase: "o que", "o da Rolex", "do que".
_ARTICLES = frozenset({"a", "o", "as", "os"})
_CONTRACTIONS = frozenset({"ao", "aos", "à", "às", "da", "do", "das", "dos", "no", "na", "nos", "nas",
                           "pelo", "pela", "pelos", "pelas"})
_OF = frozenset({"de", "da", "do", "das", "dos"})
_BEFORE_HOLE = re.compile(
    rf"(?i)(?<![\w\ue001])({_DANGLING})[ \t]+{_HOLE}(?=[ \t]*([^\W\d_]*))", re.MULTILINE
)


def _drop_dangling(match: re.Match[str]) -> str:
    """A preposition or article whose value is missing goes with it ("Lembra do ?")."""
    word, following = match[1].lower(), match[2].lower()
    if following == "que" and (word in _ARTICLES or word in _CONTRACTIONS):
        return match[0]
    if word in _ARTICLES and following in _OF:
        return match[0]
    return _HOLE


_PUNCT = ".,!?;:…"


def template_fields(template: str) -> list[str]:
    """The placeholders a template uses, known or not, in order, as typed (lower case).

    Example: ``template_fields("Olá {primeiro_nome}, {x}") == ["primeiro_nome", "x"]``.
    """
    return [m[1].lower() for m in _FIELD.finditer(template)]


def field_name(typed: str) -> str | None:
    """The placeholder a name typed in braces stands for (Portuguese or English); None if unknown.

    Example: ``field_name("produto") == field_name("Product") == "product"``.
    """
    name = typed.strip().lower()
    name = PORTUGUESE.get(name, name)
    return name if name in PLACEHOLDERS else None


def _before_period(literal: str) -> bool:
    """True when the text after a value opens with a period (and not with an ellipsis)."""
    return literal.startswith(".") and not literal.startswith("..")


def _tidy(text: str) -> str:
    """Remove the holes left by missing values without leaving their traces behind."""
    if _HOLE not in text:
        return text.strip()
    h = _HOLE
    rules = (
        # Empty brackets or quotes around a missing value; a list in brackets
        # that now opens with a comma.
        (rf"\(\s*{h}\s*\)|\"\s*{h}\s*\"|“\s*{h}\s*”|'\s*{h}\s*'", h),
        (rf"([(\[“\"])[ \t]*{h}[ \t]*[,;:][ \t]*", r"\1"),
        # Two missing values joined by a comma or a conjunction are one gap.
        (rf"{h}[ \t]*(?:,|;|/|&|\be\b|\bou\b)?[ \t]*{h}", h),
    )
    previous = None
    while previous != text:
        previous = text
        for pattern, replacement in rules:
            text = re.sub(pattern, replacement, text, flags=re.MULTILINE)
        text = _BEFORE_HOLE.sub(_drop_dangling, text)
    # At the start of the text, a line or a sentence: drop the punctuation that
    # followed the value and capitalise what now opens the sentence.
    text = re.sub(
        rf"(^|(?<=[.!?…])[ \t]+)(?:[ \t]*{h}[ \t]*[{_PUNCT}]*[ \t]*)+",
        lambda m: (m[1] or "") + _CAP, text, flags=re.MULTILINE,
    )
    # A comma (or ; :) whose phrase is gone: "Olá, !" → "Olá!".
    text = re.sub(rf"[ \t]*[,;:][ \t]*{h}[ \t]*(?=[{_PUNCT})]|$)", "", text, flags=re.MULTILINE)
    # Before punctuation or at the end of a line: nothing; between words: one space.
    text = re.sub(rf"[ \t]*{h}[ \t]*(?=[{_PUNCT})]|$)", "", text, flags=re.MULTILINE)
    text = re.sub(rf"(?<=\S)[ \t]*{h}[ \t]*(?=\S)", " ", text)
    text = re.sub(rf"[ \t]*{h}[ \t]*", "", text)
    text = re.sub(f"{_CAP}+([^\\W\\d_])", lambda m: m[1].upper(), text)
    text = text.replace(_CAP, "")
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(rf"[ \t]+(?=[{_PUNCT}])", "", text)
    text = re.sub(r"[ \t]+$", "", text, flags=re.MULTILINE)
    return text.strip()


@lru_cache(maxsize=4096)
def _compile(template: str, present: frozenset[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A template as literals and the fields between them, for the values ``present``.

    Missing and unknown placeholders are removed and their traces tidied here,
    once per pattern of missing values, so rendering is plain concatenation.
    Returns ``(literals, fields)`` with ``len(literals) == len(fields) + 1``.
    """
    fields: list[str] = []

    def slot(match: re.Match[str]) -> str:
        name = field_name(match[1])
        if name is not None and name in present:
            fields.append(name)
            return f"\ue000{len(fields) - 1}\ue001"
        return _HOLE

    # The private-use characters that mark slots and holes cannot come from the user.
    skeleton = _tidy(_FIELD.sub(slot, _PRIVATE.sub("", template)))
    parts = _SLOT.split(skeleton)
    literals = tuple(parts[0::2])
    order = tuple(fields[int(i)] for i in parts[1::2])
    return literals, order


def _clean_value(value: object, key: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, Sequence):
        items = [" ".join(str(v).split()) for v in value if v is not None and str(v).strip()]
        if key == "brands":
            return join_pt(list(dict.fromkeys(items))[:3])
        return SEPARATOR.join(items)
    return " ".join(str(value).split())


def render_message(template: str, context: Mapping[str, object]) -> str:
    """A message with its placeholders filled and the gaps of missing values tidied.

    Placeholders: ``{primeiro_nome}`` ``{nome}`` ``{produto}`` ``{marca}`` ``{marcas}``
    ``{loja}`` ``{link}``, or their English names (``{first_name}`` ``{name}`` ``{product}``
    ``{brand}`` ``{brands}`` ``{store}``), which are also the keys of ``context``.
    A value that ends in a period followed by the sentence's own gives one period
    ("Tiffany & Co." + "." → "Tiffany & Co."). ``first_name`` is derived from ``name``
    when not given, and both are capitalised (``first_name``: "maria DA silva" → "Maria"; ``name`` →
    "Maria da Silva"); ``brands`` may be a list (the first 3 show, "A, B e C").
    A missing value, or an unknown placeholder, is left out with what would
    dangle: the space, a comma before punctuation, a preposition or article
    with nothing after it ("Lembra do {product}?" → "Lembra?"); a sentence that
    now starts with a comma loses it and is capitalised. An article stays
    where it still reads ("O {product} que…" → "O que…"). The same rules give
    the messages of ``build_list``.

    Args:
        template: the message text.
        context: values by placeholder name; None or "" is missing.

    Returns:
        The message. Example:
        ``render_message("Olá {first_name}, o {product} chegou!", {"product": "X"})``
        → ``"Olá, o X chegou!"``
    """
    values = {key: _clean_value(context.get(key), key) for key in PLACEHOLDERS}
    columns = {key: strings([value]) for key, value in values.items() if key not in ("name", "first_name")}
    if values["first_name"]:
        columns["first_name"] = _first_names(strings([values["first_name"]]))
    row = _Context(strings([values["name"]]), columns)
    return row.render(template, np.zeros(1, dtype=np.int64))[0].as_py()


def render_rows(
    templates: Templates, is_primary: np.ndarray, names: pa.Array, values: Mapping[str, pa.Array]
) -> pa.Array:
    """The message of every row of a list, by the template of its tier: ``render_message`` at once.

    Args:
        templates: the message of each tier.
        is_primary: per row, whether it is of the primary tier.
        names: per row, the customer's full name (``first_name`` and ``name`` come from it).
        values: per placeholder (``product``, ``brand``, ``brands``, ``store``, ``link``), the text
            of every row; ``""`` is missing (a placeholder not given is missing in every row).

    Returns:
        The messages, one per row, as arrow strings.
    """
    return _Context(names, dict(values)).render_tiers(templates, is_primary)


class _Context:
    """The placeholder values of every row, as arrow strings (``""`` when missing)."""

    def __init__(self, names: pa.Array, values: dict[str, pa.Array]) -> None:
        self._names = names
        self._values = dict(values)

    def column(self, key: str) -> pa.Array:
        if key not in self._values:
            if key not in _FROM_NAME:  # a value not given (a list without links): missing in every row
                self._values[key] = pa.array([""] * len(self._names), type=pa.large_string())
                return self._values[key]
            # Names are capitalised only when a template asks for them.
            shown = _first_names if key == "first_name" else _display_names
            self._values[key] = shown(self._names)
        return self._values[key]

    def render_tiers(self, templates: Templates, is_primary: np.ndarray) -> pa.Array:
        """The message of every row, by the template of its tier."""
        if is_primary.all() or templates.secondary is None:
            return self.render(templates.primary, np.arange(len(is_primary)))
        order = np.argsort(~is_primary, kind="stable")
        k = int(is_primary.sum())
        parts = pa.concat_arrays([
            self.render(templates.primary, order[:k]),
            self.render(templates.secondary, order[k:]),
        ])
        # Lists come primary first, so the parts are usually in row order already.
        return parts if is_primary[:k].all() else parts.take(pa.array(np.argsort(order)))

    def render(self, template: str, rows: np.ndarray) -> pa.Array:
        """The messages of ``rows`` (positions), in that order."""
        if len(rows) == 0:
            return pa.array([], type=pa.large_string())
        known = (field_name(f) for f in template_fields(template))
        used = [f for f in dict.fromkeys(known) if f is not None]
        index = pa.array(rows)
        whole = len(rows) == len(self._names) and bool((rows == np.arange(len(rows))).all())
        columns = {f: self.column(f) if whole else self.column(f).take(index) for f in used}
        pattern = np.zeros(len(rows), dtype=np.int64)
        for bit, f in enumerate(used):
            filled = pc.not_equal(columns[f], "").to_numpy(zero_copy_only=False)
            pattern |= filled.astype(np.int64) << bit
        # Rows with the same values missing share one tidied template.
        single = bool((pattern == pattern[0]).all())
        order = np.arange(len(pattern)) if single else np.argsort(pattern, kind="stable")
        codes, starts = np.unique(pattern[order], return_index=True)
        ends = np.r_[starts[1:], len(order)]
        parts = []
        for code, start, end in zip(codes, starts, ends, strict=True):
            present = frozenset(f for bit, f in enumerate(used) if code >> bit & 1)
            literals, fields = _compile(template, present)
            if not fields:
                parts.append(pa.array([literals[0]] * int(end - start), type=pa.large_string()))
                continue
            take = pa.array(order[start:end])
            pieces: list[object] = [large(literals[0])]
            for name, literal in zip(fields, literals[1:], strict=True):
                value = columns[name] if single else columns[name].take(take)
                if _before_period(literal):
                    # "Tiffany & Co." + "." reads one period, not two.
                    value = pc.replace_substring_regex(value, r"\.$", "")
                pieces.extend((value, large(literal)))
            parts.append(pc.binary_join_element_wise(*pieces, large("")))
        joined = pa.concat_arrays(parts)
        return joined if single else joined.take(pa.array(np.argsort(order)))
