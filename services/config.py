"""Where the data lives: the SQLite file, and the Airtable base when one is configured (SPEC §8)."""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DB = ROOT / "data" / "vitrine.db"
SECRETS_FILE = ROOT / ".streamlit" / "secrets.toml"
DEFAULT_ENDPOINT = "https://api.airtable.com"
DEFAULT_TABLES = {
    "customers_table": "Customers",
    "tenants_table": "Tenants",
    "products_table": "Products",
}


# Visible ASCII without spaces: what a token can hold. Airtable's personal access tokens look like
# "pat" + 14 letters and digits + "." + 64 hex digits; other shapes (OAuth) are accepted too.
_TOKEN = re.compile(r"[\x21-\x7e]+")
REDACTED = "***"


class InvalidSetting(ValueError):
    """A setting that cannot be used; the message names the setting, never its value."""


def check_token(value: str, name: str = "AIRTABLE_API_KEY") -> str:
    """``value`` when it can be a token; else ``InvalidSetting`` naming ``name`` (and not the value).

    Example: ``check_token("patAbc.123") == "patAbc.123"``; ``check_token("pat abc")`` raises.

    Args:
        value: the token as configured (already trimmed).
        name: the setting, as the message names it.

    Returns:
        ``value`` itself.

    Raises:
        InvalidSetting: empty, or a space, line break, control or non-ASCII character inside.
    """
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise InvalidSetting(
            f"{name} inválido: o token tem espaço, quebra de linha ou caractere invisível ou fora"
            " do ASCII. Copie de novo o token do Airtable (começa com “pat”) numa linha só."
        )
    return value


@dataclass(frozen=True)
class AirtableSettings:
    """How to reach the Airtable base. The token never shows in ``repr`` or ``str``.

    Raises:
        InvalidSetting: a token that cannot be one (``check_token``).
    """

    api_key: str = field(repr=False)
    base_id: str
    endpoint_url: str = DEFAULT_ENDPOINT
    customers_table: str = DEFAULT_TABLES["customers_table"]
    tenants_table: str = DEFAULT_TABLES["tenants_table"]
    products_table: str = DEFAULT_TABLES["products_table"]

    def __repr__(self) -> str:
        return (
            f"AirtableSettings(api_key='***', base_id={self.base_id!r},"
            f" endpoint_url={self.endpoint_url!r}, customers_table={self.customers_table!r},"
            f" tenants_table={self.tenants_table!r}, products_table={self.products_table!r})"
        )

    __str__ = __repr__

    def __post_init__(self) -> None:
        check_token(self.api_key)


def db_path(environ: Mapping[str, str] | None = None) -> Path:
    """The SQLite file: ``VITRINE_DB`` or ``data/vitrine.db`` under the repository root.

    Example: ``db_path({"VITRINE_DB": "/tmp/v.db"}) == Path("/tmp/v.db")``
    """
    env = os.environ if environ is None else environ
    value = (env.get("VITRINE_DB") or "").strip()
    return Path(value).expanduser() if value else DEFAULT_DB


def secrets_file(environ: Mapping[str, str] | None = None) -> Path:
    """The secrets file: ``VITRINE_SECRETS`` (tests point it away from a real one) or the default."""
    env = os.environ if environ is None else environ
    value = (env.get("VITRINE_SECRETS") or "").strip()
    return Path(value).expanduser() if value else SECRETS_FILE


def read_secrets_file(path: Path | None = None) -> Mapping[str, object] | None:
    """The ``[airtable]`` section of the secrets file, or None when absent or unreadable.

    The CLI uses this; the dashboard passes ``st.secrets["airtable"]`` instead.
    """
    path = secrets_file() if path is None else path
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError):
        return None
    section = data.get("airtable")
    return section if isinstance(section, Mapping) else None


def airtable_settings(
    secrets: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None
) -> AirtableSettings | None:
    """The Airtable settings, the environment first, then the ``[airtable]`` secrets.

    Table names are read as ``customers_table`` (or ``CUSTOMERS_TABLE``,
    ``AIRTABLE_CUSTOMERS_TABLE``) and likewise for tenants and products.

    Args:
        secrets: the ``[airtable]`` section (``st.secrets["airtable"]`` or ``read_secrets_file()``).
        environ: the environment (default ``os.environ``).

    Returns:
        The settings, or None when the token or the base id is missing (the demo is used).

    Raises:
        InvalidSetting: the token holds a space, a line break or an invisible character.
    """
    env = os.environ if environ is None else environ
    section = secrets or {}

    def setting(name: str, default: str = "") -> str:
        for source in (env, section):
            for key in _spellings(name):
                value = source.get(key)
                if isinstance(value, str) and value.strip():
                    return value.strip()
        return default

    api_key = setting("AIRTABLE_API_KEY")
    base_id = setting("AIRTABLE_BASE_ID")
    if not api_key or not base_id:
        return None
    return AirtableSettings(
        api_key=api_key,
        base_id=base_id,
        endpoint_url=setting("AIRTABLE_ENDPOINT_URL", DEFAULT_ENDPOINT),
        **{name: setting(name, default) for name, default in DEFAULT_TABLES.items()},
    )


