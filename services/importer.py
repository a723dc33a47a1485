"""Importing a Customers table exported as CSV or XLSX (SPEC §8): every row checked, then all or nothing.

``check`` reads a ``Sheet`` into a ``Plan``: the customers it holds, and every bad row with
its line and reason. Nothing is written while a plan has problems. ``apply`` writes a sound
plan in one transaction; a phone already in that store is merged, never replaced: the
histories are united and the more recent ``interests`` go to the front, as the recording
rule would (SPEC §3), so nothing the base held is lost. What a merge adds to a customer's
history is dated in the timeline (source ``importacao``), as a sync dates a changed record;
the history of a new customer has no date, as a base's before its first sync (SPEC §11).
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

import pandas as pd

from services.frame import RAW_COLUMNS
from services.interests import (
    RECENT_LIMIT,
    Customer,
    merge_history,
    normalize_phone,
    phone_key,
    product_key,
    repaired_history,
)
from services.records import customer_of
from services.sheets import Sheet, flag_of, items_of, read_sheet, text_of, time_of
from services.store.base import CustomerRepository, StoreError
from services.store.sqlite import MIRROR_WITHOUT_SETTINGS, SqliteStore, decode
from services.timeline import IMPORTACAO, Event, events_between

# Header names as Airtable and people write them, compared without case, accents or punctuation.
ALIASES: dict[str, tuple[str, ...]] = {
    "phone": ("phone", "telefone", "celular", "whatsapp"),
    "name": ("name", "nome"),
    "store": ("tenant_id", "tenant", "tenants", "loja", "store"),
    "interests": ("interests", "interesses"),
    "interests_all": ("interests_all", "interesses_todos", "historico"),
    "created_at": ("created_at", "criado_em", "primeiro_contato"),
    "last_interaction": ("last_interaction", "ultima_interacao"),
    "opt_out": ("opt_out", "optout", "descadastrado"),
}
class InvalidImport(ValueError):
    """A file that cannot be imported as a whole (no phone column, an unknown --store...)."""


@dataclass(frozen=True)
class Problem:
    """A bad row: its line in the file and every reason, for the person who fixes it."""

    line: int
    reason: str


@dataclass(frozen=True)
class Plan:
    """What a file would import.

    Attributes:
        source: the file's name.
        customers: the customers read (no id yet), in file order.
        lines: the line of each customer.
        problems: every bad row; while there is one, nothing is written.
        columns: field -> the header read for it.
        ignored: headers that are no field of the Customers table.
    """

    source: str
    customers: tuple[Customer, ...]
    lines: tuple[int, ...]
    problems: tuple[Problem, ...]
    columns: dict[str, str]
    ignored: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when the file can be imported: customers, and no bad row."""
        return bool(self.customers) and not self.problems


@dataclass(frozen=True)
class StoreCount:
    """How many customers of one store are new, and how many merge into one already there."""

    store: str
    new: int
    merged: int


@dataclass(frozen=True)
class Report:
    """The result of a dry run (``applied`` False) or of an import."""

    plan: Plan
    counts: tuple[StoreCount, ...]
    applied: bool

    @property
    def new(self) -> int:
        return sum(c.new for c in self.counts)

    @property
    def merged(self) -> int:
        return sum(c.merged for c in self.counts)


# --- reading the rows -------------------------------------------------------------------------------


def header_key(text: str) -> str:
    """A header as compared: no accents, no case, letters and digits only.

    Example: ``header_key("Última interação") == header_key("ultima_interacao")``
    """
    return re.sub(r"[^a-z0-9]", "", product_key(text))


_FIELD_OF = {header_key(alias): field for field, aliases in ALIASES.items() for alias in aliases}


def match_columns(
    header: Sequence[str], field_of: Mapping[str, str], labels: Mapping[str, str] | None = None
) -> tuple[dict[str, int], tuple[str, ...]]:
    """The column of each field named in ``header`` (by ``header_key``), and the headers ignored.

    Args:
        header: the sheet's first row.
        field_of: header key -> field.
        labels: the fields' names in messages (default: the field itself).

    Raises:
        InvalidImport: two columns for one field.
    """
    found: dict[str, int] = {}
    ignored: list[str] = []
    for index, title in enumerate(header):
        field = field_of.get(header_key(title))
        if field is None:
            if title:
                ignored.append(title)
        elif field in found:
            label = (labels or {}).get(field, field)
            raise InvalidImport(f"duas colunas para {label}: {header[found[field]]!r} e {title!r}")
        else:
            found[field] = index
    return found, tuple(ignored)


