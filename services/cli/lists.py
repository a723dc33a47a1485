"""Commands over many customers: ``segment`` (a campaign list) and ``metrics``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from services import exports, metrics, segments, weekly
from services.access import require_stores
from services.audit import CLI, AuditLog, ExportEntry
from services.cli.common import (
    USAGE,
    CliError,
    cli_user,
    is_read_only,
    message,
    moment,
    open_store,
    require_store,
    whole,
)
from services.frame import CustomerData, build
from services.interests import now_utc
from services.messages import Templates
from services.outputs import check_output, write_output
from services.store.base import CustomerRepository

FORMATS = ("json", "csv", "xlsx")


def add_commands(commands: argparse._SubParsersAction, shared: argparse.ArgumentParser) -> None:
    """Register ``segment`` and ``metrics``."""
    cmd = commands.add_parser(
        "segment", parents=[shared], help="lista de campanha de um segmento (JSON, CSV ou XLSX)",
        description="Monta a lista de campanha (SPEC §5). Com --preset, as opções dadas mudam só"
        " o que o modelo define; sem --preset, o padrão é escopo 'all' e silêncio de 7 dias.",
    )
    add_segment_options(cmd)
    cmd.add_argument("--format", choices=FORMATS,
                     help="json (padrão), csv ou xlsx (padrão: pela extensão de --output)")
    cmd.add_argument("--output", type=Path, metavar="FILE", help="grava no arquivo (xlsx exige)")
    cmd.set_defaults(run=cmd_segment)

    cmd = commands.add_parser("metrics", parents=[shared],
                              help="cobertura, recência e profundidade em JSON (total e por loja)")
    scope = cmd.add_mutually_exclusive_group()
    scope.add_argument("--store", help="uma loja (padrão: todas)")
    scope.add_argument("--all-stores", action="store_true", help="todas as lojas (o padrão, explícito)")
    cmd.add_argument("--now", help="momento de referência ISO 8601 (padrão: agora)")
    cmd.set_defaults(run=cmd_metrics)


def add_segment_options(cmd: argparse.ArgumentParser) -> None:
    """The options that describe a segment (``segment`` and ``campaign save`` share them)."""
    scope = cmd.add_mutually_exclusive_group(required=True)
    scope.add_argument("--store", action="append", help="loja (tenant); repita para várias")
    scope.add_argument("--all-stores", action="store_true", help="todas as lojas (escolha explícita)")
    cmd.add_argument("--term", action="append", default=[], metavar="T",
                     help="produto, linha, marca ou categoria (repita para vários: qualquer um)")
    cmd.add_argument("--scope", choices=segments.SCOPES, help="recent (interests) ou all (histórico)")
    cmd.add_argument("--quiet-days", type=whole, help="deixa de fora quem conversou nos últimos N dias")
    cmd.add_argument("--inactive-days", type=whole, help="só quem não conversa há N dias ou mais")
    cmd.add_argument("--min-depth", type=whole, help="profundidade mínima (itens de interests_all)")
    cmd.add_argument("--max-depth", type=whole, help="profundidade máxima")
    cmd.add_argument("--preset", choices=sorted(segments.PRESETS), help="campanha pronta")
    cmd.add_argument("--now", help="momento de referência ISO 8601 (padrão: agora)")


def segment_of(args: argparse.Namespace, command: str) -> tuple[segments.Segment, Templates | None]:
    """The segment (stores not yet set) and the preset's messages the options describe.

    With ``--preset``, the options given change only what the preset defines.
    """
    changes = {
        name: value
        for name in ("scope", "quiet_days", "inactive_days", "min_depth", "max_depth")
        if (value := getattr(args, name)) is not None
    }
    if not args.preset:
        return segments.Segment(terms=tuple(args.term), **changes), None
    preset = segments.PRESETS[args.preset]
    if preset.needs_terms and not args.term:
        raise CliError(f"{command}: --preset {args.preset} precisa de pelo menos um --term", USAGE)
    return preset.segment_for(args.term, **changes), preset.templates


def stores_of(store: CustomerRepository, args: argparse.Namespace) -> list[str]:
    """The stores of ``--store`` (repeatable) or ``--all-stores``: the scope is always explicit."""
    known = store.stores()
    return list(require_stores(known if args.all_stores else args.store, allowed=known, known=known))


def load(store: CustomerRepository, stores: Sequence[str]) -> CustomerData:
    """The customer frame of ``stores``, as the dashboard builds it."""
    return build(store.raw_customers(stores), store.catalog())


def cmd_segment(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    fmt = _format(args)
    now = moment(args.now) if args.now else now_utc()
    segment, templates = segment_of(args, "segment")
    if args.output is not None:
        check_output(args.output, reads=[args.db])  # before any work: the database is never the output
    store = open_store(args.db, reading=True)
    names = stores_of(store, args)
    segment = dataclasses.replace(segment, stores=tuple(names))
    campaign = segments.build_list(load(store, names), segment, now, templates)
    if fmt == "json":
        body = json.dumps(exports.segment_to_json(campaign), ensure_ascii=False, indent=2) + "\n"
        data = body.encode("utf-8")
    else:
        data = exports.to_csv(campaign) if fmt == "csv" else exports.to_xlsx(campaign)
    if args.output is None:
        out.write(data.decode("utf-8"))
    else:
        write_output(args.output, data, reads=[args.db])
    audit(store, err, ExportEntry(
        at=now_utc(), who=cli_user(), stores=tuple(names), segment=segment,
        rows=campaign.total, format=fmt, channel=CLI,
        filename=str(args.output) if args.output is not None else "(saída padrão)",
    ))
    if args.output is None:
        return
    counts = campaign.counts
    left_out = ", ".join(f"{reason} {n}" for reason, n in campaign.excluded.items() if n) or "nenhum"
    print(f"{campaign.total} cliente(s) (principal {counts.get(segments.PRIMARY, 0)}, secundário"
          f" {counts.get(segments.SECONDARY, 0)}) em {args.output}; fora da lista: {left_out}", file=out)


def audit(store: CustomerRepository, err: TextIO, entry: ExportEntry) -> None:
    """Add ``entry`` to the audit log; a read-only file says out loud that it could not."""
    try:
        AuditLog(store.path).append(entry)
    except sqlite3.Error as error:
        if not is_read_only(store):
            raise
        # A read-only file still serves its lists; the missing audit entry is said out loud.
        print(f"aviso: esta exportação NÃO foi registrada na auditoria: a base {store.path} é somente"
              f" leitura ({message(error)})", file=err)


def _format(args: argparse.Namespace) -> str:
    if args.format:
        fmt = args.format
    elif args.output is not None and args.output.suffix.lower().lstrip(".") in FORMATS:
        fmt = args.output.suffix.lower().lstrip(".")
    else:
        fmt = "json"
    if fmt == "xlsx" and args.output is None:
        raise CliError("segment: --format xlsx precisa de --output FILE", USAGE)
    return fmt


def cmd_metrics(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    now = moment(args.now) if args.now else now_utc()
    store = open_store(args.db, reading=True)
    stores = [require_store(store, args.store)] if args.store is not None else store.stores()
    data = load(store, stores)
    report = metrics.compute(data, now)
    body = metrics.to_json(report)
    history = weekly.weekly_metrics(data, store.events.frame(stores), now, first_sync=store.events.since())
    body["weekly"] = weekly.weekly_json(history)
    for name, section in body["stores"].items():
        section["weekly"] = weekly.weekly_json(history, name)
    print(json.dumps(body, ensure_ascii=False, indent=2), file=out)