PRODUCT_BASE_URL = "VITRINE_PRODUCT_BASE_URL"


def read_secrets_section(name: str, path: Path | None = None) -> Mapping[str, object] | None:
    """A ``[name]`` section of the secrets file (e.g. ``vitrine``), or None when absent or unreadable."""
    path = secrets_file() if path is None else path
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError):
        return None
    section = data.get(name)
    return section if isinstance(section, Mapping) else None


def product_base_url(
    section: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None
) -> str | None:
    """The shop's product address prefix for ``{link}`` (SPEC §12), when one is set.

    ``VITRINE_PRODUCT_BASE_URL`` in the environment first, then ``product_base_url`` of the
    ``[vitrine]`` secrets section. Only an ``http``/``https`` address counts.

    Example: ``product_base_url({"product_base_url": "https://loja.com/p"}) == "https://loja.com/p"``

    Args:
        section: the ``[vitrine]`` section (``st.secrets["vitrine"]`` or ``read_secrets_section("vitrine")``).
        environ: the environment (default ``os.environ``).

    Returns:
        The address, trimmed, or None.
    """
    env = os.environ if environ is None else environ
    for value in (env.get(PRODUCT_BASE_URL), (section or {}).get("product_base_url"),
                  (section or {}).get(PRODUCT_BASE_URL)):
        if isinstance(value, str) and re.match(r"(?i)^https?://[^\s/]+", value.strip()):
            return value.strip()
    return None


def _spellings(name: str) -> tuple[str, ...]:
    return (name, name.upper(), name.lower(), "AIRTABLE_" + name.upper())


def configured_secrets(
    secrets: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None
) -> list[str]:
    """Every token value configured, as written (even one ``check_token`` refuses): what to redact.

    Example: ``install_redaction(configured_secrets(read_secrets_file()))`` at a program's start.

    Args:
        secrets: the ``[airtable]`` section, as for ``airtable_settings``.
        environ: the environment (default ``os.environ``).

    Returns:
        The non-blank values of ``AIRTABLE_API_KEY`` in the environment and the section.
    """
    env = os.environ if environ is None else environ
    found = []
    for source in (env, secrets or {}):
        for key in _spellings("AIRTABLE_API_KEY"):
            value = source.get(key)
            if isinstance(value, str) and value.strip() and value not in found:
                found.append(value)
    return found


def data_source(secrets: Mapping[str, object] | None = None,
                environ: Mapping[str, str] | None = None) -> str:
    """``"airtable"`` when a base is configured, else ``"demo"``."""
    return "airtable" if airtable_settings(secrets, environ) else "demo"


# --- keeping the token out of logs and messages (SPEC §10) --------------------------------

_MIN_PIECE = 8  # a shorter line of a broken token would blank ordinary words


def _pieces(secrets: Iterable[str | None]) -> list[str]:
    pieces: set[str] = set()
    for secret in secrets:
        if not isinstance(secret, str) or not secret.strip():
            continue
        pieces.add(secret)
        pieces.add(secret.strip())
        # A token pasted with a line break can reach a message one line at a time.
        pieces.update(
            line.strip() for line in secret.splitlines() if len(line.strip()) >= _MIN_PIECE
        )
    return sorted(pieces, key=len, reverse=True)  # the whole token before its parts


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret, and every line of at least 8 characters of one, replaced by ``***``.

    Example: ``redact("token patX.1 recusado", ["patX.1"]) == "token *** recusado"``

    Args:
        text: a message, a log line, a traceback.
        secrets: the values to hide (empty and missing ones are ignored).

    Returns:
        The text without them.
    """
    for piece in _pieces(secrets):
        text = text.replace(piece, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that takes the secrets out of each record's message, traceback and stack.

    Install with ``install_redaction`` (every logger), or add to a handler:
    ``handler.addFilter(RedactingFilter([settings.api_key]))``. It never drops a record.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self.secrets: tuple[str, ...] = tuple(_pieces(secrets))

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite ``record`` in place without the secrets; always keep it."""
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: logging itself reports it later
            message = str(record.msg)
        clean = redact(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


_installed: RedactingFilter | None = None


def install_redaction(secrets: Iterable[str | None]) -> RedactingFilter:
    """Pass every log record of this process, whatever its logger and handler, through a ``RedactingFilter``.

    A filter on a logger sees only the records of that very logger, not of its children,
    so this wraps the record factory instead. Calling it again (a Streamlit rerun) only
    replaces the secrets.

    Args:
        secrets: the values to hide (the Airtable token).

    Returns:
        The filter in use.
    """
    global _installed
    if _installed is not None:
        _installed.secrets = tuple(_pieces(secrets))
        return _installed
    active = _installed = RedactingFilter(secrets)
    make_record = logging.getLogRecordFactory()

    def redacting_record(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        active.filter(record)
        return record

    logging.setLogRecordFactory(redacting_record)
    return active
