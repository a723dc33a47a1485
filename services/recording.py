"""Recording an interest (SPEC §3) for the dashboard and the command line: the one write path."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from services.access import require_stores
from services.interests import Customer, InvalidBatch, split_raw
from services.store.base import CustomerRepository


def parse_batch(text: str) -> list[str]:
    """The products a salesperson typed: one per line when there are lines, else one per comma.

    Example: ``parse_batch("Datejust 36, aço\\nDaytona") == ["Datejust 36, aço", "Daytona"]``
    """
    return split_raw(text)


def record_interest(
    repository: CustomerRepository,
    allowed: Collection[str],
    store: str,
    phone: str,
    products: Sequence[str] | str,
    at: datetime,
    name: str | None = None,
) -> Customer:
    """Record an interest through the recording rule (SPEC §3): the dashboard's and the CLI's.

    Args:
        repository: where customers live.
        allowed: the stores the user may see; a store outside them is refused.
        store: the customer's store.
        phone: the customer's phone, any format (a new phone creates the customer).
        products: the products, in order, or the text typed (split on commas and lines).
        at: the time of the event.
        name: the customer's name, when the salesperson fills it in.

    Returns:
        The customer as saved.

    Raises:
        UnknownStore: ``store`` is not a store of the repository.
        AccessDenied: ``store`` is not one of ``allowed``.
        InvalidBatch: no product after cleaning.
        InvalidPhone: the phone cannot be read.
        StoreError: the write failed (nothing was saved).
    """
    require_stores([store], allowed, known=repository.stores())
    batch = parse_batch(products) if isinstance(products, str) else [p for p in products if p]
    if not split_raw(list(batch)):
        raise InvalidBatch("Informe pelo menos um produto.")
    return repository.record(store, phone, batch, at, name=name)
