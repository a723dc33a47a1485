"""The command line: ``python -m services demo|record|customer|segment|metrics|sync|backfill ...``.

Reads come from the SQLite file (the demo, or the mirror of the Airtable base when one is
configured); with Airtable, ``record`` writes through the base, so a sync never loses it.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import os
import sqlite3
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import NoReturn, TextIO

from services import config, exports, metrics, segments
from services.access import require_stores
from services.audit import CLI, AuditLog, ExportEntry
from services.frame import CustomerData, build
from services.interests import InvalidBatch, InvalidPhone, now_utc, require_time
from services.recording import record_interest
from services.segments import InvalidSegment
from services.source import open_source
from services.store.base import CustomerRepository, StoreError
from services.store.sqlite import SqliteStore

USAGE = 2
DATA = 1
FORMATS = ("json", "csv", "xlsx")


class CliError(Exception):
    """A one-line message for stderr, and the exit code."""

    def __init__(self, message: str, code: int = DATA) -> None:
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error on one line instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{self.prog}: {message} (veja --help)", USAGE)


# --- arguments -----------------------------------------------------------------


def _at_least(minimum: int, refusal: str):
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


_positive = _at_least(1, "deve ser pelo menos 1")
_whole = _at_least(0, "não pode ser negativo")


def _moment(text: str) -> datetime:
    return require_time(text)


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m services``."""
    root = _Parser(
        prog="python -m services",
        description="Vitrine na linha de comando: base de demonstração, registro de interesses, clientes.",
    )
    root.add_argument("--db", type=Path, default=None,
                      help="arquivo SQLite (padrão: $VITRINE_DB ou data/vitrine.db)")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    cmd = commands.add_parser("demo", help="(re)cria a base de demonstração")
    cmd.add_argument("--customers", type=_positive, default=6000, help="número de clientes (padrão 6000)")
    cmd.add_argument("--seed", type=int, default=7, help="semente (mesma semente, mesmos dados)")
    cmd.add_argument("--now", help="momento de referência ISO 8601 (padrão: agora)")

    cmd = commands.add_parser(
        "record", help="registra produtos de uma conversa (regra de registro) e imprime o cliente",
        description="Aplica a regra de registro a um evento (ou a cada linha de --jsonl). Com --jsonl,"
        " a primeira linha inválida interrompe: os eventos anteriores ficam salvos e a mensagem"
        " diz a linha de onde retomar.",
    )
    cmd.add_argument("--store", help="loja (tenant)")
    cmd.add_argument("--phone", help="telefone WhatsApp, em qualquer formato")
    cmd.add_argument("--name", help="nome do cliente")
    cmd.add_argument("--at", help="momento do evento, ISO 8601 (padrão: agora)")
    cmd.add_argument("--jsonl", metavar="FILE",
                     help='um evento por linha: {"store", "phone", "name"?, "products": [...], "at"}'
                          " ('-' lê da entrada padrão)")
    cmd.add_argument("products", nargs="*", metavar="PRODUCT", help="produtos, na ordem do assistente")

    cmd = commands.add_parser("sync", help="atualiza o espelho local da base Airtable")
    cmd.add_argument("--full", action="store_true", help="lê a base inteira (não só o que mudou)")

    cmd = commands.add_parser(
        "backfill", help="repara registros legados da base Airtable (interests fora de interests_all)",
        description="Sem --apply só conta o que seria reparado; com --apply grava na base.",
    )
    cmd.add_argument("--apply", action="store_true", help="grava os reparos na base")

    cmd = commands.add_parser("customer", help="imprime um cliente em JSON")
    cmd.add_argument("--store", required=True, help="loja (tenant)")
    cmd.add_argument("--phone", required=True, help="telefone, com ou sem o nono dígito")

    cmd = commands.add_parser(
        "segment", help="lista de campanha de um segmento (JSON, CSV ou XLSX)",
        description="Monta a lista de campanha (SPEC §5). Com --preset, as opções dadas mudam só"
        " o que o modelo define; sem --preset, o padrão é escopo 'all' e silêncio de 7 dias.",
    )
    scope = cmd.add_mutually_exclusive_group(required=True)
    scope.add_argument("--store", action="append", help="loja (tenant); repita para várias")
    scope.add_argument("--all-stores", action="store_true", help="todas as lojas (escolha explícita)")
    cmd.add_argument("--term", action="append", default=[], metavar="T",
                     help="produto, linha, marca ou categoria (repita para vários: qualquer um)")
    cmd.add_argument("--scope", choices=segments.SCOPES, help="recent (interests) ou all (histórico)")
    cmd.add_argument("--quiet-days", type=_whole, help="deixa de fora quem conversou nos últimos N dias")
    cmd.add_argument("--inactive-days", type=_whole, help="só quem não conversa há N dias ou mais")
    cmd.add_argument("--min-depth", type=_whole, help="profundidade mínima (itens de interests_all)")
    cmd.add_argument("--max-depth", type=_whole, help="profundidade máxima")
    cmd.add_argument("--preset", choices=sorted(segments.PRESETS), help="campanha pronta")
    cmd.add_argument("--now", help="momento de referência ISO 8601 (padrão: agora)")
    cmd.add_argument("--format", choices=FORMATS,
                     help="json (padrão), csv ou xlsx (padrão: pela extensão de --output)")
    cmd.add_argument("--output", type=Path, metavar="FILE", help="grava no arquivo (xlsx exige)")

    cmd = commands.add_parser("metrics", help="cobertura, recência e profundidade em JSON (total e por loja)")
    scope = cmd.add_mutually_exclusive_group()
    scope.add_argument("--store", help="uma loja (padrão: todas)")
    scope.add_argument("--all-stores", action="store_true", help="todas as lojas (o padrão, explícito)")
    cmd.add_argument("--now", help="momento de referência ISO 8601 (padrão: agora)")
    return root


