"""Saved campaigns (SPEC §12): the campaign and its members, the control split and tagged product links."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from numbers import Integral, Real

import numpy as np
import pandas as pd

from services.links import UTM_MEDIUM, UTM_SOURCE, product_link, slug
from services.segments import PRIMARY, SECONDARY

ENVIO = "envio"
CONTROLE = "controle"
GROUPS: tuple[str, ...] = (ENVIO, CONTROLE)
TIERS: tuple[str, ...] = (PRIMARY, SECONDARY)
DEFAULT_CONTROL_SHARE = 0.1
MAX_CONTROL_SHARE = 0.5

MEMBER_COLUMNS: tuple[str, ...] = (
    "campaign_id", "customer_id", "store", "phone", "name", "tier", "group", "matched", "message",
)


class InvalidCampaign(ValueError):
    """A campaign, or a split, that cannot be saved as asked (message in Portuguese, for the screen)."""


def _share(share: object) -> float:
    if isinstance(share, bool) or not isinstance(share, Real) or not 0 <= float(share) <= MAX_CONTROL_SHARE:
        raise InvalidCampaign("o grupo de controle deve ficar entre 0% e 50% de cada nível")
    return float(share)


def _seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, Integral) or int(seed) < 0:
        raise InvalidCampaign("a semente do sorteio deve ser um número inteiro, zero ou maior")
    return int(seed)


@dataclass(frozen=True)
class Campaign:
    """A saved campaign list: who it was for, how its messages read, and when it went out.

    Attributes:
        id: the store's id; None until saved.
        name: free text the manager gives ("Submariner de volta — junho").
        stores: the stores the list was built from.
        preset: the preset's key, or None for a segment built by hand.
        segment: the segment's definition as plain JSON data (``services.audit.definition``).
        templates: the message template of each tier (``"primary"``/``"secondary"``).
        created_by: the signed-in e-mail, ``"modo local"`` or ``"cli:<user>"``.
        created_at: when it was saved (naive means UTC).
        sent_at: when the list was sent (downloaded, or the date the manager gives); None before.
        control_share: the share of each tier held out (0 to 0.5).
        seed: the seed of the control split.
        terms: the segment's terms (none for a re-engagement campaign): what ``perguntou`` matches.
    """

    id: int | None
    name: str
    stores: tuple[str, ...]
    preset: str | None
    segment: Mapping[str, object]
    templates: Mapping[str, str]
    created_by: str
    created_at: datetime
    sent_at: datetime | None = None
    control_share: float = DEFAULT_CONTROL_SHARE
    seed: int = 0
    terms: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not str(self.name).strip():
            raise InvalidCampaign("dê um nome à campanha")
        object.__setattr__(self, "name", str(self.name).strip())
        object.__setattr__(self, "stores", tuple(self.stores))
        object.__setattr__(self, "terms", tuple(self.terms))
        object.__setattr__(self, "control_share", _share(self.control_share))
        object.__setattr__(self, "seed", _seed(self.seed))


@dataclass(frozen=True)
class Member:
    """One customer of a saved campaign, frozen as the list stood when it was saved."""

    campaign_id: int | None
    customer_id: str
    store: str
    phone: str
    name: str
    tier: str
    group: str
    matched: tuple[str, ...] = ()
    message: str = ""


def members_frame(members: Iterable[Member]) -> pd.DataFrame:
    """Members as a frame with ``MEMBER_COLUMNS`` (``matched`` a tuple per row)."""
    rows = [
        (m.campaign_id, str(m.customer_id), m.store, m.phone, m.name, m.tier, m.group,
         tuple(m.matched), m.message)
        for m in members
    ]
    return pd.DataFrame(rows, columns=list(MEMBER_COLUMNS))


def held_out(size: int, share: float) -> int:
    """How many of a tier of ``size`` members the control group takes: round(share × size), half up.

    The share is read as the decimal the user typed, so 10% of 25 is exactly 2.5 and
    rounds up to 3, whatever the binary float makes of 0.1 × 25.

    Example: ``held_out(25, 0.1) == 3``; ``held_out(7, 0.1) == 1``; ``held_out(4, 0.1) == 0``.
    """
    exact = Decimal(repr(_share(share))) * int(size)
    return int(exact.to_integral_value(rounding=ROUND_HALF_UP))


def _tier_seed(tier: str) -> int:
    # A stable number per tier (Python's own hash of a string changes between runs).
    return zlib.crc32(tier.encode("utf-8"))


def control_split(
    member_ids_by_tier: Mapping[str, Sequence[str]], share: float, seed: int
) -> dict[str, str]:
    """Hold out ``held_out(len(tier), share)`` members of each tier at random: the control group.

    The ids of a tier are sorted first, and each tier draws from its own generator
    seeded by ``(seed, tier)``: the same seed and the same members give the same
    split, whatever order they come in, and one tier's draw does not move with the
    other's size. (The split is stored with the members when a campaign is saved;
    that stored split is the one results use.)

    Args:
        member_ids_by_tier: customer ids per tier (``"primary"``, ``"secondary"``).
        share: the share held out, 0 to 0.5 (``InvalidCampaign`` otherwise).
        seed: a whole number, zero or more.

    Returns:
        Customer id → ``"envio"`` or ``"controle"``.

    Example:
        ``control_split({"primary": ids_25, "secondary": ids_7}, 0.1, 7)`` holds out 3 + 1.
    """
    share = _share(share)
    seed = _seed(seed)
    groups: dict[str, str] = {}
    for tier, ids in member_ids_by_tier.items():
        ordered = sorted(str(i) for i in ids)
        if len(set(ordered)) != len(ordered) or any(i in groups for i in ordered):
            raise InvalidCampaign("um cliente aparece mais de uma vez na lista")
        k = held_out(len(ordered), share)
        rng = np.random.default_rng([seed, _tier_seed(str(tier))])
        control = rng.permutation(len(ordered))[:k]
        groups.update(dict.fromkeys(ordered, ENVIO))
        for position in control:
            groups[ordered[position]] = CONTROLE
    return groups


__all__ = [
    "CONTROLE", "DEFAULT_CONTROL_SHARE", "ENVIO", "GROUPS", "MAX_CONTROL_SHARE", "MEMBER_COLUMNS",
    "PRIMARY", "SECONDARY", "TIERS", "Campaign", "InvalidCampaign", "Member", "control_split",
    "UTM_MEDIUM", "UTM_SOURCE", "held_out", "members_frame", "product_link", "slug",
]
