"""Commands that look after the file: ``sync`` and ``backfill`` (Airtable), ``backup``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from services.cli.common import CliError, airtable_settings
from services.source import open_source
from services.store.maintenance import backup
from services.store.readonly import connect_read_only


def add_commands(commands: argparse._SubParsersAction, shared: argparse.ArgumentParser) -> None:
    """Register ``sync`` and ``backfill``."""
    cmd = commands.add_parser("sync", parents=[shared], help="atualiza o espelho local da base Airtable")
    cmd.add_argument("--full", action="store_true", help="lê a base inteira (não só o que mudou)")
    cmd.set_defaults(run=cmd_sync)

    cmd = commands.add_parser(
        "backfill", parents=[shared],
        help="repara registros legados da base Airtable (interests fora de interests_all)",
        description="Sem --apply só conta o que seria reparado; com --apply grava na base.",
    )
    cmd.add_argument("--apply", action="store_true", help="grava os reparos na base")
    cmd.set_defaults(run=cmd_backfill)

    cmd = commands.add_parser(
        "backup", parents=[shared], help="cópia consistente da base, mesmo com o painel e o sync rodando",
        description="Copia a base inteira (clientes, lojas, produtos, auditoria) de uma vez, pela API de"
        " backup do SQLite, para um arquivo temporário que só vira FILE quando completo.",
    )
    cmd.add_argument("file", type=Path, metavar="FILE", help="o arquivo da cópia")
    cmd.add_argument("--force", action="store_true", help="substitui FILE se ele já existir")
    cmd.set_defaults(run=cmd_backup)


def _require_airtable(command: str) -> None:
    if airtable_settings() is None:
        raise CliError(f"{command}: nenhuma base Airtable configurada (AIRTABLE_API_KEY e AIRTABLE_BASE_ID"
                       " no ambiente ou em .streamlit/secrets.toml [airtable])")


def cmd_sync(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    _require_airtable("sync")
    from services.store.airtable.sync import run_cli

    return run_cli(open_source(args.db, airtable_settings()).repository, full=args.full, stream=err)


def cmd_backfill(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    _require_airtable("backfill")
    from services.store.airtable.backfill import run_cli

    return run_cli(open_source(args.db, airtable_settings()).repository, apply=args.apply, stream=err,
                   out=out)


def cmd_backup(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    written = backup(args.db, args.file, force=args.force)
    copy = connect_read_only(written)
    try:
        customers = copy.execute("SELECT count(*) FROM customers").fetchone()[0]
        stores = copy.execute(
            "SELECT count(*) FROM (SELECT name FROM stores UNION SELECT store FROM customers)"
        ).fetchone()[0]
    finally:
        copy.close()
    print(f"Cópia de {args.db} em {args.file}: {customers} cliente(s), {stores} loja(s)", file=out)
