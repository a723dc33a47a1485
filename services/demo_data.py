"""The demo's world: its stores, product pools, customer personas and the kinds of mess real bases hold."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.catalog import DEMO_CATALOG

HORIZON_DAYS = 365
HOT_DAYS = 60
NO_INTEREST_SHARE = 0.11
OPT_OUT_SHARE = 0.03
BOOKING_SHARE = 0.15


@dataclass(frozen=True)
class DemoStore:
    """A store of the demo, with the area code of its customers' phones."""

    name: str
    city: str
    area_code: str
    share: float
    # Shares of customers whose last message is within 14 days, 14–60 days, older.
    recency: tuple[float, float, float]


STORES: tuple[DemoStore, ...] = (
    DemoStore("Vitrine Jardins", "São Paulo", "11", 0.45, (0.50, 0.25, 0.25)),
    DemoStore("Vitrine Leblon", "Rio de Janeiro", "21", 0.35, (0.42, 0.26, 0.32)),
    DemoStore("Vitrine Savassi", "Belo Horizonte", "31", 0.20, (0.32, 0.28, 0.40)),
)

# --- Product pools (titles of DEMO_CATALOG with relative weights) ----------------

ROLEX_SPORT = {
    "Submariner": 5, "GMT-Master II": 4, "Daytona": 4, "Explorer": 2, "Sea-Dweller": 1.5,
    "Yacht-Master 40": 1.5, "Datejust": 1.5, "Black Bay 58": 0.7, "Pelagos": 0.5,
}
ROLEX_CLASSIC = {
    "Datejust": 5, "Day-Date 40": 3, "Oyster Perpetual 41": 3, "Daytona": 2, "Submariner": 2,
    "GMT-Master II": 1,
}
PATEK = {
    "Aquanaut": 4, "Calatrava": 3, "Grand Complications": 1.5,
    "Twenty-4": 1.5, "Golden Ellipse": 1,
}
HAUTE = {
    "Royal Oak Offshore": 3, "Code 11.59": 1.5, "Overseas": 2.5, "Patrimony": 1.5,
    "Aquanaut": 2, "Calatrava": 1,
}
CARTIER_CROSS = {
    "Santos de Cartier": 4, "Cartier Love": 4, "Juste un Clou": 3, "Tank Must": 2, "Ballon Bleu": 2,
    "Panthère de Cartier": 1,
}
GIFT = {
    "Anel Diamante": 5, "Colar de Pérolas": 3, "Brinco de Esmeralda": 3, "Aliança Ouro 18k": 3,
    "Pulseira Riviera": 2, "Pingente Coração": 4, "Return to Tiffany": 3, "Tiffany T": 2,
    "Trinity": 2, "B.zero1": 1.5,
}
JEWELRY = {
    "Cartier Love": 5, "Juste un Clou": 4, "Panthère de Cartier": 2, "Trinity": 2, "Serpenti": 4,
    "B.zero1": 3, "Tiffany T": 3, "HardWear": 2.5, "Vintage Alhambra": 4, "Frivole": 2,
    "Anel Diamante": 1.5, "Pulseira Riviera": 1, "Return to Tiffany": 1,
}
CARTIER_WATCHES = {"Santos de Cartier": 4, "Tank Must": 4, "Ballon Bleu": 3, "Octo Finissimo": 1}
ENTRY = {
    "Speedmaster Moonwatch": 5, "Seamaster Diver 300M": 4, "Aqua Terra": 2, "Constellation": 1,
    "Carrera": 4, "Monaco": 2.5, "Aquaracer": 3, "Black Bay 58": 3, "Pelagos": 1.5,
    "HydroConquest": 2,
}
LUXURY_WATCH = {
    "Submariner": 4, "Datejust": 3, "GMT-Master II": 2, "Explorer": 2, "Portugieser": 3,
    "Big Pilot": 2, "Navitimer": 3, "Chronomat": 1.5, "Superocean": 1, "Santos de Cartier": 1.5,
    "Octo Finissimo": 1,
}
ANY = {title: 1.0 for title, _brand, _category, _price in DEMO_CATALOG}
for _title in ("Nautilus 5711", "Royal Oak"):
    ANY[_title] = 0.02
# Recently hot (a waiting list opened): almost never asked about before, then in the last
# conversation of many customers within HOT_DAYS, so their share of `interests` beats their
# share of `interests_all` by the SPEC's 1.5 (the most any product can reach is about 1.6).
HOT = {"Nautilus 5711": 3, "Royal Oak": 2}


@dataclass(frozen=True)
class Persona:
    """A kind of customer: how many conversations, which pools in journey order, the cross-sell."""

    name: str
    weight: float
    events: tuple[int, int]
    phases: tuple[Mapping[str, float], ...]
    cross_sell: Mapping[str, float] | None = None
    cross_share: float = 0.0
    hot_share: float = 0.0
    max_batch: int = 3


PERSONAS: tuple[Persona, ...] = (
    Persona("rolex_sport", 0.22, (2, 6), (ROLEX_SPORT,), CARTIER_CROSS, 0.40, 0.40),
    Persona("patek_climber", 0.09, (3, 7), (ROLEX_CLASSIC, PATEK, PATEK), HAUTE, 0.25, 0.50),
    Persona("haute_collector", 0.05, (2, 7), (HAUTE, PATEK), CARTIER_CROSS, 0.20, 0.50),
    Persona("gift_buyer", 0.15, (1, 3), (GIFT,), None, 0.0, 0.0),
    Persona("jewelry_lover", 0.17, (2, 7), (JEWELRY,), CARTIER_WATCHES, 0.20, 0.10),
    Persona("upgrader", 0.15, (2, 6), (ENTRY, LUXURY_WATCH), CARTIER_CROSS, 0.10, 0.25),
    Persona("browser", 0.07, (2, 8), (ANY,), None, 0.0, 0.25),
    Persona("one_off", 0.10, (1, 1), (ANY,), None, 0.0, 0.0, max_batch=2),
)

# --- Messy records (SPEC §9): kind → share of records --------------------------------

BLANK_NAME = "blank_name"
ODD_PHONE = "odd_phone"
BAD_PHONE = "bad_phone"
NINTH_DIGIT = "ninth_digit_duplicate"
DUPLICATE = "exact_duplicate"
LONG_TEXT = "long_text"
LEGACY = "legacy"
OVER_FIVE = "over_five"
REPEATED = "repeated_items"
BAD_DATE = "bad_date"
MESSY_SHARES: dict[str, float] = {
    BLANK_NAME: 0.012, ODD_PHONE: 0.012, BAD_PHONE: 0.004, NINTH_DIGIT: 0.005, DUPLICATE: 0.004,
    LONG_TEXT: 0.015, LEGACY: 0.010, OVER_FIVE: 0.004, REPEATED: 0.006, BAD_DATE: 0.004,
}
UNREADABLE_PHONES = ("n/d", "123", "0000", "sem telefone")
BAD_DATES = (("created_at", "31/02/2025"), ("last_interaction", "ontem"), ("created_at", "2025-13-45"))
