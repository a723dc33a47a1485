"""Airtable's faults by name, with messages fit for the screen (Portuguese, never the token)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

import requests

from services.config import redact
from services.store.base import StoreError

# 422 types that mean "the base changed since the schema was read".
SCHEMA_ERRORS = frozenset({
    "UNKNOWN_FIELD_NAME", "INVALID_VALUE_FOR_COLUMN", "INVALID_MULTIPLE_CHOICE_OPTIONS",
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


def translate(
    exc: requests.HTTPError, base_id: str, blocks: int, secrets: Sequence[str] = ()
) -> AirtableError:
    """The named fault of an HTTP error from Airtable (``blocks``: the 429 pauses already waited).

    What Airtable (or a proxy) answered is quoted with ``secrets`` (the token) blotted out.
    """
    response = exc.response
    status = response.status_code if response is not None else 0
    error_type, message = _error_body(response)
    message = redact(message, secrets)
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


def unreachable(exc: Exception, endpoint: object, read_timeout: float) -> Unreachable:
    """The fault of a dropped connection or a timeout (``read_timeout``: seconds waited)."""
    host = urlsplit(str(endpoint)).netloc or str(endpoint)
    if isinstance(exc, requests.Timeout):
        return Unreachable(
            f"O Airtable ({host}) não respondeu a tempo (limite de {read_timeout:.0f} s)."
            " A cópia local continua com os dados da última sincronização."
        )
    return Unreachable(
        f"Sem conexão com o Airtable ({host}): verifique a rede (ou AIRTABLE_ENDPOINT_URL)."
        " A cópia local continua com os dados da última sincronização."
    )

