"""Raw records and customers: the one converter between the field values a source holds and ``Customer``.

A raw record is a mapping with ``frame.RAW_COLUMNS`` holding field values as a source stores
them (lists or strings, ISO texts). Both backends, the frame patch after a write and the
sync's comparison read and write customers through these two functions.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.interests import Customer, iso, normalize_phone, parse_interests, parse_time, to_long_text


def customer_of(raw: Mapping[str, object]) -> Customer:
    """The customer a raw record holds, fields parsed (unreadable values become empty).

    Example: ``customer_of({"id": "r1", "store": "A", "phone": "11987654321",
    "interests": "X, Y"}).interests == ["X", "Y"]``
    """
    phone = raw.get("phone")
    name = raw.get("name")
    return Customer(
        id=str(raw.get("id") or ""),
        store=str(raw.get("store") or ""),
        phone=(normalize_phone(str(phone)) or str(phone)) if phone else "",
        name=name if isinstance(name, str) else "",
        interests=parse_interests(raw.get("interests")),
        interests_all=parse_interests(raw.get("interests_all")),
        created_at=parse_time(raw.get("created_at")),
        last_interaction=parse_time(raw.get("last_interaction")),
        opt_out=bool(raw.get("opt_out")),
    )


def raw_of(customer: Customer, *, as_text: bool = False) -> dict[str, object]:
    """The raw record of ``customer``: interest fields as lists, or as long text with ``as_text``.

    Example: ``raw_of(customer, as_text=True)["interests"] == "Submariner, Datejust"``
    """
    def field(items: list[str]) -> object:
        return to_long_text(items) if as_text else list(items)

    return {
        "id": customer.id,
        "store": customer.store,
        "phone": customer.phone,
        "name": customer.name,
        "interests": field(customer.interests),
        "interests_all": field(customer.interests_all),
        "created_at": iso(customer.created_at),
        "last_interaction": iso(customer.last_interaction),
        "opt_out": customer.opt_out,
    }
