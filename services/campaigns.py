"""Saved campaigns (SPEC §12): the campaign and its members, the control split and tagged product links."""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from numbers import Integral, Real
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import pandas as pd

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
UTM_SOURCE = "whatsapp"
UTM_MEDIUM = "vitrine"


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


def slug(text: str) -> str:
    """ASCII, lower case, words joined by hyphens: ``slug("Fãs da marca") == "fas-da-marca"``.

    The same rule as the download names of campaign lists.
    """
    bare = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", bare.lower()).strip("-")


def _present(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def product_link(
    title: str,
    key: str | None,
    url: str | None,
    base_url: str | None,
    campaign_name: str,
    tier: str,
) -> str | None:
    """The product's page, tagged so the shop's web analytics counts clicks per campaign and tier.

    The page is the product's own ``url`` (the ``Products`` table), else the base
    URL of the settings plus the slug of the product's key (of its title when the
    key is missing). Any query the page already has is kept; the ``utm_*`` keys are
    ours. Only ``http``/``https`` pages are linked.

    Args:
        title: the product as the customer asked for it.
        key: its product key (``services.interests.product_key``), when known.
        url: the ``url`` field of its ``Products`` row, when there is one.
        base_url: the shop's product address prefix from the settings, when set.
        campaign_name: the campaign's name; its slug is ``utm_campaign``.
        tier: ``"primary"`` or ``"secondary"``: ``utm_content``.

    Returns:
        The tagged link, or None when the product has no page.

    Example:
        ``product_link("Submariner", "submariner", None, "https://loja.com/p", "Junho", "primary")``
        → ``"https://loja.com/p/submariner?utm_source=whatsapp&utm_medium=vitrine&utm_campaign=junho&utm_content=primary"``
    """
    page = _present(url)
    if not page:
        base, name = _present(base_url), slug(_present(key) or _present(title))
        if not base or not name:
            return None
        page = f"{base.rstrip('/')}/{name}"
    parts = urlsplit(page)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    tags = {
        "utm_source": UTM_SOURCE,
        "utm_medium": UTM_MEDIUM,
        "utm_campaign": slug(campaign_name) or "campanha",
        "utm_content": tier,
    }
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in tags]
    query = urlencode([*kept, *tags.items()])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


__all__ = [
    "CONTROLE", "DEFAULT_CONTROL_SHARE", "ENVIO", "GROUPS", "MAX_CONTROL_SHARE", "MEMBER_COLUMNS",
    "PRIMARY", "SECONDARY", "TIERS", "Campaign", "InvalidCampaign", "Member", "control_split",
    "held_out", "members_frame", "product_link", "slug",
]
