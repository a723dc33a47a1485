"""A campaign list frozen into a saved campaign (SPEC §12): members, control group, downloads, audit."""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping
from datetime import UTC, date, datetime, time

import pandas as pd

from services.audit import CAMPAIGN_DELETED, CAMPAIGN_SAVED, ExportEntry, definition
from services.campaigns import (
    CONTROLE,
    ENVIO,
    GROUPS,
    MEMBER_COLUMNS,
    TIERS,
    Campaign,
    control_split,
)
from services.messages import Templates
from services.segments import PRIMARY, SECONDARY, CampaignList
from services.wording import SEPARATOR

SAVED, DELETED = CAMPAIGN_SAVED, CAMPAIGN_DELETED
SEED_LIMIT = 2**31


def new_seed() -> int:
    """A random seed for a campaign's control split (stored with it, so the split can be redone)."""
    return secrets.randbelow(SEED_LIMIT)


def templates_json(templates: Templates) -> dict[str, str]:
    """The message of each tier as a campaign stores it: ``{"primary": ..., "secondary": ...}``."""
    out = {PRIMARY: templates.primary}
    if templates.secondary is not None:
        out[SECONDARY] = templates.secondary
    return out


def templates_of(campaign: Campaign) -> Templates:
    """A campaign's stored messages back as ``Templates``."""
    stored = campaign.templates
    return Templates(str(stored.get(PRIMARY, "")), stored.get(SECONDARY))


def split_titles(text: str, known: Collection[str] = ()) -> tuple[str, ...]:
    """The products of a list's ``matched`` text, each whole even when its title holds ``", "``.

    Pieces are joined back while they spell a title of ``known`` (the longest first).

    Example: ``split_titles("Datejust 36, aço, Submariner", {"Datejust 36, aço"})`` →
    ``("Datejust 36, aço", "Submariner")``
    """
    pieces = str(text).split(SEPARATOR) if text else []
    out: list[str] = []
    i = 0
    while i < len(pieces):
        j = next(j for j in range(len(pieces), i, -1)
                 if j == i + 1 or SEPARATOR.join(pieces[i:j]) in known)
        out.append(SEPARATOR.join(pieces[i:j]))
        i = j
    return tuple(out)


def freeze(
    result: CampaignList,
    *,
    name: str,
    preset: str | None,
    templates: Templates,
    created_by: str,
    created_at: datetime,
    control_share: float,
    seed: int | None = None,
    sent_at: datetime | None = None,
    known_titles: Collection[str] = (),
) -> tuple[Campaign, pd.DataFrame]:
    """A campaign list as it will be saved: the campaign and its members, the control group drawn.

    Each tier holds out exactly ``held_out(share, tier size)`` members at random with the
    campaign's seed (``control_split``); the seed is kept with the campaign.

    Args:
        result: the list on screen (its rows in list order, its segment with the stores).
        name: the campaign's name.
        preset: the preset's key, or None.
        templates: the messages as edited.
        created_by: who saved it.
        created_at: when.
        control_share: the share of each tier held out, 0 to 0.5.
        seed: the split's seed; None draws one (``new_seed``).
        sent_at: when it was sent, when the manager says so; None until the list is downloaded.
        known_titles: the catalog's titles, so a title holding ``", "`` stays one product.

    Returns:
        ``(campaign, members)``: the campaign (``id`` None) and a frame with ``MEMBER_COLUMNS``
        in list order (``matched`` a tuple of titles).

    Raises:
        InvalidCampaign: a blank name or a share outside 0–50%.
    """
    seed = new_seed() if seed is None else seed
    segment = result.segment
    campaign = Campaign(
        id=None, name=name, stores=tuple(segment.stores), preset=preset, segment=definition(segment),
        templates=templates_json(templates), created_by=created_by, created_at=created_at,
        sent_at=sent_at, control_share=control_share, seed=seed, terms=tuple(segment.terms),
    )
    rows = result.rows
    ids = pd.Index(rows.index).astype(str)
    tiers = rows["tier"].astype(str).to_numpy()
    groups = control_split({tier: ids[tiers == tier].tolist() for tier in TIERS}, control_share, seed)
    known = {title for title in known_titles if SEPARATOR in str(title)}
    cache: dict[str, tuple[str, ...]] = {}
    matched = [cache[text] if text in cache else cache.setdefault(text, split_titles(text, known))
               for text in rows["matched"].astype(object).where(rows["matched"].notna(), "").astype(str)]
    members = pd.DataFrame({
        "campaign_id": None,
        "customer_id": ids,
        "store": rows["store"].astype(str).to_numpy(),
        "phone": rows["phone"].astype(str).to_numpy(),
        "name": rows["name"].astype(object).where(rows["name"].notna(), "").astype(str).to_numpy(),
        "tier": tiers,
        "group": [groups[i] for i in ids],
        "matched": matched,
        "message": rows["message"].astype(str).to_numpy(),
    }, columns=list(MEMBER_COLUMNS))
    return campaign, members


