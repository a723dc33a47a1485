"""Purchases from the till (SPEC §11, §12): a CSV or XLSX of phone, date, product and value, every row
checked first, then written all or nothing as ``compra`` events (source ``importacao``).

The sheet is read as the customer import reads it (``services.sheets``: CSV or XLSX, Excel's
Portuguese CSV, dates as dd/mm/aaaa or ISO 8601) and its headers matched the same way
(``importer.header_key``). A phone must be a customer of that store: a purchase is part of a
customer's timeline, never a new customer. A row already in the timeline (the same customer,
moment, product and value: a file imported twice) is skipped and counted, not written again.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Collection, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import pandas as pd

from services.importer import InvalidImport, Problem, header_key, match_columns
from services.interests import InvalidPhone, InvalidTime, normalize_phone, phone_key, product_key, split_raw
from services.sheets import Sheet, read_sheet, text_of, time_of
from services.store.base import CustomerRepository
from services.store.events import stored_time
from services.timeline import COMPRA, IMPORTACAO, Event

ALIASES: dict[str, tuple[str, ...]] = {
    "phone": ("phone", "telefone", "celular", "whatsapp", "fone"),
    "at": ("date", "data", "data_compra", "data_da_compra", "dia", "quando", "at"),
    "product": ("product", "produto", "item", "descricao", "modelo"),
    "value": ("value", "valor", "valor_brl", "value_brl", "total", "preco", "price"),
    "store": ("store", "loja", "tenant", "tenant_id"),
}
REQUIRED: tuple[str, ...] = ("phone", "at", "product", "value")
LABELS = {"phone": "telefone", "at": "data", "product": "produto", "value": "valor", "store": "loja"}
_FIELD_OF = {header_key(alias): field for field, aliases in ALIASES.items() for alias in aliases}
# 1.234.567 (thousands with dots) or 1,234,567 (with commas): no decimals.
_THOUSANDS = re.compile(r"^\d{1,3}(?:([.,])\d{3})(?:\1\d{3})*$")


@dataclass(frozen=True)
class PurchasePlan:
    """What a till file would add to the timeline.

    Attributes:
        source: the file's name.
        events: one ``compra`` per good row, in file order.
        lines: the line of each event.
        problems: every bad row; while there is one, nothing is written.
        repeated: lines already in the timeline (skipped).
        columns: field -> the header read for it.
        ignored: headers that are none of the fields.
    """

    source: str
    events: tuple[Event, ...]
    lines: tuple[int, ...]
    problems: tuple[Problem, ...]
    repeated: tuple[int, ...]
    columns: dict[str, str]
    ignored: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when the file can be written: at least one new purchase, and no bad row."""
        return bool(self.events) and not self.problems

    @property
    def revenue(self) -> float:
        """The sum of the purchases to write, in R$."""
        return round(sum(e.value_brl or 0.0 for e in self.events), 2)


def parse_value(cell: object) -> float:
    """An amount of R$ as a till or a person writes it.

    ``58900``, ``58900.5``, ``58.900,00``, ``R$ 58.900,00``, ``1,234.50``, an XLSX number: a
    comma followed by one or two digits is the decimal comma; dots or commas between groups
    of three digits separate thousands.

    Raises:
        ValueError: not an amount, or not above zero (a Portuguese message).
    """
    if isinstance(cell, bool):
        raise ValueError(f"valor inválido: {cell!r}")
    if isinstance(cell, int | float):
        value = float(cell)
    else:
        text = re.sub(r"(?i)^r\$|\s", "", text_of(cell))
        if not text:
            raise ValueError("sem valor")
        if _THOUSANDS.match(text):
            text = text.replace(".", "").replace(",", "")
        elif "," in text and "." in text:
            decimal = "," if text.rfind(",") > text.rfind(".") else "."
            text = text.replace("." if decimal == "," else ",", "").replace(decimal, ".")
        else:
            text = text.replace(",", ".")
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"valor inválido: {text_of(cell)!r} (ex.: 58.900,00)") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"valor inválido: {text_of(cell)!r} (deve ser maior que zero)")
    return round(value, 2)


