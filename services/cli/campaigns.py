"""Saved campaigns on the command line (SPEC §12): ``campaign save|list|show|results|export``."""

from __future__ import annotations

import argparse
import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import pandas as pd

from services import campaign_lists, config, exports, segments
from services.audit import CLI, ExportEntry
from services.campaign_results import DEFAULT_WINDOW_DAYS, campaign_results_json, outcomes
from services.campaigns import DEFAULT_CONTROL_SHARE, MAX_CONTROL_SHARE, Campaign
from services.cli.common import USAGE, CliError, cli_user, is_read_only, moment, open_store, positive, whole
from services.cli.lists import add_segment_options, audit, load, segment_of, stores_of
from services.interests import now_utc
from services.links import ProductLinks
from services.outputs import check_output, write_output
from services.store.base import CustomerRepository
from services.store.campaigns import CampaignStore

FORMATS = ("csv", "xlsx")


def share(text: str) -> float:
    """An argparse type: the control group's share, ``0.1`` or ``10%``, from 0 to 0.5."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"não é uma fração: {text!r} (ex.: 0.1 ou 10%)") from None
    if not 0 <= value <= MAX_CONTROL_SHARE:
        raise argparse.ArgumentTypeError(f"o grupo de controle deve ficar entre 0 e 0.5 (50%): {text}")
    return value


def add_commands(commands: argparse._SubParsersAction, shared: argparse.ArgumentParser) -> None:
    """Register ``campaign`` and its actions."""
    cmd = commands.add_parser("campaign", parents=[shared],
                              help="campanhas salvas: save, list, show, results, export")
    actions = cmd.add_subparsers(dest="action", required=True, metavar="ACTION")

    save = actions.add_parser(
        "save", parents=[shared], help="salva a lista de um segmento como campanha (com grupo de controle)",
        description="Monta a lista como `segment` e a congela: nível, produtos, mensagem e grupo (envio ou"
        " controle) de cada cliente. O controle é sorteado em cada nível com a semente da campanha.",
    )
    add_segment_options(save)
    save.add_argument("--name", required=True, help="nome da campanha")
    save.add_argument("--control", type=share, default=DEFAULT_CONTROL_SHARE,
                      help="fração de cada nível que não recebe nada (0 a 0.5; padrão 0.1)")
    save.add_argument("--seed", type=whole, help="semente do sorteio do controle (padrão: sorteada)")
    save.add_argument("--at", help="quando a lista foi enviada, ISO 8601 (padrão: ao exportar)")
    save.set_defaults(run=cmd_save)

    listing = actions.add_parser("list", parents=[shared], help="as campanhas salvas, em JSON")
    listing.set_defaults(run=cmd_list)

    show = actions.add_parser("show", parents=[shared], help="uma campanha e seus clientes (nível e grupo)")
    show.add_argument("id", type=positive, metavar="ID")
    show.set_defaults(run=cmd_show)

    results = actions.add_parser(
        "results", parents=[shared], help="resultados por nível e grupo, em JSON",
        description="Conta, em cada nível e grupo, quem respondeu, perguntou, visitou e comprou na janela"
        " depois do envio (cada evento vale para a última campanha recebida antes dele).",
    )
    results.add_argument("id", type=positive, metavar="ID")
    results.add_argument("--window", type=positive, default=DEFAULT_WINDOW_DAYS,
                         help=f"dias depois do envio (padrão {DEFAULT_WINDOW_DAYS})")
    results.add_argument("--now", help="momento de referência ISO 8601 (padrão: agora)")
    results.set_defaults(run=cmd_results)

    export = actions.add_parser(
        "export", parents=[shared], help="grava a lista de envio (sem o controle) em CSV ou XLSX",
        description="Só o grupo de envio. Sem data de envio, a campanha passa a ter a data de agora.",
    )
    export.add_argument("id", type=positive, metavar="ID")
    export.add_argument("--output", type=Path, required=True, metavar="FILE",
                        help="o arquivo (.csv ou .xlsx)")
    export.add_argument("--format", choices=FORMATS, help="csv ou xlsx (padrão: pela extensão)")
    export.set_defaults(run=cmd_export)


def iso(moment_: datetime | None) -> str | None:
    """A campaign's time as the JSON shows it (UTC, with its offset), as ``campaign_results_json``."""
    if moment_ is None:
        return None
    return (moment_ if moment_.tzinfo else moment_.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def links_for(store: CustomerRepository, name: str) -> ProductLinks:
    """What ``{link}`` needs: the product pages of the file and the base URL of the settings."""
    section = config.read_secrets_section("vitrine")
    return ProductLinks(name, config.product_base_url(section), store.product_urls())


def campaigns_of(store: CustomerRepository) -> CampaignStore:
    """The campaigns kept in the file of ``store`` (reads only, for a read-only file)."""
    return CampaignStore(store.path, read_only=is_read_only(store))


def cmd_save(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    now = moment(args.now) if args.now else now_utc()
    sent_at = moment(args.at) if args.at else None
    segment, templates = segment_of(args, "campaign save")
    store = open_store(args.db)
    names = stores_of(store, args)
    segment = dataclasses.replace(segment, stores=tuple(names))
    templates = templates or segments.default_templates(segment)
    data = load(store, names)
    result = segments.build_list(data, segment, now, templates, links=links_for(store, args.name))
    campaign, members = campaign_lists.freeze(
        result, name=args.name, preset=args.preset, templates=templates, created_by=cli_user(),
        created_at=now_utc(), control_share=args.control, seed=args.seed, sent_at=sent_at,
        known_titles=data.products["title"].dropna().astype(str).tolist(),
    )
    cid = CampaignStore(store.path).save(campaign, members)
    saved = dataclasses.replace(campaign, id=cid)
    audit(store, err, campaign_lists.audit_entry(saved, len(members), cli_user(), now_utc(), channel=CLI))
    body = {"id": cid, "name": saved.name, "sent_at": iso(saved.sent_at),
            "members": campaign_lists.counts(members)}
    print(json.dumps(body, ensure_ascii=False, indent=2), file=out)


def cmd_list(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    campaigns = campaigns_of(open_store(args.db, reading=True))
    found = campaigns.list()
    members = campaigns.members([c.id for c in found if c.id is not None])
    body = [
        {"id": c.id, "name": c.name, "sent_at": iso(c.sent_at), "stores": list(c.stores),
         "members": campaign_lists.counts(members[members["campaign_id"] == c.id])}
        for c in found
    ]
    print(json.dumps(body, ensure_ascii=False, indent=2), file=out)


def _get(campaigns: CampaignStore, cid: int) -> tuple[Campaign, pd.DataFrame]:
    try:
        return campaigns.get(cid)
    except LookupError:
        raise CliError(f"campanha {cid} não encontrada (veja `python -m services campaign list`)") from None


def cmd_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    campaign, members = _get(campaigns_of(open_store(args.db, reading=True)), args.id)
    body = {
        "id": campaign.id, "name": campaign.name, "sent_at": iso(campaign.sent_at),
        "stores": list(campaign.stores), "preset": campaign.preset, "terms": list(campaign.terms),
        "segment": dict(campaign.segment), "templates": dict(campaign.templates),
        "control_share": campaign.control_share, "seed": campaign.seed,
        "created_by": campaign.created_by, "created_at": iso(campaign.created_at),
        "members": [
            {"customer_id": row.customer_id, "store": row.store, "phone": row.phone, "name": row.name,
             "tier": row.tier, "group": row.group, "matched": list(row.matched), "message": row.message}
            for row in members.itertuples()
        ],
    }
    print(json.dumps(body, ensure_ascii=False, indent=2), file=out)


def cmd_results(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    now = moment(args.now) if args.now else now_utc()
    store = open_store(args.db, reading=True)
    campaigns = campaigns_of(store)
    campaign, _ = _get(campaigns, args.id)
    # Every saved campaign is a touch: a later one takes the events that follow it (last touch).
    frame = outcomes(campaigns.list(), campaigns.members(), store.events.frame(campaign.stores),
                     args.window, now, catalog=store.catalog())
    print(json.dumps(campaign_results_json(campaign, frame, args.window), ensure_ascii=False, indent=2),
          file=out)


def cmd_export(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    fmt = args.format or args.output.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise CliError("campaign export: use um arquivo .csv ou .xlsx (ou --format)", USAGE)
    check_output(args.output, reads=[args.db])
    store = open_store(args.db)
    campaigns = CampaignStore(store.path)
    campaign, members = _get(campaigns, args.id)
    rows = campaign_lists.sending_rows(members)
    data = exports.to_csv(rows) if fmt == "csv" else exports.to_xlsx(rows)
    write_output(args.output, data, reads=[args.db])
    campaigns.mark_sent(args.id, now_utc())  # the first export dates the sending; later ones keep it
    audit(store, err, ExportEntry(
        at=now_utc(), who=cli_user(), stores=tuple(campaign.stores),
        segment={"campaign_id": campaign.id, "campaign": campaign.name, **dict(campaign.segment)},
        rows=len(rows), format=fmt, channel=CLI, filename=str(args.output),
    ))
    held = campaign_lists.held_back(members)
    print(f"{len(rows)} cliente(s) do grupo de envio em {args.output}; {held} no controle, fora do arquivo.",
          file=out)
