"""The demo's past campaigns (SPEC §12): saved lists with a control group, and their outcomes drawn
from stated rates, written as timeline events, so Resultados has something true to show on first run.

Each campaign's members are chosen by ``build_list`` on the demo's customers at the campaign's
sending time (no quiet window: it is the past), leaving out anyone the demo's own journeys
already put in touch with the store inside the campaign's window: then every reply, visit and
purchase of a member in the window is the campaign's, and the results recover the rates stated
here. In each tier and group exactly round(rate × members) members reply, visit and buy (a visit
follows a reply, a purchase a visit), chosen at random. Replies are ``conversa`` events from
WhatsApp; visits and purchases are in the store, at catalog prices. Nothing here changes a
customer's interests: the customer records are the same with or without the campaigns.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from services.campaign_lists import freeze
from services.campaigns import CONTROLE, ENVIO, Campaign
from services.catalog import DEMO_CATALOG, Resolution
from services.frame import RAW_COLUMNS, CustomerData
from services.frame import build as frame_of
from services.interests import product_key
from services.segments import PRESETS, PRIMARY, SECONDARY, build_list
from services.store.campaigns import CampaignStore
from services.timeline import COMPRA, CONVERSA, LOJA, VISITA, WHATSAPP, Event

#: Share of each tier and group who reply, visit and buy within the window (visit ≤ reply, buy ≤ visit).
RATES: Mapping[tuple[str, str], tuple[float, float, float]] = {
    (PRIMARY, ENVIO): (0.30, 0.12, 0.05),
    (SECONDARY, ENVIO): (0.18, 0.06, 0.02),
    (PRIMARY, CONTROLE): (0.08, 0.03, 0.01),
    (SECONDARY, CONTROLE): (0.08, 0.03, 0.01),
}
WINDOW_DAYS = 14
CONTROL_SHARE = 0.2
CREATED_BY = "demonstração"


@dataclass(frozen=True)
class DemoCampaign:
    """One past campaign of the demo: when, which preset and terms, which stores (None: all)."""

    days_ago: int
    name: str
    preset: str
    terms: tuple[str, ...] = ()
    store: str | None = None


# Windows never overlap, so each outcome belongs to one campaign (last touch).
PLAN: tuple[DemoCampaign, ...] = (
    DemoCampaign(150, "Rolex de volta ao estoque", "estoque", ("Rolex",)),
    DemoCampaign(115, "Cartier: novos modelos", "marca", ("Cartier",)),
    DemoCampaign(80, "Nautilus chegou — Jardins", "novidade", ("Nautilus",), "Vitrine Jardins"),
    DemoCampaign(50, "Reengajamento de clientes sérios", "reengajamento"),
    DemoCampaign(20, "Joias de volta — Leblon", "estoque", ("joia",), "Vitrine Leblon"),
)


def _exactly(share: float, size: int) -> int:
    return int((Decimal(repr(share)) * size).to_integral_value(rounding=ROUND_HALF_UP))


def _touched(events: Iterable[Event]) -> dict[str, np.ndarray]:
    """Each customer's event times (the demo's own journeys), sorted, as epoch seconds."""
    times: dict[str, list[float]] = {}
    for event in events:
        times.setdefault(event.customer_id, []).append(event.at.timestamp())
    return {cid: np.sort(np.array(found)) for cid, found in times.items()}


def _quiet_in(touched: Mapping[str, np.ndarray], ids: Sequence[str], start: datetime, end: datetime
              ) -> np.ndarray:
    """Whether each customer has no event of their own in ``(start, end]``."""
    low, high = start.timestamp(), end.timestamp()
    out = np.ones(len(ids), dtype=bool)
    for i, cid in enumerate(ids):
        found = touched.get(cid)
        if found is not None and len(found):
            at = np.searchsorted(found, low, side="right")
            out[i] = not (at < len(found) and found[at] <= high)
    return out


def build(data: CustomerData, events: Sequence[Event], now: datetime, seed: int,
          prices: Mapping[str, float]) -> tuple[list[tuple[Campaign, pd.DataFrame]], list[Event]]:
    """The demo's campaigns and their outcome events.

    Args:
        data: the demo's customers (every store).
        events: the timeline of the demo's journeys (a member must have none in its window).
        now: the demo's reference time.
        seed: the demo's seed; the campaigns draw from their own generator, so the customers
            stay the same as without them.
        prices: catalog prices by product key.

    Returns:
        ``([(campaign, members), ...], outcome events)``, campaigns oldest first (ids not set).
    """
    rng = random.Random(f"campaigns-{seed}")
    touched = _touched(events)
    # A re-engagement list names no product: its visits and purchases are of the last one asked about.
    people = data.customers
    last_asked = {cid: (recent or history or [""])[-1] for cid, recent, history
                  in zip(people["id"], people["recent"], people["history"], strict=True)}
    fallback = float(np.median(list(prices.values()))) if prices else 10_000.0
    saved: list[tuple[Campaign, pd.DataFrame]] = []
    outcomes: list[Event] = []
    for number, planned in enumerate(PLAN):
        sent = now - timedelta(days=planned.days_ago)
        stores = (planned.store,) if planned.store else tuple(data.stores)
        preset = PRESETS[planned.preset]
        segment = preset.segment_for(planned.terms, stores=stores, quiet_days=0)
        result = build_list(data.for_stores(stores), segment, sent, preset.templates)
        keep = _quiet_in(touched, result.rows.index.astype(str).tolist(), sent,
                         sent + timedelta(days=WINDOW_DAYS))
        result = result.keeping(np.asarray(keep, dtype=bool))
        if result.rows.empty:
            continue
        campaign, members = freeze(
            result, name=planned.name, preset=planned.preset, templates=preset.templates,
            created_by=CREATED_BY, created_at=sent, control_share=CONTROL_SHARE, seed=seed * 100 + number,
            sent_at=sent, known_titles=data.products["title"].dropna().astype(str).tolist(),
        )
        saved.append((campaign, members))
        outcomes += _outcomes(members, sent, rng, last_asked, prices, fallback)
    return saved, outcomes


def _outcomes(members: pd.DataFrame, sent: datetime, rng: random.Random, last_asked: Mapping[str, str],
              prices: Mapping[str, float], fallback: float) -> list[Event]:
    """Replies, visits and purchases of exactly the stated shares of each tier and group."""
    out: list[Event] = []
    for (tier, group), (reply, visit, buy) in RATES.items():
        cell = members[(members["tier"] == tier) & (members["group"] == group)]
        order = rng.sample(range(len(cell)), len(cell))
        n_reply, n_visit, n_buy = (_exactly(share, len(cell)) for share in (reply, visit, buy))
        for position, row in enumerate(cell.iloc[order].itertuples()):
            if position >= n_reply:
                break
            replied = sent + timedelta(days=rng.uniform(0.1, 4))
            out.append(Event(row.customer_id, row.store, replied, WHATSAPP, CONVERSA))
            if position >= n_visit:
                continue
            product = row.matched[0] if row.matched else last_asked.get(row.customer_id, "")
            products = (product,) if product else ()
            visited = replied + timedelta(days=rng.uniform(0.5, 6))
            out.append(Event(row.customer_id, row.store, visited, LOJA, VISITA, products))
            if position >= n_buy:
                continue
            price = float(prices.get(product_key(product), fallback))
            bought = visited + timedelta(minutes=rng.randint(20, 90))
            out.append(Event(row.customer_id, row.store, bought, LOJA, COMPRA, products, price))
    return out


def of_demo(rows: Sequence[Mapping[str, object]], journeys: Sequence[Event], now: datetime, seed: int
            ) -> tuple[list[tuple[Campaign, pd.DataFrame]], list[Event]]:
    """``build`` for the demo generator: its raw customer rows, the catalog's brands and prices."""
    catalog = {product_key(title): Resolution(brand or None, category)
               for title, brand, category, _price in DEMO_CATALOG}
    prices = {product_key(title): float(price) for title, _brand, _category, price in DEMO_CATALOG if price}
    data = frame_of(pd.DataFrame(list(rows), columns=list(RAW_COLUMNS)), catalog)
    return build(data, journeys, now, seed, prices)


def save(path: str | Path, campaigns: Sequence[tuple[Campaign, pd.DataFrame]]) -> list[int]:
    """Replace every campaign of the demo file with these (the demo's customers are new ones).

    The caller guarantees ``path`` is the demo: a real file's campaigns are never cleared.
    """
    store = CampaignStore(path)
    store.clear()
    return [store.save(campaign, members) for campaign, members in campaigns]


__all__ = ["CONTROL_SHARE", "PLAN", "RATES", "WINDOW_DAYS", "DemoCampaign", "build", "of_demo", "save"]