def purchase_time(cell: object) -> datetime | None:
    """The moment of a purchase; a date without a time of day is noon of that day (UTC).

    Noon, as the card's "Registrar compra" dates an earlier day: a purchase made on the day a
    campaign went out (dated that day's start) counts after it.

    Raises:
        InvalidTime: unreadable, or outside 1900–2200.
    """
    moment = time_of(cell)
    if moment is None:
        return None
    date_only = (isinstance(cell, date) and not isinstance(cell, datetime)) or (
        ":" not in text_of(cell) and "T" not in text_of(cell).upper())
    if date_only or (isinstance(cell, datetime) and cell.time() == time(0)):
        return datetime.combine(moment.date(), time(12), tzinfo=UTC)
    return moment


def columns_of(header: Sequence[str]) -> tuple[dict[str, int], tuple[str, ...]]:
    """The column of each field, and the headers ignored.

    Raises:
        InvalidImport: a required column missing, or two columns for one field.
    """
    found, ignored = match_columns(header, _FIELD_OF, LABELS)
    missing = [LABELS[field] for field in REQUIRED if field not in found]
    if missing:
        read = ", ".join(repr(h) for h in header if h)
        raise InvalidImport("a planilha de compras precisa das colunas telefone, data, produto e valor;"
                            f" falta {', '.join(missing)}; cabeçalho lido: {read}")
    return found, ignored


def check(sheet: Sheet, repository: CustomerRepository, allowed: Collection[str], now: datetime,
          default_store: str | None = None) -> PurchasePlan:
    """Read every row of a till file and list every problem; write nothing.

    Args:
        sheet: the file's table.
        repository: where the customers are (each phone must be one of its store).
        allowed: the stores the user may see; a row of another store is a problem.
        now: the reference time: a purchase after it is refused.
        default_store: the store of rows without one (or of a file without the column).

    Returns:
        The plan: one ``compra`` per good row, and each bad row with its line and reasons
        (phone not a customer of that store, bad or future date, bad value, no product).

    Raises:
        InvalidImport: a required column missing, or an unknown ``default_store``.
    """
    columns, ignored = columns_of(sheet.header)
    stores = [s for s in repository.stores() if s in set(allowed)]
    by_key = {product_key(name): name for name in stores}
    fallback = None
    if default_store:
        fallback = by_key.get(product_key(default_store))
        if fallback is None:
            raise InvalidImport(f"--store {default_store!r} não é uma loja da base que você pode ver"
                                f" ({', '.join(stores) or 'nenhuma'})")
    found: dict[tuple[str, str], str | None] = {}
    events: list[Event] = []
    lines: list[int] = []
    problems: list[Problem] = []
    for line, cells in sheet.rows:
        values = {field: cells[index] if index < len(cells) else None for field, index in columns.items()}
        if not any(text_of(value) for value in values.values()):
            continue
        reasons: list[str] = []
        written = text_of(values.get("store"))
        store = by_key.get(product_key(written)) if written else fallback
        if store is None:
            reasons.append(f"loja desconhecida: {written!r}" if written
                           else "sem loja (preencha a coluna da loja ou use --store)")
        raw_phone = text_of(values.get("phone"))
        customer_id = None
        e164 = normalize_phone(raw_phone) if raw_phone else None
        if e164 is None:
            reasons.append(f"telefone inválido: {raw_phone!r}" if raw_phone else "sem telefone")
        elif store is not None:
            key = (store, phone_key(e164) or e164)
            if key not in found:
                try:
                    customer = repository.find(store, e164)
                except InvalidPhone:
                    customer = None
                found[key] = customer.id if customer else None
            customer_id = found[key]
            if customer_id is None:
                reasons.append(f"telefone {e164} não é cliente da loja {store}")
        at = None
        try:
            at = purchase_time(values.get("at"))
            if at is None:
                reasons.append("sem data")
            elif at > now:
                reasons.append(f"data no futuro: {text_of(values.get('at'))!r}")
        except InvalidTime as error:
            reasons.append(f"data inválida: {error}")
        products = split_raw([text_of(values.get("product"))])
        if not products:
            reasons.append("sem produto")
        value = None
        try:
            value = parse_value(values.get("value"))
        except ValueError as error:
            reasons.append(str(error))
        if reasons:
            problems.append(Problem(line, "; ".join(reasons)))
            continue
        events.append(Event(str(customer_id), str(store), at, IMPORTACAO, COMPRA, products[:1], value))  # type: ignore[arg-type]
        lines.append(line)
    fresh, fresh_lines, repeated = _new_only(repository, events, lines)
    return PurchasePlan(sheet.name, fresh, fresh_lines, tuple(problems), repeated,
                        {field: sheet.header[index] for field, index in columns.items()}, ignored)


