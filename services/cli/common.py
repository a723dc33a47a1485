"""What every command shares: the one-line error, argument types, opening the file, the user's name."""

from __future__ import annotations

import argparse
import getpass
import json
from datetime import datetime
from pathlib import Path
from typing import NoReturn

from services import config
from services.access import require_stores
from services.interests import require_time
from services.source import open_source
from services.store.base import CustomerRepository
from services.store.maintenance import require_intact
from services.store.readonly import ReadOnlyStore

USAGE = 2
DATA = 1


class CliError(Exception):
    """A one-line message for stderr, and the exit code."""

    def __init__(self, message: str, code: int = DATA) -> None:
        super().__init__(message)
        self.code = code


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error on one line instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{self.prog}: {message} (veja --help)", USAGE)


def at_least(minimum: int, refusal: str):
    """An argparse type: a whole number of at least ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"não é um número inteiro: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{refusal}: {text}")
        return value

    return parse


positive = at_least(1, "deve ser pelo menos 1")
whole = at_least(0, "não pode ser negativo")


def moment(text: str) -> datetime:
    """An ISO 8601 time typed on the command line, or ``InvalidTime`` saying how to write it."""
    return require_time(text)


def airtable_settings() -> config.AirtableSettings | None:
    """The Airtable base of the environment, then of the secrets file, if any."""
    return config.airtable_settings(config.read_secrets_file())


def open_store(path: Path, *, reading: bool = False) -> CustomerRepository:
    """The repository at ``path`` (``services.source``'s rule): never fills a missing file.

    A mirror that was never synced is refused: its reads would show nothing. A command that
    only reads passes ``reading``: a file it may not write is then opened read-only. One that
    writes checks the file first: nothing is written into a corrupt database.
    """
    if not reading and path.exists():
        require_intact(path)
    found = open_source(path, airtable_settings(), read_only=reading)
    if found.is_mirror and (found.repository.get_meta("source") != "airtable"
                            or not found.repository.stores()):
        raise CliError(f"{path} ainda não é o espelho da base Airtable configurada: rode"
                       " `python -m services sync` primeiro")
    return found.repository


def require_store(store: CustomerRepository, name: str | None) -> str:
    """``name`` when it is a store of the file, else a one-line error listing the stores."""
    known = store.stores()
    return require_stores([name or ""], allowed=known, known=known)[0]


def is_read_only(store: CustomerRepository) -> bool:
    """True for a file opened read-only (``open_store(..., reading=True)`` on a read-only file)."""
    return isinstance(store, ReadOnlyStore)


def cli_user() -> str:
    """Who ran the command, as the export audit names it: ``cli:<login>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name in this environment
        return "cli"


def message(error: BaseException) -> str:
    """An exception as one line of text."""
    if isinstance(error, json.JSONDecodeError):
        return f"JSON inválido ({error.msg}, coluna {error.colno})"
    text = " ".join(str(error).split())
    return text or type(error).__name__
