"""The command line: ``python -m services demo|record|customer|segment|metrics|store|import|sync|...``.

Reads come from the SQLite file (the demo, or the mirror of the Airtable base when one is
configured); with Airtable, ``record`` writes through the base, so a sync never loses it.
Each module of this package registers its commands; ``main`` runs one and turns every
expected fault into one line on stderr.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from services import config
from services.cli import admin, campaigns, lists, local, purchases, records
from services.cli.common import DATA, USAGE, CliError, Parser, message
from services.interests import InvalidBatch, InvalidPhone
from services.outputs import check_stream
from services.segments import InvalidSegment
from services.store.base import StoreError

DB_HELP = "arquivo SQLite (padrão: $VITRINE_DB ou data/vitrine.db)"


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m services``.

    ``--db`` is accepted before or after the command; after it, it wins.
    """
    root = Parser(
        prog="python -m services",
        description="Vitrine na linha de comando: base de demonstração, registro de interesses, clientes.",
    )
    root.add_argument("--db", type=Path, default=None, help=DB_HELP)
    # SUPPRESS: a command's own --db sets the value only when given, so one before it stands.
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--db", type=Path, default=argparse.SUPPRESS, help=DB_HELP)
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    for module in (records, lists, campaigns, purchases, local, admin):
        module.add_commands(commands, shared)
    return root


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command line; returns the exit code (0, 1 for bad data, 2 for bad usage).

    Example: ``main(["--db", "/tmp/v.db", "demo", "--customers", "500"])`` prints one summary line.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    db: Path | None = None
    # A token must never reach the screen or a log, whatever an error quotes (SPEC §10).
    secrets = config.configured_secrets(config.read_secrets_file())
    config.install_redaction(secrets)

    def say(text: str) -> None:
        print(config.redact(text, secrets), file=err)

    try:
        args = parser().parse_args(argv)
        args.db = db = args.db or config.db_path()
        check_stream(out, reads=[db])
        code = args.run(args, out, err)
    except CliError as error:
        say(f"erro: {error}")
        return error.code
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as Python's docs advise.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return DATA
    except sqlite3.Error as error:
        if (getattr(error, "sqlite_errorname", "") or "").startswith("SQLITE_READONLY"):
            say(f"erro: a base {db} é somente leitura (o arquivo ou a pasta dele): nada foi gravado"
                " (os comandos de leitura funcionam)")
        else:
            say(f"erro: não foi possível usar a base {db}: {message(error)}")
        return DATA
    except (InvalidBatch, InvalidPhone, InvalidSegment, StoreError, ValueError, OSError) as error:
        say(f"erro: {message(error)}")
        return DATA
    except KeyboardInterrupt:
        print("erro: interrompido", file=err)
        return 130
    return code or 0


__all__ = ["DATA", "USAGE", "CliError", "main", "parser"]
