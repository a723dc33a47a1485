"""Airtable records and what Vitrine makes of them: mirror rows, customers, products, field values."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pyairtable import formulas as F

from services.catalog import JEWELRY, UNKNOWN, WATCH, resolve_title
from services.interests import (
    Customer,
    iso,
    normalize_phone,
    parse_interests,
    parse_time,
    product_key,
    to_long_text,
)
from services.store.airtable.schema import FieldInfo, Schema

NO_STORE = "Sem loja"


def tenant_names(records: Sequence[Mapping[str, Any]], primary: str) -> dict[str, str]:
    """Tenant record id -> store name (the primary field), blanks dropped."""
    names = {}
    for record in records:
        value = (record.get("fields") or {}).get(primary)
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        if value is not None and str(value).strip():
            names[str(record["id"])] = " ".join(str(value).split())
    return names


def store_of(value: object, schema: Schema, tenants: Mapping[str, str]) -> str:
    """The store name of a ``tenant_id`` value: a link (record ids) or plain text."""
    if isinstance(value, list):
        for item in value:
            if isinstance(item, str) and item.strip():
                name = tenants.get(item) if schema.tenant_is_link else item
                if name:
                    return " ".join(name.split())
        return NO_STORE
    if isinstance(value, str) and value.strip():
        if schema.tenant_is_link and value in tenants:
            return tenants[value]
        return " ".join(value.split())
    return NO_STORE


def to_row(record: Mapping[str, Any], schema: Schema, tenants: Mapping[str, str],
           modified_at: str | None = None) -> dict[str, object]:
    """A mirror row of one Customers record: raw values kept (lists stay lists, text stays text)."""
    values = record.get("fields") or {}

    def raw(logical: str) -> object:
        return values.get(schema.name(logical)) if schema.has(logical) else None

    created = raw("created_at") if schema.has("created_at") else record.get("createdTime")
    return {
        "id": str(record["id"]),
        "store": store_of(raw("tenant_id"), schema, tenants),
        "phone": raw("phone"),
        "name": raw("name"),
        "interests": raw("interests"),
        "interests_all": raw("interests_all"),
        "created_at": created,
        "last_interaction": raw("last_interaction"),
        "opt_out": bool(raw("opt_out")) if raw("opt_out") is not None else False,
        "modified_at": modified_at,
    }


def _category(value: object, title: str) -> str:
    key = product_key(str(value or ""))
    if key in ("watch", "watches", "relogio", "relogios"):
        return WATCH
    if key in ("jewelry", "jewellery", "joia", "joias", "joalheria"):
        return JEWELRY
    found = resolve_title(title).category
    return found if found in (WATCH, JEWELRY) else UNKNOWN


def product_rows(records: Sequence[Mapping[str, Any]], schema: Schema
                 ) -> list[tuple[str, str, str | None, str, int | None, str | None]]:
    """Catalog rows ``(key, title, brand, category, price_brl, url)`` of the Products table.

    ``url`` is the product's page (the optional ``url`` field), or None.
    """
    names = schema.products_fields
    rows: dict[str, tuple[str, str, str | None, str, int | None, str | None]] = {}
    for record in records:
        values = record.get("fields") or {}
        title = values.get(names.get("title", ""))
        if not isinstance(title, str) or not title.strip():
            continue
        title = " ".join(title.split())
        key = product_key(title)
        brand = values.get(names.get("brand", ""))
        if isinstance(brand, list):
            brand = brand[0] if brand else None
        brand = " ".join(str(brand).split()) if brand else resolve_title(title).brand
        price = values.get(names.get("price", ""))
        price_brl = int(price) if isinstance(price, int | float) and not isinstance(price, bool) else None
        url = values.get(names.get("url", ""))
        url = url.strip() if isinstance(url, str) and url.strip() else None
        rows.setdefault(key, (key, title, brand or None, _category(values.get(names.get("category", "")),
                                                                      title), price_brl, url))
    return list(rows.values())


def customer_of(record: Mapping[str, Any], schema: Schema, store: str) -> Customer:
    """The parsed customer of one record (as the recording rule sees it)."""
    values = record.get("fields") or {}

    def raw(logical: str) -> object:
        return values.get(schema.name(logical)) if schema.has(logical) else None

    phone = raw("phone")
    name = raw("name")
    return Customer(
        id=str(record["id"]),
        store=store,
        phone=(normalize_phone(phone) or phone) if isinstance(phone, str) else "",
        name=" ".join(name.split()) if isinstance(name, str) else "",
        interests=parse_interests(raw("interests")),
        interests_all=parse_interests(raw("interests_all")),
        created_at=parse_time(raw("created_at") if schema.has("created_at") else record.get("createdTime")),
        last_interaction=parse_time(raw("last_interaction")),
        opt_out=bool(raw("opt_out")),
    )


def field_value(items: Sequence[str], info: FieldInfo) -> object:
    """Items in the field's own representation: a list (multiple select) or long text (SPEC §2)."""
    return list(items) if info.is_list else to_long_text(items)


def time_value(moment: datetime | None, info: FieldInfo) -> str | None:
    """A moment in the field's own representation: a date, or date and time (ISO 8601)."""
    if moment is None:
        return None
    return moment.date().isoformat() if info.type == "date" else iso(moment)


def phone_formula(e164: str, schema: Schema) -> F.Formula:
    """Records whose phone holds the last 8 digits of ``e164`` in any format (few candidates)."""
    digits = re.sub(r"\D", "", e164)[-8:]
    pattern = "[^0-9]*".join(digits)
    return F.REGEX_MATCH(F.Field(schema.name("phone")), pattern)