# --- commands --------------------------------------------------------------------


def airtable_settings() -> config.AirtableSettings | None:
    """The Airtable base of the environment, then of the secrets file, if any."""
    return config.airtable_settings(config.read_secrets_file())


def open_store(path: Path) -> CustomerRepository:
    """The repository at ``path`` (``services.source``'s rule): never fills a missing file.

    A mirror that was never synced is refused: its reads would show nothing.
    """
    found = open_source(path, airtable_settings())
    if found.is_mirror and (found.repository.get_meta("source") != "airtable"
                            or not found.repository.stores()):
        raise CliError(f"{path} ainda não é o espelho da base Airtable configurada: rode"
                       " `python -m services sync` primeiro")
    return found.repository


def require_store(store: CustomerRepository, name: str | None) -> str:
    """``name`` when it is a store of the file, else a one-line error listing the stores."""
    known = store.stores()
    return require_stores([name or ""], allowed=known, known=known)[0]


def cmd_demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    now = _moment(args.now) if args.now else now_utc()
    store = SqliteStore(args.db)
    if store.get_meta("source") not in (None, "demo"):
        raise CliError(f"{args.db} é o espelho de uma base Airtable: use outro --db para a demonstração.")
    from services import demo

    summary = demo.generate(store, args.customers, args.seed, now=now)
    print(summary.line(), file=out)


