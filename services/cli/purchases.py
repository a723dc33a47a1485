"""Purchases from the till: ``purchases import FILE [--store S] [--apply]`` (a dry run by default)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from services import purchases
from services.cli.common import CliError, moment, open_store
from services.interests import now_utc
from services.sheets import read_sheet


def add_commands(commands: argparse._SubParsersAction, shared: argparse.ArgumentParser) -> None:
    """Register ``purchases import``."""
    cmd = commands.add_parser("purchases", parents=[shared], help="compras do caixa (import)")
    actions = cmd.add_subparsers(dest="action", required=True, metavar="ACTION")
    load = actions.add_parser(
        "import", parents=[shared],
        help="importa compras de um CSV ou XLSX (telefone, data, produto, valor) para a linha do tempo",
        description="Confere todas as linhas antes (telefone de um cliente da loja, data, valor, produto) e"
        " lista cada linha com problema; grava tudo ou nada, como eventos de compra (origem importação)."
        " Sem --apply é só uma simulação. Uma compra já registrada (mesmo cliente, data, produto e valor)"
        " é ignorada.",
    )
    load.add_argument("file", type=Path, metavar="FILE", help="CSV ou XLSX do caixa")
    load.add_argument("--store", help="loja das linhas sem loja (ou de um arquivo sem a coluna)")
    load.add_argument("--now", help="momento de referência ISO 8601: compras depois dele são recusadas")
    load.add_argument("--apply", action="store_true", help="grava (numa só transação)")
    load.set_defaults(run=cmd_import)


def cmd_import(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    now = moment(args.now) if args.now else now_utc()
    sheet = read_sheet(str(args.file), args.file.read_bytes())
    store = open_store(args.db, reading=not args.apply)
    plan = purchases.check(sheet, store, store.stores(), now, args.store)
    written = plan.ok and args.apply
    if written:
        purchases.apply(store, plan)
    for line in purchases.report_lines(plan, applied=written, database=str(args.db)):
        print(line, file=out)
    if plan.problems:
        raise CliError(f"purchases import: {len(plan.problems)} linha(s) com problema em {args.file}:"
                       " nada foi importado; corrija e rode de novo")
    if not plan.events:
        raise CliError(f"purchases import: {args.file} não tem nenhuma compra nova; nada foi importado")
