"""Product links of campaign messages (SPEC §12): the product's page, tagged per campaign and tier."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

UTM_SOURCE = "whatsapp"
UTM_MEDIUM = "vitrine"


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


@dataclass(frozen=True)
class ProductLinks:
    """What ``{link}`` needs: the campaign's name, the pages of the ``Products`` table and the base URL.

    Attributes:
        campaign: the campaign's name (its slug is ``utm_campaign``).
        base_url: the shop's product address prefix from the settings, or None.
        urls: the ``url`` of each product that has one, by product key.

    Example: ``ProductLinks("Junho", "https://loja.com/p").link("Submariner", "submariner", "primary")``
    """

    campaign: str
    base_url: str | None = None
    urls: Mapping[str, str] = field(default_factory=dict)

    def link(self, title: str, key: str | None, tier: str) -> str:
        """The tagged page of one product for one tier; ``""`` when it has none."""
        page = self.urls.get(key or "") if key else None
        return product_link(title, key, page, self.base_url, self.campaign, tier) or ""

    def column(self, titles: Sequence[str | None], keys: Sequence[str | None],
               tiers: Sequence[str]) -> list[str]:
        """The link of every row (a missing title: ``""``), each distinct product and tier built once."""
        built: dict[tuple[str | None, str | None, str], str] = {}
        out = []
        for title, key, tier in zip(titles, keys, tiers, strict=True):
            if not title:
                out.append("")
                continue
            found = built.get((title, key, tier))
            if found is None:
                found = built[(title, key, tier)] = self.link(title, key, tier)
            out.append(found)
        return out


__all__ = ["UTM_MEDIUM", "UTM_SOURCE", "ProductLinks", "product_link", "slug"]