def counts(members: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Members per tier and group: ``{"primary": {"envio": n, "controle": m}, "secondary": {...}}``."""
    sizes = members.groupby(["tier", "group"]).size() if len(members) else pd.Series(dtype=int)
    return {tier: {group: int(sizes.get((tier, group), 0)) for group in GROUPS} for tier in TIERS}


def sending_rows(members: pd.DataFrame) -> pd.DataFrame:
    """The rows a saved campaign's download holds: the ``envio`` group only, in list order.

    The columns a list download reads (``tier``, ``name``, ``phone``, ``store``, ``matched``,
    ``message``); what was not frozen (brands, dates, depth) is left blank.
    """
    sent = members[members["group"] == ENVIO]
    return pd.DataFrame({
        "tier": sent["tier"].to_numpy(), "name": sent["name"].to_numpy(), "phone": sent["phone"].to_numpy(),
        "store": sent["store"].to_numpy(), "matched": [list(m) for m in sent["matched"]],
        "message": sent["message"].to_numpy(),
    }, index=pd.Index(sent["customer_id"].to_numpy(), name="id"))


def held_back(members: pd.DataFrame) -> int:
    """How many members the control group holds (they receive nothing)."""
    return int((members["group"] == CONTROLE).sum())


def sent_moment(day: date, now: datetime) -> datetime:
    """The ``sent_at`` of a date the manager gives: that day's start (UTC), or ``now`` for today.

    A reply the same day still counts, for the group sent and the control alike.
    """
    if day == now.date():
        return now
    return datetime.combine(day, time(0), tzinfo=UTC)


def audit_entry(campaign: Campaign, members: int, who: str, at: datetime, *, channel: str,
                action: str = SAVED) -> ExportEntry:
    """The audit log's line for a campaign saved (or deleted): who, when, stores, its definition.

    Args:
        campaign: the campaign (with its id once saved).
        members: how many members it holds.
        who: the signed-in e-mail, ``"modo local"`` or ``"cli:<user>"``.
        at: when.
        channel: ``"dashboard"`` or ``"cli"``.
        action: ``SAVED`` or ``DELETED`` (the entry's ``format``).
    """
    segment: Mapping[str, object] = {
        "campaign_id": campaign.id, "campaign": campaign.name, "preset": campaign.preset,
        **dict(campaign.segment), "templates": dict(campaign.templates),
        "control_share": campaign.control_share, "seed": campaign.seed,
        "sent_at": campaign.sent_at.isoformat() if campaign.sent_at else None,
    }
    return ExportEntry(at=at, who=who, stores=tuple(campaign.stores), segment=segment, rows=members,
                       format=action, channel=channel, filename=campaign.name)


__all__ = ["DELETED", "SAVED", "audit_entry", "counts", "freeze", "held_back", "new_seed", "sending_rows",
           "sent_moment", "split_titles", "templates_json", "templates_of"]