def cmd_record(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    if args.jsonl is not None:
        if args.products or args.phone or args.store or args.name or args.at:
            raise CliError("record: use --jsonl sozinho, ou --store/--phone com PRODUCT... (veja --help)",
                           USAGE)
        _record_jsonl(args, out, err)
        return
    if not args.store or not args.phone or not args.products:
        raise CliError("record: informe --store, --phone e pelo menos um PRODUCT, ou --jsonl FILE"
                       " (veja --help)", USAGE)
    at = _moment(args.at) if args.at else now_utc()
    store = open_store(args.db)
    customer = record_interest(store, store.stores(), args.store, args.phone, args.products, at, args.name)
    print(json.dumps(customer.as_json(), ensure_ascii=False), file=out)


def _event(line: str) -> tuple[str, str, list[str], datetime, str | None]:
    event = json.loads(line)
    if not isinstance(event, dict):
        raise ValueError("esperado um objeto JSON")
    store, phone, products, at = (event.get(k) for k in ("store", "phone", "products", "at"))
    name = event.get("name")
    if not isinstance(store, str) or not isinstance(phone, str):
        raise ValueError('"store" e "phone" são obrigatórios (texto)')
    if not isinstance(products, list) or not all(isinstance(p, str) for p in products):
        raise ValueError('"products" deve ser uma lista de textos')
    if not isinstance(at, str):
        raise ValueError('"at" é obrigatório (ISO 8601)')
    if name is not None and not isinstance(name, str):
        raise ValueError('"name" deve ser texto')
    return store, phone, products, _moment(at), name


def _record_jsonl(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    # Stops at the first bad line: a conversation log is ordered, so applying later
    # events without an earlier one would leave `interests` in the wrong order.
    handle = sys.stdin if args.jsonl == "-" else open(args.jsonl, encoding="utf-8")
    with handle:
        _replay(args, handle, open_store(args.db), out)


def _replay(args: argparse.Namespace, handle: TextIO, store: CustomerRepository, out: TextIO) -> None:
    saved = 0
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            shop, phone, products, at, name = _event(line)
            customer = record_interest(store, store.stores(), shop, phone, products, at, name)
        except (ValueError, StoreError) as error:
            raise CliError(
                f"{args.jsonl}, linha {number}: {_message(error)} ({saved} evento(s) anterior(es)"
                f" salvo(s); corrija e retome a partir da linha {number})"
            ) from error
        print(json.dumps(customer.as_json(), ensure_ascii=False), file=out, flush=True)
        saved += 1


def cmd_sync(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if airtable_settings() is None:
        raise CliError("sync: nenhuma base Airtable configurada (AIRTABLE_API_KEY e AIRTABLE_BASE_ID no"
                       " ambiente ou em .streamlit/secrets.toml [airtable])")
    from services.store.airtable.sync import run_cli

    return run_cli(open_source(args.db, airtable_settings()).repository, full=args.full, stream=err)


def cmd_backfill(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if airtable_settings() is None:
        raise CliError("backfill: nenhuma base Airtable configurada (AIRTABLE_API_KEY e AIRTABLE_BASE_ID"
                       " no ambiente ou em .streamlit/secrets.toml [airtable])")
    from services.store.airtable.backfill import run_cli

    return run_cli(open_source(args.db, airtable_settings()).repository, apply=args.apply, stream=err,
                   out=out)


def cmd_customer(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    store = open_store(args.db)
    found = store.find(require_store(store, args.store), args.phone)
    if found is None:
        raise CliError(f"Cliente não encontrado: {args.phone} na loja {args.store}")
    print(json.dumps(found.as_json(), ensure_ascii=False), file=out)


def load(store: CustomerRepository, stores: Sequence[str]) -> CustomerData:
    """The customer frame of ``stores``, as the dashboard builds it."""
    return build(store.raw_customers(stores), store.catalog())


def cmd_segment(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    fmt = _format(args)
    now = _moment(args.now) if args.now else now_utc()
    changes = {
        name: value
        for name in ("scope", "quiet_days", "inactive_days", "min_depth", "max_depth")
        if (value := getattr(args, name)) is not None
    }
    templates = None
    if args.preset:
        preset = segments.PRESETS[args.preset]
        if preset.needs_terms and not args.term:
            raise CliError(f"segment: --preset {args.preset} precisa de pelo menos um --term", USAGE)
        segment = preset.segment_for(args.term, **changes)
        templates = preset.templates
    else:
        segment = segments.Segment(terms=tuple(args.term), **changes)
    store = open_store(args.db)
    # The scope is explicit (--store, repeatable, or --all-stores), and recorded in the audit.
    known = store.stores()
    names = list(require_stores(known if args.all_stores else args.store, allowed=known, known=known))
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
        args.output.write_bytes(data)
    AuditLog(store.path).append(ExportEntry(
        at=now_utc(), who=_cli_user(), stores=tuple(names), segment=segment,
        rows=campaign.total, format=fmt, channel=CLI,
        filename=str(args.output) if args.output is not None else "(saída padrão)",
    ))
    if args.output is None:
        return
    counts = campaign.counts
    left_out = ", ".join(f"{reason} {n}" for reason, n in campaign.excluded.items() if n) or "nenhum"
    print(f"{campaign.total} cliente(s) (principal {counts.get(segments.PRIMARY, 0)}, secundário"
          f" {counts.get(segments.SECONDARY, 0)}) em {args.output}; fora da lista: {left_out}", file=out)


def _cli_user() -> str:
    """Who ran the command, as the export audit names it: ``cli:<login>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name in this environment
        return "cli"


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
    now = _moment(args.now) if args.now else now_utc()
    store = open_store(args.db)
    stores = [require_store(store, args.store)] if args.store is not None else store.stores()
    report = metrics.compute(load(store, stores), now)
    print(json.dumps(metrics.to_json(report), ensure_ascii=False, indent=2), file=out)


COMMANDS = {
    "demo": cmd_demo, "record": cmd_record, "customer": cmd_customer,
    "segment": cmd_segment, "metrics": cmd_metrics, "sync": cmd_sync,
    "backfill": cmd_backfill,
}


def _message(error: BaseException) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"JSON inválido ({error.msg}, coluna {error.colno})"
    text = " ".join(str(error).split())
    return text or type(error).__name__


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

    def say(message: str) -> None:
        print(config.redact(message, secrets), file=err)

    try:
        args = parser().parse_args(argv)
        args.db = db = args.db or config.db_path()
        code = COMMANDS[args.command](args, out, err)
    except CliError as error:
        say(f"erro: {error}")
        return error.code
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as Python's docs advise.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return DATA
    except sqlite3.Error as error:
        say(f"erro: não foi possível usar a base {db}: {_message(error)}")
        return DATA
    except (InvalidBatch, InvalidPhone, InvalidSegment, StoreError, ValueError, OSError) as error:
        say(f"erro: {_message(error)}")
        return DATA
    except KeyboardInterrupt:
        print("erro: interrompido", file=err)
        return 130
    return code or 0


if __name__ == "__main__":
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8")
    sys.exit(main())
