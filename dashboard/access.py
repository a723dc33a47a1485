"""Sign-in and who may see which stores, on screen (SPEC §10).

With ``[auth]`` in the secrets, everyone signs in (Streamlit's OIDC: ``st.login``)
and ``[access]`` says which stores each e-mail sees. Without it the app runs in
local mode, for the person at this machine only: it refuses to serve anything
unless bound to the loopback interface and opened as ``localhost`` or ``127.0.0.1``
(a page of another site re-pointed at this machine, DNS rebinding, gets nothing).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import streamlit as st

from services.access import (
    AccessRules,
    InvalidAccessConfig,
    is_local_host,
    normalize_email,
    parse_rules,
)

LOCAL_USER = "modo local"


@dataclass(frozen=True)
class Viewer:
    """Who is looking at the app in this run.

    Attributes:
        email: the signed-in e-mail (``""`` in local mode or when nobody may enter).
        admin: sees every store and the export audit.
        local: local mode (no sign-in configured, bound to loopback): every store.
        permitted: may see any data at all.
        rules: the ``[access]`` rules.
    """

    email: str = ""
    admin: bool = False
    local: bool = False
    permitted: bool = False
    rules: AccessRules = AccessRules()

    @property
    def who(self) -> str:
        """The name the export audit records."""
        return self.email or LOCAL_USER

    def allowed(self, all_stores: tuple[str, ...]) -> tuple[str, ...]:
        """The stores of ``all_stores`` this viewer may see (all of them in local mode)."""
        if not self.permitted:
            return ()
        if self.local:
            return tuple(all_stores)
        return self.rules.allowed(self.email, all_stores)


def _section(name: str) -> Mapping[str, object] | None:
    try:
        value = st.secrets.get(name)
    except FileNotFoundError:  # no secrets.toml at all (StreamlitSecretNotFoundError)
        return None
    return value if isinstance(value, Mapping) else None


def auth_configured() -> bool:
    """True when the secrets hold an ``[auth]`` section (sign-in is required)."""
    return _section("auth") is not None


def is_loopback(address: object) -> bool:
    """True for an address only this machine can reach (``127.0.0.1``, ``::1``, ``localhost``).

    An unset address means every interface, so it is not loopback.
    """
    if not isinstance(address, str) or not address.strip():
        return False
    host = address.strip().strip("[]")
    if host.casefold() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def opened_locally() -> bool:
    """True unless this session's request named another host than this machine (``Host``).

    A browser always sends ``Host``, and DNS rebinding needs a browser; a run without a
    request (AppTest, a script) has no header and nothing to rebind.
    """
    hosts = st.context.headers.get_all("host")
    return all(is_local_host(host) for host in hosts)


def _providers(auth: Mapping[str, object]) -> list[str | None]:
    """``[None]`` for a single provider configured in ``[auth]`` itself, else the named ones."""
    if "client_id" in auth or "server_metadata_url" in auth:
        return [None]
    return [name for name, value in auth.items() if isinstance(value, Mapping)] or [None]


def viewer() -> Viewer:
    """Who is looking, without drawing anything (pages and the shared frame call this)."""
    if not auth_configured():
        local = is_loopback(st.get_option("server.address")) and opened_locally()
        return Viewer(local=local, admin=local, permitted=local)
    if not st.user.is_logged_in:
        return Viewer()
    try:
        rules = parse_rules(_section("access"))
    except InvalidAccessConfig:
        return Viewer()
    email = normalize_email(st.user.get("email"))
    if st.user.get("email_verified") is False or not rules.is_known(email):
        return Viewer(email=email, rules=rules)
    return Viewer(email=email, admin=rules.is_admin(email), permitted=True, rules=rules)


def gate(all_stores: Callable[[], list[str]]) -> Viewer:
    """Stop this run unless the user may see data; show who is signed in, or the local badge.

    Call once from the entrypoint, before navigation, with a function that lists every
    store of the data (read only once sign-in passed). Each refusal is a screen
    with no customer data: local mode on a public address, not signed in,
    ``[access]`` unreadable, an e-mail without access.
    """
    if not auth_configured():
        return _local_gate()
    if not st.user.is_logged_in:
        _sign_in_screen()
    try:
        parse_rules(_section("access"))
    except InvalidAccessConfig as error:
        _refuse("Configuração de acesso inválida", str(error))
    who = viewer()
    if not who.permitted:
        _no_access(who.email)
    stores = all_stores()
    # An empty base (an Airtable mirror before its first sync) has nothing to hide yet.
    if not who.admin and stores and not who.rules.allowed(who.email, stores):
        _no_access(who.email, "As lojas do seu e-mail não existem nesta base.")
    with st.sidebar:
        st.caption("Conectado como")
        st.text(who.email)
        st.button("Sair", key="access_logout", on_click=st.logout, icon=":material/logout:")
    return who


def _local_gate() -> Viewer:
    address = st.get_option("server.address")
    if not is_loopback(address):
        bound = f"`{address}`" if address else "todas as interfaces (server.address não definido)"
        st.error(
            "**O Vitrine não abre sem login fora deste computador.**\n\n"
            f"O servidor está em {bound}, sem a seção `[auth]` no `.streamlit/secrets.toml`. "
            "Configure o login (veja “Deploying with sign-in” no README) ou rode só em "
            "`127.0.0.1` (`make run`).",
            icon=":material/block:",
        )
        st.stop()
    if not opened_locally():
        # The name in the address bar is not this machine's: never echo it (it is the page's).
        st.error(
            "**O Vitrine em modo local só abre como localhost ou 127.0.0.1.**\n\n"
            "Este endereço não é deste computador. Abra http://localhost:8501 (ou a porta em uso)"
            " direto no navegador; para acesso por outro nome, configure o login (`[auth]`).",
            icon=":material/block:",
        )
        st.stop()
    with st.sidebar:
        st.badge("modo local", icon=":material/lock_open:", color="orange",
                 help="Sem login: só este computador (127.0.0.1) acessa, e vê todas as lojas.")
    return viewer()


def _sign_in_screen() -> None:
    st.title("💎 Vitrine")
    st.write("Entre com a sua conta para ver os clientes das suas lojas.")
    auth = _section("auth") or {}
    for provider in _providers(auth):
        label = "Entrar" if provider is None else f"Entrar com {provider}"
        st.button(label, key=f"access_login_{provider or 'default'}", type="primary",
                  on_click=st.login, args=(provider,) if provider else None,
                  icon=":material/login:")
    st.stop()


def _no_access(email: str, reason: str | None = None) -> None:
    st.title("Sem acesso")
    st.write(reason or "Esta conta não tem acesso a nenhuma loja do Vitrine.")
    if email:
        st.text(email)
    st.caption("Peça a um administrador para incluir o seu e-mail em [access] no secrets.toml.")
    st.button("Sair", key="access_logout", on_click=st.logout, icon=":material/logout:")
    st.stop()


def _refuse(title: str, message: str) -> None:
    st.title(title)
    st.error(message)
    st.button("Sair", key="access_logout", on_click=st.logout, icon=":material/logout:")
    st.stop()
