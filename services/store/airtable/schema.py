"""What Vitrine needs to know of the base: its tables and fields, detected through the metadata API."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from services.config import AirtableSettings
from services.store.airtable.errors import NotFound, UnsupportedField, missing_field

if TYPE_CHECKING:
    from services.store.airtable.client import Client

# Logical field -> accepted Airtable types. The names are those of the user's base (SPEC §2).
LIST_TYPES = frozenset({"multipleSelects"})
TEXT_TYPES = frozenset({"multilineText", "singleLineText", "richText"})
REQUIRED = ("phone", "tenant_id", "interests", "interests_all", "last_interaction")
OPTIONAL = ("name", "created_at", "opt_out")
# Types Airtable computes itself: read, never written.
COMPUTED = frozenset({
    "autoNumber", "button", "count", "createdBy", "createdTime", "formula", "lastModifiedBy",
    "lastModifiedTime", "multipleLookupValues", "rollup",
})


@dataclass(frozen=True)
class FieldInfo:
    """A field of the base: its real name and Airtable type."""

    name: str
    type: str

    @property
    def is_list(self) -> bool:
        return self.type in LIST_TYPES

    @property
    def writable(self) -> bool:
        return self.type not in COMPUTED


@dataclass(frozen=True)
class Schema:
    """What Vitrine needs to know of the base, detected through the metadata API.

    Attributes:
        customers: id of the Customers table.
        customers_name: its name (for messages).
        fields: logical name (``phone``, ``interests``…) -> the base's field.
        tenants: id of the table ``tenant_id`` links to (None when it is text).
        tenants_primary: name of that table's primary field.
        products: id of the Products table, when the base has one.
        products_fields: ``title`` / ``brand`` / ``category`` / ``price`` / ``url`` -> field names present.
    """

    customers: str
    customers_name: str
    fields: dict[str, FieldInfo]
    tenants: str | None = None
    tenants_primary: str | None = None
    products: str | None = None
    products_fields: dict[str, str] = field(default_factory=dict)

    @property
    def tenant_is_link(self) -> bool:
        return self.tenants is not None

    def has(self, logical: str) -> bool:
        return logical in self.fields

    def name(self, logical: str) -> str:
        return self.fields[logical].name

    def read_fields(self) -> list[str]:
        """The field names a sync asks for (only those Vitrine uses)."""
        return [info.name for info in self.fields.values()]

    def to_json(self) -> str:
        return json.dumps({
            "customers": self.customers, "customers_name": self.customers_name,
            "fields": {k: [v.name, v.type] for k, v in self.fields.items()},
            "tenants": self.tenants, "tenants_primary": self.tenants_primary,
            "products": self.products, "products_fields": self.products_fields,
        })

    @classmethod
    def from_json(cls, text: str) -> Schema:
        data = json.loads(text)
        return cls(
            customers=data["customers"], customers_name=data["customers_name"],
            fields={k: FieldInfo(*v) for k, v in data["fields"].items()},
            tenants=data.get("tenants"), tenants_primary=data.get("tenants_primary"),
            products=data.get("products"), products_fields=dict(data.get("products_fields") or {}),
        )


def _by_name(fields: Sequence[Mapping[str, Any]], wanted: str) -> Mapping[str, Any] | None:
    exact = next((f for f in fields if f.get("name") == wanted), None)
    if exact is not None:
        return exact
    folded = wanted.casefold()
    return next((f for f in fields if str(f.get("name", "")).casefold() == folded), None)


def parse_schema(tables: Sequence[Mapping[str, Any]], settings: AirtableSettings) -> Schema:
    """The ``Schema`` of a metadata API answer.

    Raises:
        NotFound: the Customers table is not in the base.
        MissingField: a required field is missing (named, with how to add it).
        UnsupportedField: an interest field is neither multiple select nor text.
    """
    by_name = {t.get("name"): t for t in tables}
    by_id = {t.get("id"): t for t in tables}
    wanted = settings.customers_table
    customers = by_name.get(wanted) or by_id.get(wanted)
    if customers is None:
        names = ", ".join(str(n) for n in by_name) or "nenhuma"
        raise NotFound(
            f"A tabela “{wanted}” não existe na base {settings.base_id} (tabelas: {names})."
            " Confira customers_table na configuração."
        )
    table_name = str(customers["name"])
    columns = list(customers.get("fields", []))
    found: dict[str, FieldInfo] = {}
    for logical in (*REQUIRED, *OPTIONAL):
        column = _by_name(columns, logical)
        if column is None:
            if logical in REQUIRED:
                raise missing_field(logical, table_name)
            continue
        found[logical] = FieldInfo(str(column["name"]), str(column.get("type", "")))
    for logical in ("interests", "interests_all"):
        info = found[logical]
        if info.type not in LIST_TYPES | TEXT_TYPES:
            raise UnsupportedField(
                f"O campo “{info.name}” da tabela “{table_name}” é do tipo {info.type}; o Vitrine"
                " lê e grava Seleção múltipla (Multiple select) ou Texto longo (Long text)."
                " Altere o tipo do campo no Airtable."
            )
    tenants = tenants_primary = None
    tenant_column = _by_name(columns, "tenant_id") or {}
    if found["tenant_id"].type == "multipleRecordLinks":
        tenants = str((tenant_column.get("options") or {}).get("linkedTableId") or "")
        linked = by_id.get(tenants) or by_name.get(settings.tenants_table)
        if linked is None:
            raise NotFound(f"A tabela ligada a “tenant_id” (lojas) não foi encontrada na base"
                           f" {settings.base_id}.")
        tenants = str(linked["id"])
        primary_id = linked.get("primaryFieldId")
        primary = next((f for f in linked.get("fields", []) if f.get("id") == primary_id),
                       (linked.get("fields") or [{"name": "name"}])[0])
        tenants_primary = str(primary["name"])
    products = by_name.get(settings.products_table) or by_id.get(settings.products_table)
    products_fields: dict[str, str] = {}
    if products is not None:
        for logical, options in (("title", ("title", "name")), ("brand", ("brand",)),
                                 ("category", ("category",)), ("price", ("price_brl", "price")),
                                 ("url", ("url", "link", "pagina"))):
            for option in options:
                column = _by_name(list(products.get("fields", [])), option)
                if column is not None:
                    products_fields[logical] = str(column["name"])
                    break
        if "title" not in products_fields:
            products = None
            products_fields = {}
    return Schema(
        customers=str(customers["id"]), customers_name=table_name, fields=found,
        tenants=tenants, tenants_primary=tenants_primary,
        products=str(products["id"]) if products is not None else None,
        products_fields=products_fields,
    )


def detect_schema(client: Client) -> Schema:
    """The base's schema, read through the metadata API (one request)."""
    return parse_schema(client.tables_json(), client.settings)
