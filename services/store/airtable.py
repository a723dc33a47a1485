"""The Airtable base as the source of truth: client policy, schema, named faults and safe writes."""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from pyairtable import Api, Table
from pyairtable import formulas as F

from services.catalog import JEWELRY, UNKNOWN, WATCH, resolve_title
from services.config import AirtableSettings
from services.interests import (
    Customer,
    apply_event,
    dedupe,
    iso,
    merge_history,
    missing_items,
    normalize_phone,
    now_utc,
    parse_interests,
    parse_time,
    phone_key,
    product_key,
    require_phone,
    split_raw,
)
from services.interests import InvalidBatch as InvalidBatch
from services.store.base import StoreError, UnknownStore
from services.store.sqlite import SqliteStore

log = logging.getLogger("vitrine.airtable")

PAGE_SIZE = 100
BATCH_SIZE = 10
NO_STORE = "Sem loja"

# Logical field -> accepted Airtable types. The names are those of the user's base (SPEC §2).
LIST_TYPES = frozenset({"multipleSelects"})
TEXT_TYPES = frozenset({"multilineText", "singleLineText", "richText"})
REQUIRED = ("phone", "tenant_id", "interests", "interests_all", "last_interaction")
OPTIONAL = ("name", "created_at", "opt_out")
# 422 types that mean "the base changed since the schema was read".
SCHEMA_ERRORS = frozenset({
    "UNKNOWN_FIELD_NAME", "INVALID_VALUE_FOR_COLUMN", "INVALID_MULTIPLE_CHOICE_OPTIONS",
})
COMPUTED = frozenset({
    "autoNumber", "button", "count", "createdBy", "createdTime", "formula", "lastModifiedBy",
    "lastModifiedTime", "multipleLookupValues", "rollup",
})

# How to add each required field in Airtable's UI, for the missing-field message.
FIELD_HELP = {
    "phone": "tipo Telefone (Phone number)",
    "tenant_id": "tipo Vínculo com outro registro (Link to another record) apontando para Tenants,"
                 " ou Texto de linha única (Single line text) com o nome da loja",
    "interests": "tipo Seleção múltipla (Multiple select) ou Texto longo (Long text)",
    "interests_all": "tipo Seleção múltipla (Multiple select) ou Texto longo (Long text)",
    "last_interaction": "tipo Data (Date) com hora ativada",
}


# --- named faults (messages in Portuguese, never the token) -------------------


class AirtableError(StoreError):
    """A fault talking to Airtable; the message is fit for the screen."""


class AuthError(AirtableError):
    """401: the token was refused."""


class PermissionDenied(AirtableError):
    """403: the token may not reach this base or table."""


class NotFound(AirtableError):
    """404: the base or the table does not exist."""


class RecordGone(AirtableError):
    """404 on one record: it was deleted in Airtable."""


class MissingField(AirtableError):
    """A field Vitrine needs is not in the table."""

    def __init__(self, field_name: str, table: str, message: str) -> None:
        super().__init__(message)
        self.field_name = field_name
        self.table = table


class UnsupportedField(AirtableError):
    """A field exists with a type Vitrine cannot read or write."""


class RateLimited(AirtableError):
    """429 still after every wait of the block."""


class Unreachable(AirtableError):
    """Network down, connection dropped or timed out."""


class ServerError(AirtableError):
    """5xx from Airtable after the retries."""


class RequestRejected(AirtableError):
    """Another 4xx (422 mostly): the request was refused."""

    def __init__(self, message: str, error_type: str = "") -> None:
        super().__init__(message)
        self.error_type = error_type


class OffsetExpired(RequestRejected):
    """422 LIST_RECORDS_ITERATOR_NOT_AVAILABLE: the walk must start again."""


class WriteNotConfirmed(AirtableError):
    """The read-back still missed an interest after every merge: reported as not saved."""