def columns_of(header: Sequence[str]) -> tuple[dict[str, int], tuple[str, ...]]:
    """The column of each field, and the headers ignored.

    Raises:
        InvalidImport: no phone column, or two columns for one field.
    """
    found, ignored = match_columns(header, _FIELD_OF)
    if "phone" not in found:
        raise InvalidImport("a planilha não tem a coluna de telefone (phone ou telefone); cabeçalho lido: "
                            + ", ".join(repr(h) for h in header if h))
    return found, ignored


def check(sheet: Sheet, stores: Sequence[str], default_store: str | None = None) -> Plan:
    """Read every row of ``sheet`` and list every problem; write nothing.

    Args:
        sheet: the file's table.
        stores: the stores of the database (an import never creates one: ``store add`` does).
        default_store: the store of rows whose store cell is empty (or of a file without one).

    Returns:
        The plan: customers, and the bad rows (bad phone, unknown store, bad date, a phone
        repeated in the file for the same store, ninth digit or not).

    Raises:
        InvalidImport: no phone column, two columns for a field, or an unknown ``default_store``.
    """
    columns, ignored = columns_of(sheet.header)
    by_key = {product_key(name): name for name in stores}
    fallback = None
    if default_store:
        fallback = by_key.get(product_key(default_store))
        if fallback is None:
            raise InvalidImport(f"--store {default_store!r} não é uma loja da base ({_listed(stores)});"
                                " crie-a com `python -m services store add`")
    customers: list[Customer] = []
    lines: list[int] = []
    problems: list[Problem] = []
    first_line: dict[tuple[str, str], int] = {}
    for line, cells in sheet.rows:
        values = {field: cells[index] if index < len(cells) else None for field, index in columns.items()}
        if not any(text_of(value) for value in values.values()):
            continue  # a blank row (Excel leaves them at the end)
        customer, reasons = _customer(values, by_key, fallback, stores)
        if customer is not None:
            key = (customer.store, phone_key(customer.phone) or "")
            if key in first_line:
                reasons.append(f"telefone {customer.phone} repetido na loja {customer.store}"
                               f" (já na linha {first_line[key]})")
            else:
                first_line[key] = line
        if reasons:
            problems.append(Problem(line, "; ".join(reasons)))
        elif customer is not None:
            customers.append(customer)
            lines.append(line)
    return Plan(sheet.name, tuple(customers), tuple(lines), tuple(problems),
                {field: sheet.header[index] for field, index in columns.items()}, ignored)


def _customer(values: dict[str, object], by_key: dict[str, str], fallback: str | None,
              stores: Sequence[str]) -> tuple[Customer | None, list[str]]:
    reasons: list[str] = []
    raw_phone = text_of(values.get("phone"))
    phone = normalize_phone(raw_phone) if raw_phone else None
    if phone is None:
        reasons.append(f"telefone inválido: {raw_phone!r}" if raw_phone else "sem telefone")
    written = text_of(values.get("store"))
    store = by_key.get(product_key(written)) if written else fallback
    if store is None:
        reasons.append(f"loja desconhecida: {written!r} (lojas da base: {_listed(stores)})" if written
                       else "sem loja (preencha a coluna da loja ou use --store)")
    moments: dict[str, datetime | None] = {}
    for field in ("created_at", "last_interaction"):
        try:
            moments[field] = time_of(values.get(field))
        except ValueError as error:
            reasons.append(f"{field}: {error}")
    opt_out = False
    try:
        opt_out = flag_of(values.get("opt_out"))
    except ValueError as error:
        reasons.append(str(error))
    if reasons:
        return None if phone is None or store is None else Customer("", store, phone), reasons
    recent = items_of(values.get("interests"))
    history = repaired_history(recent, items_of(values.get("interests_all")))
    return Customer(
        id="", store=store, phone=phone, name=" ".join(text_of(values.get("name")).split()),
        interests=recent[-RECENT_LIMIT:], interests_all=history,
        created_at=moments.get("created_at"), last_interaction=moments.get("last_interaction"),
        opt_out=opt_out,
    ), []


