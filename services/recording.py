"""Recording an interest (SPEC §3) for the dashboard and the command line: the one write path."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from datetime import datetime

from services.access import require_stores
from services.catalog import canonical
from services.interests import Customer, InvalidBatch, require_time, split_raw
from services.store.base import CustomerRepository
from services.timeline import COMPRA, LOJA, VISITA, WHATSAPP, Event


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
    source: str = WHATSAPP,
) -> Customer:
    """Record an interest through the recording rule (SPEC §3): the dashboard's and the CLI's.

    Args:
        repository: where customers live.
        allowed: the stores the user may see; a store outside them is refused.
        store: the customer's store.
        phone: the customer's phone, any format (a new phone creates the customer).
        products: the products, in order, or the text typed (split on commas and lines); a
            product whose key is in the catalog is recorded in the catalog's spelling.
        at: the time of the event.
        name: the customer's name, when the salesperson fills it in.
        source: where it was asked: ``whatsapp`` (the assistant), ``loja`` (the customer's card,
            which is a visit too) or ``importacao``.

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
    require_time(at)
    batch = parse_batch(products) if isinstance(products, str) else [p for p in products if p]
    if not split_raw(list(batch)):
        raise InvalidBatch("Informe pelo menos um produto.")
    # A product the catalog knows is recorded in the catalog's spelling ("daytona" → "Daytona");
    # one it does not know is recorded as sent (the assistant's products are never refused).
    titles = repository.catalog_titles()
    return repository.record(store, phone, [canonical(p, titles) for p in batch], at, name=name,
                             source=source)

def record_visit(
    repository: CustomerRepository, allowed: Collection[str], store: str, phone: str, at: datetime,
    source: str = LOJA,
) -> Event:
    """Mark a visit of an existing customer in the timeline (SPEC §11).

    Raises:
        UnknownStore, AccessDenied: as ``record_interest``.
        CustomerNotFound: no customer with that phone in that store.
    """
    require_stores([store], allowed, known=repository.stores())
    require_time(at)
    return repository.record_event(store, phone, VISITA, at, source=source)


def record_purchase(
    repository: CustomerRepository, allowed: Collection[str], store: str, phone: str, product: str,
    value_brl: float, at: datetime, source: str = LOJA,
) -> Event:
    """Mark a purchase (product, value in R$) of an existing customer in the timeline (SPEC §11).

    Raises:
        UnknownStore, AccessDenied: as ``record_interest``.
        InvalidBatch: no product; InvalidPurchase: a value that is not a positive amount.
        CustomerNotFound: no customer with that phone in that store.
    """
    require_stores([store], allowed, known=repository.stores())
    require_time(at)
    products = split_raw([product])
    if not products:
        raise InvalidBatch("Informe o produto comprado.")
    if not isinstance(value_brl, int | float) or not math.isfinite(value_brl) or value_brl <= 0:
        raise InvalidPurchase("O valor da compra deve ser um valor em R$ maior que zero.")
    return repository.record_event(store, phone, COMPRA, at, source=source, products=products[:1],
                                   value_brl=round(float(value_brl), 2))


class InvalidPurchase(ValueError):
    """A purchase value that is not a positive amount of R$."""



def unite_records(
    repository: CustomerRepository,
    allowed: Collection[str],
    store: str,
    ids: Sequence[str],
    at: datetime,
) -> Customer:
    """Unite the records of one customer of ``store`` (one phone, with and without the ninth digit).

    The record with the ninth digit stays with every interest of them all, by the recording
    rule (the older record's history first); the others are deleted once it is saved.

    Args:
        repository: where customers live.
        allowed: the stores the user may see; a store outside them is refused.
        store: the customer's store.
        ids: the records to unite (two or more).
        at: the time of the change.

    Returns:
        The customer as kept.

    Raises:
        AccessDenied: ``store`` is not one of ``allowed``.
        StoreError: the records are not one phone of ``store``, or the write failed (then
            nothing was deleted).
    """
    require_stores([store], allowed, known=repository.stores())
    return repository.merge(store, ids, at)
