"""The Airtable base as the source of truth: client, schema, records, the store, sync and backfill."""

# Importing this package loads pyairtable (most of a second): only code that works with a
# base imports it, never the demo's path (see dashboard/source.py).
from services.store.airtable.client import Client, ClientPolicy, Throttle
from services.store.airtable.errors import (
    AirtableError,
    AuthError,
    MissingField,
    NotFound,
    OffsetExpired,
    PermissionDenied,
    RateLimited,
    RecordGone,
    RequestRejected,
    ServerError,
    Unreachable,
    UnsupportedField,
    WriteNotConfirmed,
)
from services.store.airtable.schema import FieldInfo, Schema, detect_schema, parse_schema
from services.store.airtable.store import AirtableStore

__all__ = [
    "AirtableError", "AirtableStore", "AuthError", "Client", "ClientPolicy", "FieldInfo",
    "MissingField", "NotFound", "OffsetExpired", "PermissionDenied", "RateLimited", "RecordGone",
    "RequestRejected", "Schema", "ServerError", "Throttle", "Unreachable", "UnsupportedField",
    "WriteNotConfirmed", "detect_schema", "parse_schema",
]
