"""Who may see which stores: the ``[access]`` rules and the check every scoped read makes (SPEC §10)."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from services.frame import CustomerData
from services.store.base import StoreError, UnknownStore


class AccessDenied(StoreError):
    """A request for stores the user may not see; the message names them (Portuguese)."""


class InvalidAccessConfig(ValueError):
    """An ``[access]`` section that cannot be read; the message says what to fix."""


def normalize_email(email: object) -> str:
    """An e-mail as compared: trimmed and lower case; ``""`` for anything that is not text.

    Example: ``normalize_email(" Ana@Loja.com ") == "ana@loja.com"``.
    """
    return email.strip().casefold() if isinstance(email, str) else ""


@dataclass(frozen=True)
class AccessRules:
    """Who may see what, as configured in ``[access]``.

    Attributes:
        admins: e-mails that see every store and the export audit.
        stores: e-mail → the stores that person may see.

    Example::

        rules = AccessRules(admins=frozenset({"dona@loja.com"}),
                            stores={"ana@loja.com": ("Vitrine Jardins",)})
        rules.allowed("ana@loja.com", ("Vitrine Jardins", "Vitrine Leblon")) == ("Vitrine Jardins",)
    """

    admins: frozenset[str] = frozenset()
    stores: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def is_admin(self, email: object) -> bool:
        """True when ``email`` is listed in ``admins``."""
        key = normalize_email(email)
        return bool(key) and key in self.admins

    def is_known(self, email: object) -> bool:
        """True when ``email`` is an admin or has stores of its own."""
        key = normalize_email(email)
        return bool(key) and (key in self.admins or key in self.stores)

    def allowed(self, email: object, all_stores: Iterable[str]) -> tuple[str, ...]:
        """The stores of ``all_stores`` that ``email`` may see, in their order.

        Args:
            email: the signed-in user's e-mail (any case); unknown or empty sees nothing.
            all_stores: every store of the data.

        Returns:
            Every store for an admin, the configured ones that exist for a manager, else ``()``.
        """
        key = normalize_email(email)
        every = tuple(all_stores)
        if not key:
            return ()
        if key in self.admins:
            return every
        mine = set(self.stores.get(key, ()))
        return tuple(store for store in every if store in mine)


def _text_list(value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InvalidAccessConfig(f"{where} deve ser uma lista de textos, por exemplo [\"...\"].")
    return tuple(dict.fromkeys(v.strip() for v in value if v.strip()))


def parse_rules(section: Mapping[str, object] | None) -> AccessRules:
    """The rules of an ``[access]`` section (``st.secrets["access"]`` or a parsed TOML table).

    Format::

        [access]
        admins = ["dona@loja.com"]

        [access.stores]
        "ana@loja.com" = ["Vitrine Jardins"]

    Args:
        section: the section, or None when there is none (then nobody has access).

    Returns:
        The rules; e-mails are compared without case.

    Raises:
        InvalidAccessConfig: a value of the wrong type, or an unknown key.
    """
    if section is None:
        return AccessRules()
    if not isinstance(section, Mapping):
        raise InvalidAccessConfig("[access] deve ser uma seção do secrets.toml.")
    unknown = sorted(set(section) - {"admins", "stores"})
    if unknown:
        raise InvalidAccessConfig(
            f"[access] não reconhece {', '.join(unknown)}: use admins = [...] e [access.stores]."
        )
    admins = frozenset(
        normalize_email(e) for e in _text_list(section.get("admins", []), "[access] admins")
    )
    table = section.get("stores", {})
    if not isinstance(table, Mapping):
        raise InvalidAccessConfig(
            '[access.stores] deve mapear e-mails a lojas: "ana@loja.com" = ["Vitrine Jardins"].'
        )
    stores: dict[str, tuple[str, ...]] = {}
    for email, value in table.items():
        key = normalize_email(email)
        if not key:
            continue
        granted = _text_list(value, f'[access.stores] "{email}"')
        stores[key] = tuple(dict.fromkeys([*stores.get(key, ()), *granted]))
    return AccessRules(admins=admins, stores=stores)


def require_stores(
    requested: Iterable[str], allowed: Collection[str], known: Collection[str] | None = None
) -> tuple[str, ...]:
    """``requested`` if every store of it is allowed; else ``AccessDenied`` naming the others.

    Every write and every store named on the command line goes through this check.

    Example: ``require_stores(["A"], allowed=("A", "B")) == ("A",)``;
    ``require_stores(["B"], allowed=("A",))`` raises ``AccessDenied``.

    Args:
        requested: the stores a page, a download or the command line asks for.
        allowed: the stores the user may see.
        known: every store of the data, when an unknown name should be told apart (the
            command line lists them); None skips that check.

    Returns:
        The requested stores, without repeats, in the order asked.

    Raises:
        UnknownStore: a requested store is not in ``known``.
        AccessDenied: a requested store is not in ``allowed``.
    """
    wanted = tuple(dict.fromkeys(requested))
    if known is not None:
        unknown = [store for store in wanted if store not in set(known)]
        if unknown:
            listed = ", ".join(known) or "nenhuma"
            raise UnknownStore(f"Loja desconhecida: {unknown[0]!r}. Lojas: {listed}")
    permitted = set(allowed)
    refused = [store for store in wanted if store not in permitted]
    if refused:
        names = ", ".join(f'"{store}"' for store in refused)
        raise AccessDenied(f"Sem acesso à loja {names}." if len(refused) == 1
                           else f"Sem acesso às lojas {names}.")
    return wanted


def scoped(
    data: CustomerData, allowed: Collection[str], requested: Iterable[str] | None = None
) -> CustomerData:
    """The customers a user may work on: the requested stores, checked against the allowed ones.

    Every rule (lookup, segments, metrics, insights, exports) reads the frame this returns.

    Args:
        data: the customer frame of every store.
        allowed: the stores the user may see.
        requested: the stores chosen (default: all allowed).

    Returns:
        ``data`` limited to those stores.

    Raises:
        AccessDenied: a requested store is not allowed.
    """
    stores = tuple(allowed) if requested is None else require_stores(requested, allowed)
    return data.for_stores(stores)


def is_local_host(host: str | None) -> bool:
    """True when an HTTP ``Host`` header names this machine: ``localhost`` or a loopback address, any port.

    Local mode trusts whoever reaches the loopback interface. A web page whose own name
    its owner re-points at 127.0.0.1 (DNS rebinding) reaches it too, but its requests
    carry that name as ``Host``; an address written as digits cannot be re-pointed.

    Example: ``is_local_host("localhost:8501")`` and ``is_local_host("[::1]:8501")`` are True;
    ``is_local_host("evil.example:8501")`` and ``is_local_host(None)`` are False.

    Args:
        host: the ``Host`` header as received (None when absent).

    Returns:
        Whether it is ``localhost``, ``127.x.x.x`` or ``[::1]``, with an optional valid port.
    """
    if not isinstance(host, str) or not host or not host.isascii() or not host.isprintable():
        return False
    if any(ch.isspace() for ch in host):
        return False
    try:
        parts = urlsplit(f"//{host}")
        _ = parts.port  # a port that is not a number from 0 to 65535 raises
    except ValueError:
        return False
    if parts.username is not None or parts.password is not None or parts.path or parts.query \
            or parts.fragment or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


__all__ = [
    "AccessDenied", "AccessRules", "InvalidAccessConfig", "is_local_host", "normalize_email",
    "parse_rules", "require_stores", "scoped",
]