def missing_field(name: str, table: str) -> MissingField:
    """The error for a required field absent from ``table``, with how to add it."""
    how = FIELD_HELP.get(name, "o tipo adequado")
    return MissingField(
        name,
        table,
        f"O campo obrigatório “{name}” não existe na tabela “{table}” do Airtable. Para criá-lo:"
        f" abra a base no Airtable, na tabela {table} clique em “+” depois da última coluna,"
        f" dê o nome exato {name} e escolha {how}. Depois atualize os dados.",
    )


# --- client policy: throttle, timeouts, the 429 block, retries -----------------


@dataclass(frozen=True)
class ClientPolicy:
    """How Vitrine talks to Airtable.

    Attributes:
        rate: requests per ``period`` seconds allowed by Vitrine itself (None: no throttle).
        period: the window of the throttle, counted from each answer (see ``Throttle``).
        timeout: (connect, read) seconds for every request.
        block_seconds: Airtable's block after a 429 (30 s); tests scale it down.
        max_blocks: 429 waits before giving up.
        network_retries: retries of a read or an idempotent write after a dropped connection or a 5xx.
        retry_backoff: seconds before the first such retry (doubles each time).
        write_attempts: write + read-back rounds of one recording before it is reported as not saved.
        settle_seconds: least pause between a write and its read-back (it grows to three
            times our own read-to-write time). A concurrent writer that read the record before
            our write lands its stale copy within its own read-to-write gap; reading back after
            a longer pause sees that overwrite, so it is merged again.
    """

    rate: int | None = 5
    period: float = 1.01
    timeout: tuple[float, float] = (5.0, 30.0)
    block_seconds: float = 30.0
    max_blocks: int = 4
    network_retries: int = 2
    retry_backoff: float = 1.0
    write_attempts: int = 6
    settle_seconds: float = 1.5


class Throttle:
    """At most ``rate`` requests in any ``period`` seconds, shared by the threads of a process.

    A request's place in the window is the moment its answer arrived, not the moment it
    left: Airtable counted it before answering, so a request sent ``period`` after that
    answer reaches Airtable more than ``period`` after it, however late the earlier one
    travelled (a slow network, a paused server). Requests in flight count as now.
    """

    def __init__(self, rate: int | None, period: float) -> None:
        self.rate = rate
        self.period = period
        self._slots: list[list[float | None]] = []  # [answered at] or [None] while in flight
        self._lock = threading.Lock()

    def wait(self) -> list[float | None] | None:
        """Block until one more request fits in the window; returns its slot for ``done``."""
        if not self.rate:
            return None
        while True:
            with self._lock:
                now = time.monotonic()
                self._slots = [s for s in self._slots if s[0] is None or s[0] > now - self.period]
                if len(self._slots) < self.rate:
                    slot: list[float | None] = [None]
                    self._slots.append(slot)
                    return slot
                answered = [s[0] for s in self._slots if s[0] is not None]
                pause = min(answered) + self.period - now if answered else 0.005
            time.sleep(max(pause, 0.001))

    def done(self, slot: list[float | None] | None) -> None:
        """The request of ``slot`` got its answer (or failed): its window starts now."""
        if slot is not None:
            with self._lock:
                slot[0] = time.monotonic()

    def reset(self) -> None:
        """Forget the window (after a 429 block, which restarts Airtable's count too)."""
        with self._lock:
            self._slots = [s for s in self._slots if s[0] is None]


_THROTTLES: dict[tuple[str, str, int | None, float], Throttle] = {}
_THROTTLES_LOCK = threading.Lock()


def throttle_for(settings: AirtableSettings, policy: ClientPolicy) -> Throttle:
    """The throttle of one base in this process (Airtable counts per base)."""
    key = (settings.endpoint_url, settings.base_id, policy.rate, policy.period)
    with _THROTTLES_LOCK:
        if key not in _THROTTLES:
            _THROTTLES[key] = Throttle(policy.rate, policy.period)
        return _THROTTLES[key]