def _listed(stores: Sequence[str]) -> str:
    return ", ".join(stores) or "nenhuma"


# --- merging and writing ----------------------------------------------------------------------------


def merge(existing: Customer, imported: Customer) -> Customer:
    """One customer from the record held and the record imported: nothing lost.

    The history is the union (the held order first); the ``interests`` of the more recent
    record go to the front of the other's, last 5 kept (step 4 of the recording rule);
    the earliest ``created_at``, the latest ``last_interaction``; the held name unless it
    is empty; an opt-out of either stays.

    Example: ``merge(held, imported).interests_all`` holds every item of both histories.
    """
    history = merge_history(existing.history, imported.history)
    imported_is_newer = imported.last_interaction is not None and (
        existing.last_interaction is None or imported.last_interaction >= existing.last_interaction)
    older, newer = (existing, imported) if imported_is_newer else (imported, existing)
    front = {product_key(item) for item in newer.interests}
    spelling: dict[str, str] = {}
    for item in history:
        spelling.setdefault(product_key(item), item)
    recent = [item for item in older.interests if product_key(item) not in front] + list(newer.interests)
    moments = [m for m in (existing.created_at, imported.created_at) if m is not None]
    return replace(
        existing,
        name=existing.name or imported.name,
        interests=[spelling[product_key(item)] for item in recent][-RECENT_LIMIT:],
        interests_all=history,
        created_at=min(moments) if moments else None,
        last_interaction=newer.last_interaction or older.last_interaction,
        opt_out=existing.opt_out or imported.opt_out,
    )


@dataclass(frozen=True)
class _Held:
    customer: Customer
    as_text: bool


def _held(db: sqlite3.Connection, stores: Sequence[str]) -> dict[tuple[str, str], _Held]:
    """The customers already in ``stores`` by (store, phone key); the most recent wins, as ``find``."""
    wanted = sorted(set(stores))
    rows = db.execute(
        f"SELECT {', '.join(RAW_COLUMNS)} FROM customers WHERE store IN ({','.join('?' * len(wanted))})"
        " ORDER BY last_interaction, rowid", wanted,
    ).fetchall()
    held: dict[tuple[str, str], _Held] = {}
    for row in rows:
        raw = {name: value if name in ("id", "store", "opt_out") else decode(value)
               for name, value in zip(RAW_COLUMNS, row, strict=True)}
        key = phone_key(normalize_phone(raw["phone"]) if isinstance(raw["phone"], str) else None)
        if key:
            as_text = isinstance(raw["interests"], str) or isinstance(raw["interests_all"], str)
            held[(str(raw["store"]), key)] = _Held(customer_of(raw), as_text)
    return held


def _counts(plan: Plan, held: dict[tuple[str, str], _Held]) -> tuple[StoreCount, ...]:
    tally: dict[str, list[int]] = {}
    for customer in plan.customers:
        known = (customer.store, phone_key(customer.phone) or "") in held
        tally.setdefault(customer.store, [0, 0])[1 if known else 0] += 1
    return tuple(StoreCount(store, new, merged) for store, (new, merged) in sorted(tally.items()))


def _stores(plan: Plan) -> list[str]:
    return sorted({customer.store for customer in plan.customers})


def dry_run(store: SqliteStore, plan: Plan) -> Report:
    """What ``apply`` would do, per store (new, merged), without writing."""
    with store.connect() as db:
        held = _held(db, _stores(plan))
    return Report(plan, _counts(plan, held), applied=False)


