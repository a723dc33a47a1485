"""Repair of legacy records in the Airtable base: a dry run that counts, ``--apply`` that writes."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from pyairtable import formulas as F

from services.config import redact
from services.interests import (
    RECENT_LIMIT,
    iso,
    merge_history,
    missing_items,
    now_utc,
    parse_interests,
    repaired_history,
)
from services.store.airtable.client import BATCH_SIZE, chunks
from services.store.airtable.errors import WriteNotConfirmed
from services.store.airtable.records import field_value, to_row
from services.store.airtable.schema import Schema
from services.store.airtable.store import AirtableStore
from services.store.airtable.sync import is_current
from services.store.base import StoreError

EMPTY_HISTORY = "empty_history"
MISSING_ITEMS = "missing_items"
OVER_LIMIT = "over_limit"
REASON_LABELS = {
    EMPTY_HISTORY: "interests_all vazio com itens em interests",
    MISSING_ITEMS: "itens de interests faltando em interests_all",
    OVER_LIMIT: f"mais de {RECENT_LIMIT} itens em interests",
}


@dataclass(frozen=True)
class Repair:
    """What one record needs: its new fields and why."""

    record_id: str
    interests: list[str]
    interests_all: list[str]
    reasons: frozenset[str]


def repair_of(record_id: str, recent_raw: object, history_raw: object) -> Repair | None:
    """The repair of one record, or None when it already obeys the recording rule.

    Example: ``repair_of("rec1", "A, B", "").interests_all == ["A", "B"]``
    """
    recent = parse_interests(recent_raw)
    history = parse_interests(history_raw)
    reasons = set()
    if recent and not history:
        reasons.add(EMPTY_HISTORY)
    elif missing_items(recent, history):
        reasons.add(MISSING_ITEMS)
    if len(recent) > RECENT_LIMIT:
        reasons.add(OVER_LIMIT)
    if not reasons:
        return None
    return Repair(record_id, recent[-RECENT_LIMIT:], repaired_history(recent, history), frozenset(reasons))


@dataclass
class BackfillReport:
    """Counts of a backfill: what it found and, with ``apply``, what it wrote."""

    scanned: int = 0
    to_change: int = 0
    reasons: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASON_LABELS, 0))
    applied: int = 0
    not_confirmed: list[str] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0
    dry_run: bool = True

    def summary(self) -> str:
        """The report in Portuguese, one line per count."""
        head = "Backfill (simulação, nada foi gravado)" if self.dry_run else "Backfill aplicado"
        lines = [f"{head}: {self.scanned} registros lidos, {self.to_change} a corrigir."]
        lines += [f"  {count} com {REASON_LABELS[reason]}" for reason, count in self.reasons.items()]
        if self.dry_run:
            if self.to_change:
                lines.append("Use --apply para gravar as correções (em lotes de 10).")
        else:
            lines.append(f"{self.applied} registros gravados e conferidos.")
            if self.not_confirmed:
                lines.append(f"{len(self.not_confirmed)} não confirmados (tente de novo): "
                             + ", ".join(self.not_confirmed[:10]))
        lines.append(f"{self.requests} requisições em {self.seconds:.1f} s.")
        return "\n".join(lines)


def backfill(
    store: AirtableStore,
    *,
    apply: bool = False,
    progress: Callable[[int], None] | None = None,
    attempts: int = 4,
) -> BackfillReport:
    """Find (and with ``apply`` repair) records that break the recording rule.

    A dry run reads every record (only the two interest fields) and counts. With
    ``apply``, each batch of 10 is read fresh right before it is written, written
    in the fields' own representation, read back, and merged again when a
    concurrent writer dropped an item (as every other write, SPEC §3).

    Args:
        store: the Airtable-backed store (its mirror rows are updated too when current).
        apply: write the repairs; without it nothing is written.
        progress: called with the number of records read so far.
        attempts: write + read-back rounds per batch.

    Returns:
        A ``BackfillReport``.
    """
    clock, requests_before = time.monotonic(), store.client.request_count
    schema = store.schema(refresh=True)
    report = BackfillReport(dry_run=not apply)
    names = [schema.name("interests"), schema.name("interests_all")]
    seen = 0

    def page(records: list[dict[str, Any]]) -> None:
        nonlocal seen
        seen += len(records)
        if progress is not None:
            progress(seen)

    records = store.client.walk(schema.customers, fields=names, on_page=page)
    repairs = []
    for record in records:
        values = record.get("fields") or {}
        repair = repair_of(str(record["id"]), values.get(names[0]), values.get(names[1]))
        if repair is not None:
            repairs.append(repair)
            for reason in repair.reasons:
                report.reasons[reason] += 1
    report.scanned, report.to_change = len(records), len(repairs)
    if apply:
        mirror = is_current(store)
        for batch in chunks([r.record_id for r in repairs], BATCH_SIZE):
            written, lost = _apply_batch(store, schema, batch, attempts, mirror)
            report.applied += written
            report.not_confirmed += lost
    report.requests = store.client.request_count - requests_before
    report.seconds = time.monotonic() - clock
    return report


def _by_ids(ids: Sequence[str]) -> F.Formula:
    return F.OR(*(F.EQ(F.RECORD_ID(), rid) for rid in ids))


def _apply_batch(store: AirtableStore, schema: Schema, ids: Sequence[str], attempts: int,
                 mirror: bool) -> tuple[int, list[str]]:
    """Write the repairs of up to 10 records; returns (confirmed, not confirmed ids)."""
    table = store.client.table(schema.customers)
    recent_info, history_info = schema.fields["interests"], schema.fields["interests_all"]
    expected: dict[str, list[str]] = {}
    pending = list(ids)
    confirmed = 0
    for attempt in range(attempts):
        fresh = store.client.walk(schema.customers, fields=schema.read_fields(), formula=_by_ids(pending))
        updates = []
        for record in fresh:
            values = record.get("fields") or {}
            rid = str(record["id"])
            recent = parse_interests(values.get(recent_info.name))
            history = parse_interests(values.get(history_info.name))
            lost = missing_items(expected.get(rid, []), history)
            if repair_of(rid, recent, history) is None and not lost:
                continue
            # The union with what this batch wrote before is safe to repeat (SPEC §3).
            new_history = merge_history(repaired_history(recent, history), expected.get(rid, []))
            expected[rid] = new_history
            updates.append({"id": rid, "fields": {
                recent_info.name: field_value(recent[-RECENT_LIMIT:], recent_info),
                history_info.name: field_value(new_history, history_info),
            }})
        if updates:
            table.batch_update(updates, typecast=True)
        back = store.client.walk(schema.customers, fields=schema.read_fields(), formula=_by_ids(pending))
        if mirror:
            stamp = iso(now_utc())
            tenants = store.tenants_by_id()
            store.mirror.insert_raw([to_row(record, schema, tenants, stamp) for record in back])
        still = []
        for record in back:
            rid = str(record["id"])
            values = record.get("fields") or {}
            saved = parse_interests(values.get(history_info.name))
            lost = missing_items(expected.get(rid, []), saved)
            if lost or repair_of(rid, values.get(recent_info.name), values.get(history_info.name)):
                still.append(rid)
            elif rid in expected:
                confirmed += 1
        pending = still
        if not pending:
            return confirmed, []
        time.sleep(0.05 * (attempt + 1))
    return confirmed, pending


def run_cli(store: AirtableStore, *, apply: bool = False, stream: TextIO = sys.stderr,
            out: TextIO = sys.stdout) -> int:
    """``python -m services backfill [--apply]``: progress on ``stream``, the report on ``out``."""
    def progress(done: int) -> None:
        stream.write(f"\r\033[KLendo registros: {done}")
        stream.flush()

    try:
        report = backfill(store, apply=apply, progress=progress)
    except StoreError as exc:
        stream.write(f"\r\033[KErro: {redact(str(exc), [store.settings.api_key])}\n")
        return 1
    stream.write("\r\033[K")
    out.write(report.summary() + "\n")
    return 0 if not report.not_confirmed else 2


__all__ = ["BackfillReport", "Repair", "WriteNotConfirmed", "backfill", "repair_of", "run_cli"]