def _new_only(repository: CustomerRepository, events: list[Event], lines: list[int]
              ) -> tuple[tuple[Event, ...], tuple[int, ...], tuple[int, ...]]:
    """The events not yet in the timeline, their lines, and the lines of those already there."""
    held: set[tuple[str, str, tuple[str, ...], float | None]] = set()
    for customer_id in {event.customer_id for event in events}:
        held.update((customer_id, stored_time(e.at), e.products, e.value_brl)
                    for e in repository.events.for_customer(customer_id) if e.kind == COMPRA)
    fresh, fresh_lines, repeated = [], [], []
    for event, line in zip(events, lines, strict=True):
        if (event.customer_id, stored_time(event.at), event.products, event.value_brl) in held:
            repeated.append(line)
        else:
            fresh.append(event)
            fresh_lines.append(line)
    return tuple(fresh), tuple(fresh_lines), tuple(repeated)


def apply(repository: CustomerRepository, plan: PurchasePlan) -> int:
    """Write the plan's purchases in one transaction: every one, or none. Returns how many.

    Raises:
        InvalidImport: the plan has bad rows, or nothing new to write.
    """
    if not plan.ok:
        raise InvalidImport(f"{plan.source}: {len(plan.problems)} linha(s) com problema ou nenhuma compra"
                            " nova: nada foi importado")
    with closing(sqlite3.connect(repository.path, timeout=30)) as db, db:
        db.execute("BEGIN IMMEDIATE")
        return repository.events.append(plan.events, db=db)


def preview(repository: CustomerRepository, allowed: Collection[str], name: str, data: bytes, now: datetime,
            default_store: str | None = None) -> PurchasePlan:
    """The check of an uploaded till file (nothing written).

    Raises:
        ValueError: the file is no table (``UnreadableSheet``) or lacks a column (``InvalidImport``).
    """
    return check(read_sheet(name, data), repository, allowed, now, default_store)


def report_lines(plan: PurchasePlan, applied: bool = False, database: str = "") -> list[str]:
    """The plan as the command line prints it: the bad rows, or what is (or was) written."""
    total = len(plan.events) + len(plan.problems) + len(plan.repeated)
    lines = [f"{plan.source}: {total} linha(s) de compra, {len(plan.problems)} com problema"]
    if plan.ignored:
        lines.append("colunas ignoradas: " + ", ".join(plan.ignored))
    lines += [f"linha {problem.line}: {problem.reason}" for problem in plan.problems]
    if plan.problems:
        return lines
    if plan.repeated:
        lines.append(f"{len(plan.repeated)} compra(s) já na linha do tempo (linhas "
                     f"{', '.join(map(str, plan.repeated[:10]))}{'…' if len(plan.repeated) > 10 else ''}):"
                     " ignorada(s)")
    amount = f"{plan.revenue:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
    if applied:
        lines.append(f"Importado em {database or 'a base'}: {len(plan.events)} compra(s), R$ {amount}.")
    else:
        lines.append(f"Simulação: {len(plan.events)} compra(s) nova(s), R$ {amount}; nada foi gravado."
                     " Rode de novo com --apply para importar.")
    return lines


def events_frame(plan: PurchasePlan) -> pd.DataFrame:
    """The purchases to write: ``line``, ``store``, ``at``, ``product``, ``value_brl``."""
    return pd.DataFrame([(line, e.store, e.at, e.products[0], e.value_brl)
                         for line, e in zip(plan.lines, plan.events, strict=True)],
                        columns=["line", "store", "at", "product", "value_brl"])


__all__ = ["ALIASES", "PurchasePlan", "apply", "check", "columns_of", "events_frame", "parse_value",
           "preview", "purchase_time", "report_lines"]
