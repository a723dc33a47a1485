"""Real data without Airtable (SPEC §8): ``store add|list`` and ``import`` of a Customers export."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TextIO

from services import importer
from services.cli.common import USAGE, CliError, airtable_settings, open_store
from services.interests import now_utc, product_key
from services.sheets import read_sheet
from services.store.maintenance import require_intact
from services.store.sqlite import MIRROR_WITHOUT_SETTINGS, SqliteStore

LOCAL = "local"
MAX_NAME = 100
WITH_AIRTABLE = ("com uma base Airtable configurada, ela é a fonte dos dados: {what} no Airtable e rode"
                 " `python -m services sync`; nada foi gravado")


def add_commands(commands: argparse._SubParsersAction, shared: argparse.ArgumentParser) -> None:
    """Register ``store add``, ``store list`` and ``import``."""
    cmd = commands.add_parser("store", parents=[shared], help="lojas de uma base sem Airtable (add, list)")
    actions = cmd.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", parents=[shared],
                             help="cria a loja (e a base, vazia, se o arquivo não existir)")
    add.add_argument("name", metavar="NAME", help="nome da loja")
    add.set_defaults(run=cmd_store_add)
    listing = actions.add_parser("list", parents=[shared], help='as lojas da base, em JSON {"stores": [...]}')
    listing.set_defaults(run=cmd_store_list)

    cmd = commands.add_parser(
        "import", parents=[shared],
        help="importa clientes de um CSV ou XLSX (exportação da tabela Customers)",
        description="Confere todas as linhas antes (telefone, loja, datas, telefone repetido) e lista cada"
        " linha com problema; grava tudo ou nada. Sem --apply é só uma simulação. Um telefone que já"
        " está na loja é mesclado: os históricos se unem, nada se perde.",
    )
    cmd.add_argument("file", type=Path, metavar="FILE", help="CSV (o do Airtable serve) ou XLSX")
    cmd.add_argument("--store", help="loja das linhas sem loja (ou de um arquivo sem a coluna)")
    cmd.add_argument("--apply", action="store_true", help="grava (numa só transação)")
    cmd.set_defaults(run=cmd_import)


def cmd_store_add(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    if airtable_settings() is not None:
        raise CliError("store add: " + WITH_AIRTABLE.format(what="crie a loja na tabela Tenants"))
    name = " ".join(args.name.split())
    if not name or len(name) > MAX_NAME:
        raise CliError(f"store add: o nome da loja deve ter de 1 a {MAX_NAME} caracteres", USAGE)
    if args.db.exists():
        require_intact(args.db)
    store = SqliteStore(args.db)
    if store.get_meta("source") == "airtable":
        raise CliError(MIRROR_WITHOUT_SETTINGS)
    known = store.stores()
    if name in known:
        print(f"A loja {name!r} já existe em {args.db} ({len(known)} loja(s)).", file=out)
        return
    same = [shop for shop in known if product_key(shop) == product_key(name)]
    if same:
        raise CliError(f"store add: já existe a loja {same[0]!r} (o mesmo nome, sem acentos e maiúsculas);"
                       " use esse nome")
    with store.connect() as db:
        db.execute("INSERT INTO stores VALUES (?, NULL)", (name,))
        db.execute("INSERT OR IGNORE INTO meta VALUES ('source', ?)", (LOCAL,))
    print(f"Loja {name!r} criada em {args.db} ({len(known) + 1} loja(s)).", file=out)


def cmd_store_list(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    store = open_store(args.db, reading=True)
    print(json.dumps({"stores": store.stores()}, ensure_ascii=False), file=out)


def cmd_import(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    if airtable_settings() is not None:
        raise CliError("import: " + WITH_AIRTABLE.format(what="importe os clientes"))
    sheet = read_sheet(str(args.file), args.file.read_bytes())
    store = open_store(args.db, reading=not args.apply)
    if not isinstance(store, SqliteStore) or store.get_meta("source") == "airtable":
        raise CliError(MIRROR_WITHOUT_SETTINGS)
    plan = importer.check(sheet, store.stores(), args.store)
    if plan.ok and args.apply:
        report = importer.apply(store, plan, now_utc())
    else:
        report = importer.dry_run(store, plan)
    for line in importer.report_lines(report, str(args.db)):
        print(line, file=out)
    if plan.problems:
        raise CliError(f"import: {len(plan.problems)} linha(s) com problema em {args.file}: nada foi"
                       " importado; corrija e rode de novo")
    if not plan.customers:
        raise CliError(f"import: {args.file} não tem nenhuma linha de cliente; nada foi importado")