class _PolicyApi(Api):
    """pyairtable's Api with Vitrine's policy on every request (pyairtable's own retry is off)."""

    def __init__(self, settings: AirtableSettings, policy: ClientPolicy, throttle: Throttle) -> None:
        super().__init__(
            settings.api_key,
            timeout=policy.timeout,  # type: ignore[arg-type]
            retry_strategy=None,
            endpoint_url=settings.endpoint_url,
        )
        self.policy = policy
        self.throttle = throttle
        self.base_id = settings.base_id
        self.on_wait: Callable[[str], None] | None = None
        self.request_count = 0
        self._count_lock = threading.Lock()

    def request(self, method: str, url: str, fallback: tuple[str, str] | None = None,
                options: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
                json: dict[str, Any] | None = None) -> Any:
        # A create is the one request that is not safe to repeat after a dropped connection.
        repeatable = method.upper() != "POST" or url.rstrip("/").endswith("listRecords")
        blocks = retries = 0
        while True:
            slot = self.throttle.wait()
            with self._count_lock:
                self.request_count += 1
            try:
                try:
                    return super().request(method, url, fallback=fallback, options=options,
                                           params=params, json=json)
                finally:
                    self.throttle.done(slot)
            except requests.HTTPError as exc:
                status = exc.response.status_code if exc.response is not None else 0
                if status == 429 and blocks < self.policy.max_blocks:
                    blocks += 1
                    self._pause(self.policy.block_seconds * (1 + 0.1 * random.random()),
                                "O Airtable pediu uma pausa (limite de requisições): aguardando"
                                f" {self.policy.block_seconds:.0f} s…")
                    self.throttle.reset()
                    continue
                if status >= 500 and repeatable and retries < self.policy.network_retries:
                    retries += 1
                    self._pause(self.policy.retry_backoff * 2 ** (retries - 1),
                                f"O Airtable respondeu {status}: tentando de novo…")
                    continue
                raise _translate(exc, self.base_id, blocks) from exc
            except (requests.ConnectionError, requests.Timeout) as exc:
                if repeatable and retries < self.policy.network_retries:
                    retries += 1
                    self._pause(self.policy.retry_backoff * 2 ** (retries - 1),
                                "Conexão com o Airtable interrompida: tentando de novo…")
                    continue
                raise _unreachable(exc, self.endpoint_url, self.policy) from exc

    def _pause(self, seconds: float, message: str) -> None:
        log.warning(message)
        if self.on_wait is not None:
            self.on_wait(message)
        time.sleep(seconds)


def _error_body(response: requests.Response | None) -> tuple[str, str]:
    """Airtable's (error type, message) of a response, whatever shape it has."""
    if response is None:
        return "", ""
    try:
        body = response.json()
    except ValueError:
        return "", ""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("type") or ""), str(error.get("message") or "")
    if isinstance(error, str):
        return error, ""
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("error") or ""), str(errors[0].get("message") or "")
    return "", ""


def _table_of(url: str, base_id: str) -> str:
    parts = [unquote(p) for p in urlsplit(url).path.split("/") if p]
    if base_id in parts:
        rest = parts[parts.index(base_id) + 1:]
        if rest and rest[0] != "tables":
            return rest[0]
    return ""


_UNKNOWN_FIELD = re.compile(r'[Uu]nknown field name:?\s*"?([^"]+)"?')


