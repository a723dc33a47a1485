"""One customer held by several records of a store (the same phone with and without the ninth digit)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from services.interests import (
    Customer,
    dedupe,
    merge_history,
    normalize_phone,
    phone_key,
    record_batch,
    repaired_history,
    split_raw,
)
from services.store.base import CustomerNotFound, StoreError


def merge_interests(records: Sequence[tuple[Sequence[str], Sequence[str]]]) -> tuple[list[str], list[str]]:
    """The two fields of one customer kept in several records, read as one (SPEC §2, §3).

    The records come oldest first; each later record's history is added to the earlier
    ones' and its ``interests`` recorded onto theirs as a batch, by the recording rule:
    nothing is lost, and the newer record's recent products stay the most recent.

    Args:
        records: ``(interests, history)`` of each record, the oldest first.

    Returns:
        ``(interests, interests_all)``. Example: records ``(["A", "B"], ["A", "B"])`` then
        ``(["C"], ["C"])`` give ``(["A", "B", "C"], ["A", "B", "C"])``.
    """
    recent: list[str] = []
    history: list[str] = []
    for record_recent, record_history in records:
        history = merge_history(history, repaired_history(record_recent, record_history))
        if dedupe(split_raw(list(record_recent))):
            recent, history = record_batch(recent, history, record_recent)
    return recent, history


_EARLIEST = datetime.min.replace(tzinfo=UTC)


def oldest_first(records: Iterable[Customer]) -> list[Customer]:
    """Records by their last interaction, then first contact; an unknown date is the oldest."""
    return sorted(records, key=lambda c: (c.last_interaction or _EARLIEST, c.created_at or _EARLIEST))


def record_to_keep(records: Sequence[Customer]) -> Customer:
    """Which of one customer's records stays when they are united: the phone with the ninth
    digit (today's form of a Brazilian mobile), then the most recent."""
    newest_first = list(reversed(oldest_first(records)))
    return max(newest_first, key=lambda c: len(c.phone or ""))


def merge_customers(records: Sequence[Customer]) -> Customer:
    """One customer from several records of the same phone (``merge_interests``, oldest first).

    The kept record (``record_to_keep``) gives the id, store and phone; the name is its
    own, or the most recent other one; the first contact is the earliest, the last the
    latest; an opt-out on any record holds for the customer.

    Args:
        records: two or more records of one store sharing a phone key.

    Returns:
        The customer as the united record holds it.
    """
    ordered = oldest_first(records)
    keep = record_to_keep(ordered)
    recent, history = merge_interests([(c.interests, c.history) for c in ordered])
    names = [keep.name, *(c.name for c in reversed(ordered))]
    created = [c.created_at for c in ordered if c.created_at]
    last = [c.last_interaction for c in ordered if c.last_interaction]
    return replace(
        keep,
        name=next((n for n in names if n and n.strip()), ""),
        interests=recent,
        interests_all=history,
        created_at=min(created) if created else None,
        last_interaction=max(last) if last else None,
        opt_out=any(c.opt_out for c in ordered),
    )


def check_one_phone(records: Sequence[Customer], ids: Sequence[str]) -> None:
    """Refuse to unite records that are not all there, or not one phone of one store."""
    found = {record.id for record in records}
    missing = [rid for rid in ids if rid not in found]
    if missing:
        raise CustomerNotFound(f"Cadastro não encontrado: {missing[0]}. Atualize a página e tente de novo.")
    if len(records) < 2:
        raise StoreError("Escolha pelo menos dois cadastros para unir.")
    keys = {phone_key(normalize_phone(record.phone) if record.phone else None) for record in records}
    if len(keys) != 1 or None in keys or len({record.store for record in records}) != 1:
        raise StoreError("Só se unem cadastros do mesmo telefone na mesma loja.")
