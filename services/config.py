"""Where the data lives: the SQLite file, and the Airtable base when one is configured (SPEC §8)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
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


@dataclass(frozen=True)
class AirtableSettings:
    """How to reach the Airtable base. The token never shows in ``repr`` or ``str``."""

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
    """
    env = os.environ if environ is None else environ
    section = secrets or {}

    def setting(name: str, default: str = "") -> str:
        for source in (env, section):
            for key in (name, name.upper(), name.lower(), "AIRTABLE_" + name.upper()):
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


def data_source(secrets: Mapping[str, object] | None = None,
                environ: Mapping[str, str] | None = None) -> str:
    """``"airtable"`` when a base is configured, else ``"demo"``."""
    return "airtable" if airtable_settings(secrets, environ) else "demo"