def _translate(exc: requests.HTTPError, base_id: str, blocks: int) -> AirtableError:
    response = exc.response
    status = response.status_code if response is not None else 0
    error_type, message = _error_body(response)
    table = _table_of(response.url if response is not None else "", base_id)
    where = f"a tabela “{table}” da base {base_id}" if table else f"a base {base_id}"
    if status == 401:
        return AuthError(
            "O Airtable recusou o token (401). Confira AIRTABLE_API_KEY: o token pode estar"
            " errado, expirado ou revogado. A cópia local continua com os dados da última sincronização."
        )
    if status == 403:
        return PermissionDenied(
            f"O token não tem permissão para {where} (403). No Airtable, em Builder hub →"
            " Personal access tokens, dê ao token acesso a esta base com os escopos"
            " data.records:read, data.records:write e schema.bases:read (ou confira"
            " AIRTABLE_BASE_ID e o nome da tabela)."
        )
    if status == 404:
        if error_type == "MODEL_ID_NOT_FOUND":
            return RecordGone("O registro não existe mais no Airtable (foi apagado).")
        return NotFound(
            f"Não encontramos {where} no Airtable (404). Confira AIRTABLE_BASE_ID e os nomes"
            " das tabelas (customers_table, tenants_table) na configuração."
        )
    if status == 429:
        return RateLimited(
            f"O Airtable continuou limitando as requisições (429) depois de {blocks} pausas de"
            " 30 s. Outro programa pode estar usando a mesma base; tente de novo em alguns minutos."
        )
    if status == 422 and error_type == "LIST_RECORDS_ITERATOR_NOT_AVAILABLE":
        return OffsetExpired("A listagem do Airtable expirou; recomeçando.", error_type)
    if status == 422 and error_type == "UNKNOWN_FIELD_NAME":
        match = _UNKNOWN_FIELD.search(message)
        return missing_field(match.group(1) if match else "?", table or "Customers")
    if status >= 500:
        return ServerError(
            f"O Airtable está instável (erro {status}); tente de novo em instantes. A cópia local"
            " continua com os dados da última sincronização."
        )
    detail = f" {error_type}" if error_type else ""
    text = f": {message}" if message else ""
    return RequestRejected(f"O Airtable recusou a requisição ({status}{detail}){text}", error_type)


def _unreachable(exc: Exception, endpoint: object, policy: ClientPolicy) -> Unreachable:
    host = urlsplit(str(endpoint)).netloc or str(endpoint)
    if isinstance(exc, requests.Timeout):
        return Unreachable(
            f"O Airtable ({host}) não respondeu a tempo (limite de {policy.timeout[1]:.0f} s)."
            " A cópia local continua com os dados da última sincronização."
        )
    return Unreachable(
        f"Sem conexão com o Airtable ({host}): verifique a rede (ou AIRTABLE_ENDPOINT_URL)."
        " A cópia local continua com os dados da última sincronização."
    )


class Client:
    """One Airtable base behind Vitrine's policy. ``repr`` shows the base, never the token."""

    def __init__(self, settings: AirtableSettings, policy: ClientPolicy | None = None) -> None:
        self.settings = settings
        self.policy = policy or ClientPolicy()
        self.api = _PolicyApi(settings, self.policy, throttle_for(settings, self.policy))

    def __repr__(self) -> str:
        return f"Client(base_id={self.settings.base_id!r}, endpoint_url={self.settings.endpoint_url!r})"

    @property
    def request_count(self) -> int:
        """Requests sent so far by this client (retries included)."""
        return self.api.request_count

    def table(self, name: str) -> Table:
        """A pyairtable ``Table`` of the base, by name or id."""
        return self.api.table(self.settings.base_id, name)

    def tables_json(self) -> list[dict[str, Any]]:
        """The base's tables from the metadata API (one request)."""
        url = self.api.build_url("meta/bases", self.settings.base_id, "tables")
        data = self.api.request("GET", url)
        return list(data.get("tables", [])) if isinstance(data, dict) else []

    def walk(
        self,
        table: str,
        *,
        fields: Sequence[str],
        formula: F.Formula | None = None,
        on_page: Callable[[list[dict[str, Any]]], None] | None = None,
        on_restart: Callable[[], None] | None = None,
        max_restarts: int = 3,
    ) -> list[dict[str, Any]]:
        """Every record of ``table`` (``fields`` only), 100 a page.

        An expired offset (422 ``LIST_RECORDS_ITERATOR_NOT_AVAILABLE``) starts the walk
        again from the first page, at most ``max_restarts`` times.
        """
        options: dict[str, Any] = {"page_size": PAGE_SIZE, "fields": list(fields)}
        if formula is not None:
            options["formula"] = formula
        for attempt in range(max_restarts + 1):
            records: list[dict[str, Any]] = []
            try:
                for page in self.table(table).iterate(**options):
                    records.extend(page)
                    if on_page is not None:
                        on_page(page)
                return records
            except OffsetExpired:
                if attempt == max_restarts:
                    raise
                log.warning("Airtable offset expired: restarting the walk of %s", table)
                if on_restart is not None:
                    on_restart()
        raise AssertionError("unreachable")


