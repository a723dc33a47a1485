"""Commands on single customers: ``demo``, ``record`` (one event or a JSONL log), ``customer``,
``visit`` and ``purchase``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import TextIO

from services.cli.common import USAGE, CliError, message, moment, open_store, positive, require_store
from services.interests import iso, now_utc
from services.recording import record_interest, record_purchase, record_visit
from services.store.base import CustomerRepository, StoreError
from services.store.sqlite import SqliteStore
from services.timeline import Event


def add_commands(commands: argparse._SubParsersAction, shared: argparse.ArgumentParser) -> None:
    """Register ``demo``, ``record`` and ``customer``."""
    cmd = commands.add_parser("demo", parents=[shared], help="(re)cria a base de demonstração")
    cmd.add_argument("--customers", type=positive, default=6000, help="número de clientes (padrão 6000)")
    cmd.add_argument("--seed", type=int, default=7, help="semente (mesma semente, mesmos dados)")
    cmd.add_argument("--now", help="momento de referência ISO 8601 (padrão: agora)")
    cmd.set_defaults(run=cmd_demo)

    cmd = commands.add_parser(
        "record", parents=[shared],
        help="registra produtos de uma conversa (regra de registro) e imprime o cliente",
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
    cmd.set_defaults(run=cmd_record)

    cmd = commands.add_parser("customer", parents=[shared],
                              help="imprime um cliente em JSON, com a linha do tempo")
    cmd.add_argument("--store", required=True, help="loja (tenant)")
    cmd.add_argument("--phone", required=True, help="telefone, com ou sem o nono dígito")
    cmd.set_defaults(run=cmd_customer)

    cmd = commands.add_parser("visit", parents=[shared], help="registra uma visita à loja na linha do tempo")
    cmd.add_argument("--store", required=True, help="loja (tenant)")
    cmd.add_argument("--phone", required=True, help="telefone do cliente, em qualquer formato")
    cmd.add_argument("--at", help="momento da visita, ISO 8601 (padrão: agora)")
    cmd.set_defaults(run=cmd_visit)

    cmd = commands.add_parser("purchase", parents=[shared], help="registra uma compra na linha do tempo")
    cmd.add_argument("--store", required=True, help="loja (tenant)")
    cmd.add_argument("--phone", required=True, help="telefone do cliente, em qualquer formato")
    cmd.add_argument("--product", required=True, help="produto comprado")
    cmd.add_argument("--value", required=True, type=float, help="valor em R$ (ex. 58900 ou 58900.50)")
    cmd.add_argument("--at", help="momento da compra, ISO 8601 (padrão: agora)")
    cmd.set_defaults(run=cmd_purchase)


def cmd_demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    now = moment(args.now) if args.now else now_utc()
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
        _record_jsonl(args, out)
        return
    if not args.store or not args.phone or not args.products:
        raise CliError("record: informe --store, --phone e pelo menos um PRODUCT, ou --jsonl FILE"
                       " (veja --help)", USAGE)
    at = moment(args.at) if args.at else now_utc()
    store = open_store(args.db)
    customer = record_interest(store, store.stores(), args.store, args.phone, args.products, at, args.name)
    print(json.dumps(customer.as_json(), ensure_ascii=False), file=out)


def _event(line: str) -> tuple[str, str, list[str], datetime, str | None]:
    try:
        event = json.loads(line)
    except RecursionError:  # `[[[[…` nested deeper than Python's stack
        raise ValueError("JSON inválido (aninhamento profundo demais)") from None
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
    return store, phone, products, moment(at), name


def _record_jsonl(args: argparse.Namespace, out: TextIO) -> None:
    # Stops at the first bad line: a conversation log is ordered, so applying later
    # events without an earlier one would leave `interests` in the wrong order.
    # Read as bytes: a line that is not UTF-8 is reported with its number, like any bad line.
    if args.jsonl == "-":
        handle = getattr(sys.stdin, "buffer", sys.stdin)
    else:
        handle = open(args.jsonl, "rb")
    with handle:
        _replay(args, handle, open_store(args.db), out)


def _text(line: bytes | str, number: int) -> str:
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
    except UnicodeDecodeError as error:
        raise ValueError(f"a linha não é texto UTF-8 (byte {error.object[error.start]:#04x} na posição"
                         f" {error.start + 1})") from None
    return text.removeprefix("\ufeff") if number == 1 else text  # a byte-order mark (Windows editors)


def _replay(args: argparse.Namespace, lines: Iterable[bytes | str], store: CustomerRepository,
            out: TextIO) -> None:
    saved = 0
    for number, raw in enumerate(lines, start=1):
        try:
            line = _text(raw, number)
            if not line.strip():
                continue
            shop, phone, products, at, name = _event(line)
            customer = record_interest(store, store.stores(), shop, phone, products, at, name)
        except (ValueError, StoreError) as error:
            raise CliError(
                f"{args.jsonl}, linha {number}: {message(error)} ({saved} evento(s) anterior(es)"
                f" salvo(s); corrija e retome a partir da linha {number})"
            ) from error
        print(json.dumps(customer.as_json(), ensure_ascii=False), file=out, flush=True)
        saved += 1


def cmd_customer(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    store = open_store(args.db, reading=True)
    found = store.find(require_store(store, args.store), args.phone)
    if found is None:
        raise CliError(f"Cliente não encontrado: {args.phone} na loja {args.store}")
    body = found.as_json()
    body["timeline"] = [event_json(event) for event in store.events.for_customer(found.id)]
    print(json.dumps(body, ensure_ascii=False), file=out)


def event_json(event: Event) -> dict[str, object]:
    """One event as the CLI prints it: ``{"at", "source", "kind", "products", "value_brl"}``."""
    return {"at": iso(event.at), "source": event.source, "kind": event.kind,
            "products": list(event.products), "value_brl": event.value_brl}


def cmd_visit(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    at = moment(args.at) if args.at else now_utc()
    store = open_store(args.db)
    event = record_visit(store, store.stores(), args.store, args.phone, at)
    print(json.dumps(event_json(event), ensure_ascii=False), file=out)


def cmd_purchase(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    at = moment(args.at) if args.at else now_utc()
    store = open_store(args.db)
    event = record_purchase(store, store.stores(), args.store, args.phone, args.product, args.value, at)
    print(json.dumps(event_json(event), ensure_ascii=False), file=out)
