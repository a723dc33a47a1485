"""The [access] rules: who sees which stores, admins, and the named refusal (SPEC §10)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from services.access import (
    AccessDenied,
    AccessRules,
    InvalidAccessConfig,
    is_local_host,
    parse_rules,
    require_stores,
)
from services.store.base import StoreError

ROOT = Path(__file__).resolve().parents[1]
STORES = ("Vitrine Jardins", "Vitrine Leblon", "Vitrine Savassi")

CONFIG = tomllib.loads("""
[access]
admins = ["Dona@Vitrine.com.br"]

[access.stores]
"ana@vitrine.com.br" = ["Vitrine Jardins"]
"bruno@vitrine.com.br" = ["Vitrine Leblon", "Vitrine Savassi"]
"carla@vitrine.com.br" = ["Loja Fechada"]
""")["access"]


@pytest.fixture
def rules() -> AccessRules:
    return parse_rules(CONFIG)


def test_manager_sees_only_their_store(rules: AccessRules) -> None:
    assert rules.allowed("ana@vitrine.com.br", STORES) == ("Vitrine Jardins",)
    assert rules.allowed("bruno@vitrine.com.br", STORES) == ("Vitrine Leblon", "Vitrine Savassi")


def test_admin_sees_every_store_of_the_data(rules: AccessRules) -> None:
    assert rules.allowed("dona@vitrine.com.br", STORES) == STORES
    assert rules.is_admin("dona@vitrine.com.br")
    assert not rules.is_admin("ana@vitrine.com.br")


def test_emails_compare_without_case_or_spaces(rules: AccessRules) -> None:
    assert rules.allowed("  ANA@Vitrine.com.br ", STORES) == ("Vitrine Jardins",)
    assert rules.is_admin("DONA@VITRINE.COM.BR")


@pytest.mark.parametrize("email", ["estranho@gmail.com", "", None, 42, "ana@vitrine.com.br.evil.com"])
def test_unknown_or_missing_email_sees_nothing(rules: AccessRules, email: object) -> None:
    assert rules.allowed(email, STORES) == ()
    assert not rules.is_known(email)
    assert not rules.is_admin(email)


def test_a_configured_store_missing_from_the_data_gives_nothing(rules: AccessRules) -> None:
    assert rules.is_known("carla@vitrine.com.br")
    assert rules.allowed("carla@vitrine.com.br", STORES) == ()


def test_no_access_section_means_nobody_enters() -> None:
    assert parse_rules(None).allowed("dona@vitrine.com.br", STORES) == ()


@pytest.mark.parametrize("section", [
    {"admins": [1, 2]},
    {"stores": ["Vitrine Jardins"]},
    {"stores": {"ana@vitrine.com.br": 3}},
    {"admin": ["typo@vitrine.com.br"]},
])
def test_a_wrong_section_is_refused_with_a_message(section: dict) -> None:
    with pytest.raises(InvalidAccessConfig, match=r"\[access"):
        parse_rules(section)


def test_require_stores_returns_the_requested_when_allowed() -> None:
    assert require_stores(["Vitrine Jardins", "Vitrine Jardins"], STORES) == ("Vitrine Jardins",)
    assert require_stores([], STORES) == ()


def test_require_stores_names_the_refused_store() -> None:
    with pytest.raises(AccessDenied, match="Vitrine Leblon") as caught:
        require_stores(["Vitrine Jardins", "Vitrine Leblon"], ("Vitrine Jardins",))
    assert isinstance(caught.value, StoreError)
    assert "Vitrine Jardins" not in str(caught.value)


def test_the_example_secrets_file_parses_to_working_rules() -> None:
    example = tomllib.loads((ROOT / ".streamlit" / "secrets.toml.example").read_text())
    rules = parse_rules(example["access"])
    assert rules.admins
    email, stores = next(iter(rules.stores.items()))
    assert rules.allowed(email, stores) == stores
    for key in ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url"):
        assert key in example["auth"], key


@pytest.mark.parametrize("host", [
    "localhost", "localhost:8501", "LocalHost:8501", "127.0.0.1", "127.0.0.1:8501", "[::1]:8501",
])
def test_this_machine_by_name_or_loopback_address_is_a_local_host(host: str) -> None:
    assert is_local_host(host)


@pytest.mark.parametrize("host", [
    None, "", "evil.example", "evil.example:8501", "localhost.evil.example:8501",
    "127.0.0.1.nip.io:8501", "localhost.", "localhost@evil.example", "evil.example#@localhost",
    "localhost:99999", "localhost:abc", "localhost/x", " localhost", "localhost\r\nX: y",
    "127.1", "2130706433", "0.0.0.0:8501", "[::]:8501", "192.168.0.10:8501",
    "localhost:8501, evil.example",
])
def test_any_other_host_header_is_not_local(host: str | None) -> None:
    assert not is_local_host(host)