# --- schema -------------------------------------------------------------------


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
        products_fields: ``title`` / ``brand`` / ``category`` / ``price`` -> field names present.
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
                                 ("category", ("category",)), ("price", ("price_brl", "price"))):
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


# --- records <-> mirror rows ----------------------------------------------------


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
                 ) -> list[tuple[str, str, str | None, str, int | None]]:
    """Catalog rows ``(key, title, brand, category, price_brl)`` of the Products table."""
    names = schema.products_fields
    rows: dict[str, tuple[str, str, str | None, str, int | None]] = {}
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
        rows.setdefault(key, (key, title, brand or None, _category(values.get(names.get("category", "")),
                                                                      title), price_brl))
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
    """Items in the field's own representation: a list (multiple select) or ", "-joined text."""
    return list(items) if info.is_list else ", ".join(items)


def _time_value(moment: datetime | None, info: FieldInfo) -> str | None:
    if moment is None:
        return None
    return moment.date().isoformat() if info.type == "date" else iso(moment)


def phone_formula(e164: str, schema: Schema) -> F.Formula:
    """Records whose phone holds the last 8 digits of ``e164`` in any format (few candidates)."""
    digits = re.sub(r"\D", "", e164)[-8:]
    pattern = "[^0-9]*".join(digits)
    return F.REGEX_MATCH(F.Field(schema.name("phone")), pattern)


# --- the repository -------------------------------------------------------------