def apply(store: SqliteStore, plan: Plan, at: datetime) -> Report:
    """Write ``plan`` in one transaction: every customer, or none (a crash leaves none).

    Args:
        store: the embedded database (never an Airtable mirror: a sync would erase the import).
        plan: a plan without problems.
        at: the import's time (the records' modification time).

    Returns:
        The report, ``applied`` True. The file's source becomes ``local`` unless it is the demo;
        what a merge adds is dated in the timeline (``importacao``).

    Raises:
        InvalidImport: the plan has bad rows, or no customer.
        StoreError: the file is an Airtable mirror.
    """
    if not plan.ok:
        raise InvalidImport(f"{plan.source}: {len(plan.problems)} linha(s) com problema ou nenhum cliente:"
                            " nada foi importado")
    with store.connect() as db:
        db.execute("BEGIN IMMEDIATE")
        source = db.execute("SELECT value FROM meta WHERE key = 'source'").fetchone()
        if source and source[0] == "airtable":
            raise StoreError(MIRROR_WITHOUT_SETTINGS)
        held = _held(db, _stores(plan))
        counts = _counts(plan, held)
        events: list[Event] = []
        for customer in plan.customers:
            found = held.get((customer.store, phone_key(customer.phone) or ""))
            if found is None:
                store.write(db, replace(customer, id="loc" + uuid.uuid4().hex[:14]), as_text=False,
                            modified_at=at)
            else:
                merged = merge(found.customer, customer)
                store.write(db, merged, as_text=found.as_text, modified_at=at)
                events += events_between(found.customer, merged, at, IMPORTACAO)
        # The records and their events commit together; what the file held before has no date.
        store.events.append(events, db=db)
        store.events.mark_since(at, db=db)
        if not source or source[0] != "demo":
            db.execute("INSERT OR REPLACE INTO meta VALUES ('source', 'local')")
    return Report(plan, counts, applied=True)


def refusal(repository: CustomerRepository) -> str | None:
    """Why ``repository`` cannot take an import, in words for the screen; None when it can.

    An Airtable base (or its mirror) is refused: the next sync would erase what was imported.
    """
    if not isinstance(repository, SqliteStore) or repository.get_meta("source") == "airtable":
        return ("Esta base vem do Airtable: importe os clientes no próprio Airtable; a próxima"
                " sincronização os traz para cá.")
    if getattr(repository, "read_only", False):
        return f"A base {repository.path} é somente leitura: nada pode ser importado nela."
    return None


def preview(repository: SqliteStore, name: str, data: bytes, default_store: str | None = None) -> Report:
    """The dry run of an uploaded file: read, check every row, count new and merged per store.

    Args:
        repository: the embedded database (``refusal`` is None for it).
        name: the file's name.
        data: the file's bytes (CSV or XLSX).
        default_store: the store of rows without one.

    Raises:
        ValueError: the file is no table (``UnreadableSheet``) or cannot be imported as a
            whole (``InvalidImport``); the message is for the screen.
    """
    return dry_run(repository, check(read_sheet(name, data), repository.stores(), default_store))


# --- what people read -------------------------------------------------------------------------------


def report_lines(report: Report, database: str = "") -> list[str]:
    """The report as the command line prints it: the bad rows, or the counts per store."""
    plan = report.plan
    lines = [f"{plan.source}: {len(plan.customers) + len(plan.problems)} linha(s) de cliente,"
             f" {len(plan.problems)} com problema"]
    if plan.ignored:
        lines.append("colunas ignoradas: " + ", ".join(plan.ignored))
    lines += [f"linha {problem.line}: {problem.reason}" for problem in plan.problems]
    if plan.problems:
        return lines
    lines += [f"{count.store}: {count.new} novo(s), {count.merged} já na base (mesclado(s))"
              for count in report.counts]
    if report.applied:
        lines.append(f"Importado em {database or 'a base'}: {report.new} novo(s), {report.merged}"
                     " mesclado(s) (históricos unidos, nada perdido).")
    else:
        lines.append(f"Simulação: {report.new} novo(s), {report.merged} mesclado(s); nada foi gravado."
                     " Rode de novo com --apply para importar.")
    return lines


class HasProblems(Protocol):
    """A checked file: a customers ``Plan`` or a purchases plan."""

    problems: Sequence[Problem]


def problems_frame(plan: HasProblems) -> pd.DataFrame:
    """The bad rows of a customers or a purchases file as a table: ``line``, ``reason``."""
    return pd.DataFrame([(p.line, p.reason) for p in plan.problems], columns=["line", "reason"])


def counts_frame(report: Report) -> pd.DataFrame:
    """New and merged customers per store: ``store``, ``new``, ``merged``."""
    return pd.DataFrame([(c.store, c.new, c.merged) for c in report.counts],
                        columns=["store", "new", "merged"])


__all__ = ["ALIASES", "InvalidImport", "Plan", "Problem", "Report", "StoreCount", "apply", "check",
           "columns_of", "counts_frame", "dry_run", "header_key", "merge", "preview", "problems_frame",
           "refusal", "report_lines"]
