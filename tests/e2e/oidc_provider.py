"""A local OpenID provider (oidc-provider-mock) and a Vitrine server signed in through it, for browser tests.

Usage::

    with OidcProvider(users=["ana@loja.com"]) as idp, \\
            VitrineServer(tmp_path, db, secrets=idp.auth_secrets(...) + access_toml) as app:
        page.goto(app.url)

Nothing touches the repository's ``.streamlit``: the server runs with its own
working directory, whose ``.streamlit/config.toml`` names the secrets file.
"""

from __future__ import annotations

import os
import queue
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType

import oidc_provider_mock
import werkzeug.serving

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dashboard" / "server.py"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def toml_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(toml_string(item) for item in items) + "]"


class OidcProvider:
    """oidc-provider-mock on a free loopback port, in a thread of the test process.

    Each user of ``users`` is a one-click button on the provider's sign-in form,
    named by the e-mail, with a verified ``email`` claim.
    """

    def __init__(self, users: Iterable[str] = ()) -> None:
        claims = [
            oidc_provider_mock.User(sub=email, claims={"email": email, "email_verified": True})
            for email in users
        ]
        self._server = werkzeug.serving.make_server(
            "127.0.0.1", 0, oidc_provider_mock.app(user_claims=claims), threaded=True
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.1,), daemon=True)

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def auth_toml(self, app_port: int) -> str:
        """The ``[auth]`` section of a Vitrine served on ``app_port``, signing in here."""
        return "\n".join([
            "[auth]",
            f'redirect_uri = "http://127.0.0.1:{app_port}/oauth2callback"',
            f"cookie_secret = {toml_string(secrets.token_urlsafe(32))}",
            'client_id = "vitrine-e2e"',
            f"client_secret = {toml_string(secrets.token_urlsafe(16))}",
            f"server_metadata_url = {toml_string(self.metadata_url)}",
            "",
        ])

    def __enter__(self) -> OidcProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def access_toml(admins: Iterable[str] = (), stores: Mapping[str, Iterable[str]] | None = None) -> str:
    """An ``[access]`` section."""
    lines = ["[access]", f"admins = {toml_list(admins)}", "", "[access.stores]"]
    lines += [f"{toml_string(email)} = {toml_list(granted)}" for email, granted in (stores or {}).items()]
    return "\n".join(lines) + "\n"


class VitrineServer:
    """``streamlit run dashboard/server.py`` on a free loopback port, in its own working directory.

    Args:
        workdir: an empty directory for ``.streamlit/config.toml`` and ``secrets.toml``.
        db: the SQLite file (``VITRINE_DB``).
        secrets: the text of ``secrets.toml`` (may use ``{port}``, filled in here), or None.
        port: the port (default: a free one).
        address: ``server.address``.
        env: more environment variables.
    """

    def __init__(self, workdir: Path, db: Path, secrets: str | None = None, *, port: int | None = None,
                 address: str = "127.0.0.1", env: Mapping[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        settings = workdir / ".streamlit"
        settings.mkdir(parents=True, exist_ok=True)
        secrets_file = settings / "secrets.toml"
        files = []
        if secrets is not None:
            secrets_file.write_text(secrets.replace("{port}", str(self.port)))
            files = [str(secrets_file)]
        (settings / "config.toml").write_text("\n".join([
            "[browser]", "gatherUsageStats = false", "",
            "[server]", f"address = {toml_string(address)}", f"port = {self.port}",
            "headless = true", "runOnSave = false", 'fileWatcherType = "none"', "",
            "[secrets]", f"files = {toml_list(files or [str(settings / 'none.toml')])}", "",
        ]))
        # No Airtable base of the developer's: the server reads only ``db``.
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("AIRTABLE_", "VITRINE_"))}
        self._env = {**clean, "VITRINE_DB": str(db), "VITRINE_SECRETS": str(settings / "none.toml"),
                     **(env or {})}
        self._process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.log: list[str] = []

    def __enter__(self) -> VitrineServer:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(APP)],
            cwd=self.workdir, env=self._env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        threading.Thread(target=self._drain, daemon=True).start()
        while True:
            try:
                line = self._lines.get(timeout=60)
            except queue.Empty:
                self.__exit__(None, None, None)
                raise TimeoutError("streamlit did not start in 60 s:\n" + "".join(self.log)) from None
            if line is None:
                raise RuntimeError("streamlit exited:\n" + "".join(self.log))
            if f":{self.port}" in line:
                return self

    def _drain(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            self.log.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def __exit__(self, exc_type: type[BaseException] | None = None, exc: BaseException | None = None,
                 tb: TracebackType | None = None) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)


__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "OidcProvider", "VitrineServer", "access_toml", "free_port"]