class AirtableStore(SqliteStore):
    """The mirror of an Airtable base: reads from the local SQLite copy, writes through Airtable.

    Every recording follows SPEC §3 "no lost interests": read the record fresh,
    merge by the recording rule, write in the field's own representation, read
    it back, and merge again while a concurrent writer dropped an item (bounded).
    """

    def __init__(self, path: str | Path, settings: AirtableSettings,
                 policy: ClientPolicy | None = None) -> None:
        super().__init__(path)
        self.settings = settings
        self.client = Client(settings, policy)
        self._schema: Schema | None = None
        self._schema_lock = threading.RLock()
        self._write_locks: dict[str, threading.Lock] = {}

    def __repr__(self) -> str:
        return f"AirtableStore(path={str(self.path)!r}, base_id={self.settings.base_id!r})"

    # --- schema and tenants ---------------------------------------------------

    def schema(self, refresh: bool = False) -> Schema:
        """The base's schema: cached in memory and in the mirror's meta, detected when absent."""
        with self._schema_lock:
            if self._schema is not None and not refresh:
                return self._schema
            if not refresh and self.get_meta("airtable_base") == self.mirror_key():
                stored = self.get_meta("airtable_schema")
                if stored:
                    self._schema = Schema.from_json(stored)
                    return self._schema
            self._schema = detect_schema(self.client)
            return self._schema

    def remember_schema(self, schema: Schema) -> None:
        """Use ``schema`` from now on (a full sync detected it)."""
        with self._schema_lock:
            self._schema = schema

    def mirror_key(self) -> str:
        """What the mirror is a copy of: base and table (a different one means a full sync)."""
        return f"{self.settings.base_id}/{self.settings.customers_table}"

    def tenants_by_id(self) -> dict[str, str]:
        """Tenant record id -> store name, as the mirror holds them."""
        return {rid: name for name, rid in self.store_ids().items() if rid}

    def fetch_tenants(self, schema: Schema) -> dict[str, str]:
        """Tenant record id -> store name, read from Airtable (only when ``tenant_id`` is a link)."""
        if not schema.tenant_is_link or not schema.tenants or not schema.tenants_primary:
            return {}
        records = self.client.walk(schema.tenants, fields=[schema.tenants_primary])
        return tenant_names(records, schema.tenants_primary)

    # --- writes -----------------------------------------------------------------

    def record(
        self, store: str, phone: str, batch: Sequence[str], at: datetime, name: str | None = None
    ) -> Customer:
        e164 = require_phone(phone)
        products = dedupe(split_raw(list(batch)))
        if not products:
            raise InvalidBatch("Nenhum produto informado.")
        # Writers sharing this store (the dashboard's sessions) take turns per customer; other
        # programs are covered by the read-back protocol of ``_record``.
        with self._lock_for(f"{store}\n{phone_key(e164)}"):
            return self._record_checked(store, e164, products, at, name)

    def _lock_for(self, key: str) -> threading.Lock:
        with self._schema_lock:
            return self._write_locks.setdefault(key, threading.Lock())

    def _record_checked(self, store: str, e164: str, products: list[str], at: datetime,
                        name: str | None) -> Customer:
        try:
            return self._record(store, e164, products, at, name, self.schema())
        except (MissingField, RequestRejected) as exc:
            if isinstance(exc, RequestRejected) and exc.error_type not in SCHEMA_ERRORS:
                raise
            # The base changed since the schema was read (a field renamed or retyped): nothing
            # was written by the refused request, so read the schema again and redo it once.
            log.warning("write refused by the schema: detecting it again")
            return self._record(store, e164, products, at, name, self.schema(refresh=True))

    def _record(self, store: str, e164: str, products: list[str], at: datetime, name: str | None,
                schema: Schema) -> Customer:
        tenant = self._tenant_value(store, schema)
        table = self.client.table(schema.customers)
        read_at = time.monotonic()
        fresh = self._locate(store, e164, schema)
        expected: list[str] = list(products)
        for attempt in range(self.client.policy.write_attempts):
            if fresh is None:
                after = apply_event(Customer(id="", store=store, phone=e164), products, at)
                after = _named(after, name)
                written = table.create(self._fields(after, schema, tenant, new=True), typecast=True)
                record_id = str(written["id"])
            else:
                record_id = str(fresh["id"])
                current = customer_of(fresh, schema, store)
                expected = merge_history(current.history, expected)
                merged = replace(current, interests_all=expected)
                after = _named(apply_event(merged, products, at), name)
                if current.last_interaction and after.last_interaction and \
                        current.last_interaction > after.last_interaction:
                    after = replace(after, last_interaction=current.last_interaction)
                try:
                    table.update(record_id, self._fields(after, schema, tenant, new=False), typecast=True)
                except RecordGone:
                    fresh = None
                    continue
            expected = merge_history(expected, after.interests_all)
            # Another writer's read-to-write gap is about ours: wait well past it, so a stale
            # copy it writes after our write has landed before we read back.
            gap = time.monotonic() - read_at
            time.sleep(max(self.client.policy.settle_seconds, 3 * gap))
            read_at = time.monotonic()
            back = table.get(record_id)
            saved = parse_interests((back.get("fields") or {}).get(schema.name("interests_all")))
            if not missing_items(expected, saved):
                self._mirror_row(back, schema, store)
                return customer_of(back, schema, store)
            log.warning("interest dropped by a concurrent write (attempt %d): merging again", attempt + 1)
            fresh = back
            # A little jitter, so two writers that collided do not collide again in step.
            time.sleep(random.uniform(0, self.client.policy.settle_seconds / 2))
        raise WriteNotConfirmed(
            "Não foi possível confirmar a gravação no Airtable: outro programa alterou o cliente"
            f" ao mesmo tempo. Os interesses {', '.join(products)} não foram salvos; tente de novo."
        )

    def _tenant_value(self, store: str, schema: Schema) -> object:
        if not schema.tenant_is_link:
            if store not in self.stores():
                raise UnknownStore(f"Loja desconhecida: {store}")
            return store
        ids = self.store_ids()
        if not ids.get(store):
            tenants = self.fetch_tenants(schema)
            ids = {name: rid for rid, name in tenants.items()}
            if store in ids:
                self.add_store(store, ids[store])
        if not ids.get(store):
            raise UnknownStore(f"Loja desconhecida: {store}")
        return [ids[store]]

    def _locate(self, store: str, e164: str, schema: Schema) -> dict[str, Any] | None:
        """The customer's record, read fresh from Airtable (None on first contact).

        The mirror gives the record id; a customer the mirror does not know yet
        (created since the last sync) is searched by phone in Airtable itself.
        """
        table = self.client.table(schema.customers)
        known = self.find(store, e164)
        if known is not None and known.id.startswith("rec"):
            try:
                return dict(table.get(known.id))
            except RecordGone:
                pass
        found = self.client.walk(schema.customers, fields=schema.read_fields(),
                                 formula=phone_formula(e164, schema))
        key = phone_key(e164)

        def value(record: Mapping[str, Any], logical: str) -> object:
            return (record.get("fields") or {}).get(schema.name(logical))

        same_phone = [r for r in found
                      if phone_key(normalize_phone(str(value(r, "phone") or ""))) == key]
        tenants = self.tenants_by_id()
        linked = {i for r in same_phone if isinstance(value(r, "tenant_id"), list)
                  for i in value(r, "tenant_id")}  # type: ignore[union-attr]
        if schema.tenant_is_link and linked - tenants.keys():
            tenants = self.fetch_tenants(schema)
        mine = [r for r in same_phone if store_of(value(r, "tenant_id"), schema, tenants) == store]
        if not mine:
            return None
        return dict(max(mine, key=lambda r: str(value(r, "last_interaction") or "")))

    def _fields(self, customer: Customer, schema: Schema, tenant: object, *, new: bool) -> dict[str, Any]:
        values: dict[str, Any] = {
            schema.name("interests"): field_value(customer.interests, schema.fields["interests"]),
            schema.name("interests_all"): field_value(customer.interests_all, schema.fields["interests_all"]),
        }
        last = schema.fields["last_interaction"]
        if last.writable:
            values[last.name] = _time_value(customer.last_interaction, last)
        if customer.name and schema.has("name") and schema.fields["name"].writable:
            values[schema.name("name")] = customer.name
        if new:
            values[schema.name("phone")] = customer.phone
            values[schema.name("tenant_id")] = tenant
            created = schema.fields.get("created_at")
            if created is not None and created.writable:
                values[created.name] = _time_value(customer.created_at, created)
        return values

    def _mirror_row(self, record: Mapping[str, Any], schema: Schema, store: str) -> None:
        row = to_row(record, schema, self.tenants_by_id(), iso(now_utc()))
        row["store"] = store
        self.insert_raw([row])


def _named(customer: Customer, name: str | None) -> Customer:
    if name and name.strip():
        return replace(customer, name=" ".join(name.split()))
    return customer


def chunks(items: Sequence[Any], size: int = BATCH_SIZE) -> Iterator[Sequence[Any]]:
    """``items`` in slices of ``size`` (Airtable takes 10 records a batch)."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


__all__ = [
    "AirtableError", "AirtableStore", "AuthError", "Client", "ClientPolicy", "FieldInfo",
    "MissingField", "NotFound", "OffsetExpired", "PermissionDenied", "RateLimited", "RecordGone",
    "RequestRejected", "Schema", "ServerError", "Throttle", "Unreachable", "UnsupportedField",
    "WriteNotConfirmed", "customer_of", "detect_schema", "field_value", "parse_schema",
    "product_rows", "store_of", "tenant_names", "to_row",
]
