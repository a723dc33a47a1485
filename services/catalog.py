"""Brands, categories, model lines and term matching (SPEC §4)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from services.interests import clean_item, product_key

WATCH = "watch"
JEWELRY = "jewelry"
UNKNOWN = "unknown"

ENTRY = "entry"
LUXURY = "luxury"
HAUTE = "haute horlogerie"
TIER_ORDER = {ENTRY: 1, LUXURY: 2, HAUTE: 3}
TIER_LABELS = {ENTRY: "entrada", LUXURY: "luxo", HAUTE: "alta relojoaria"}
CATEGORY_LABELS = {WATCH: "relógio", JEWELRY: "joia", UNKNOWN: "não identificado"}


@dataclass(frozen=True)
class Brand:
    """A brand of the built-in dictionary."""

    name: str
    category: str
    tier: str | None
    aliases: tuple[str, ...]
    lines: tuple[str, ...]


BRANDS: tuple[Brand, ...] = (
    Brand("Rolex", WATCH, LUXURY, ("rolex",), (
        "Submariner", "GMT-Master II", "GMT-Master", "Datejust", "Day-Date", "Daytona",
        "Cosmograph Daytona", "Explorer", "Oyster Perpetual", "Sea-Dweller", "Yacht-Master",
        "Sky-Dweller", "Air-King", "Milgauss", "Deepsea", "Lady-Datejust", "1908",
    )),
    Brand("Patek Philippe", WATCH, HAUTE, ("patek philippe", "patek"), (
        "Nautilus", "Aquanaut", "Calatrava", "Grand Complications", "Twenty-4",
        "Golden Ellipse", "Gondolo", "Complications", "Cubitus",
    )),
    Brand("Audemars Piguet", WATCH, HAUTE, ("audemars piguet", "audemars", "ap"), (
        "Royal Oak", "Royal Oak Offshore", "Code 11.59", "Millenary", "Jules Audemars",
    )),
    Brand("Vacheron Constantin", WATCH, HAUTE, ("vacheron constantin", "vacheron"), (
        "Overseas", "Patrimony", "Traditionnelle", "Fiftysix", "Historiques", "Egerie",
    )),
    Brand("Cartier", JEWELRY, LUXURY, ("cartier",), (
        "Love", "Juste un Clou", "Panthère", "Panthere", "Trinity", "Clash",
        "Santos", "Tank", "Ballon Bleu", "Pasha", "Ronde", "Drive de Cartier",
    )),
    Brand("Omega", WATCH, ENTRY, ("omega",), (
        "Speedmaster", "Seamaster", "Constellation", "De Ville", "Aqua Terra",
        "Planet Ocean", "Moonwatch",
    )),
    Brand("TAG Heuer", WATCH, ENTRY, ("tag heuer", "tag", "heuer"), (
        "Carrera", "Monaco", "Aquaracer", "Formula 1", "Autavia",
    )),
    Brand("IWC", WATCH, LUXURY, ("iwc", "iwc schaffhausen"), (
        "Portugieser", "Pilot's Watch", "Big Pilot", "Portofino", "Ingenieur",
        "Da Vinci", "Aquatimer",
    )),
    Brand("Breitling", WATCH, LUXURY, ("breitling",), (
        "Navitimer", "Chronomat", "Superocean", "Avenger", "Top Time",
    )),
    Brand("Tudor", WATCH, ENTRY, ("tudor",), (
        "Black Bay", "Pelagos", "Ranger",
    )),
    Brand("Longines", WATCH, ENTRY, ("longines",), (
        "Master Collection", "HydroConquest", "Conquest", "DolceVita",
    )),
    Brand("Bvlgari", JEWELRY, LUXURY, ("bvlgari", "bulgari"), (
        "Serpenti", "B.zero1", "Divas' Dream", "Octo Finissimo", "Octo", "Fiorever",
    )),
    Brand("Tiffany & Co.", JEWELRY, LUXURY, ("tiffany & co.", "tiffany"), (
        "Tiffany T", "HardWear", "Return to Tiffany", "Elsa Peretti", "Victoria",
        "Tiffany Setting",
    )),
    Brand("Van Cleef & Arpels", JEWELRY, HAUTE, ("van cleef & arpels", "van cleef"), (
        "Alhambra", "Vintage Alhambra", "Sweet Alhambra", "Frivole", "Perlée", "Perlee",
    )),
)

JEWELRY_WORDS: tuple[str, ...] = (
    "anel", "aneis", "colar", "brinco", "brincos", "pulseira", "pingente", "alianca",
    "aliancas", "bracelete", "gargantilha", "solitario", "tornozeleira", "broche",
    "choker", "argola", "joia", "joias", "ring", "necklace", "earring", "bracelet",
    "pendant",
)
WATCH_WORDS: tuple[str, ...] = ("relogio", "relogios", "watch", "cronografo")

CATEGORY_TERMS: Mapping[str, str] = {
    "joia": JEWELRY, "joias": JEWELRY, "jewelry": JEWELRY, "jewellery": JEWELRY,
    "relogio": WATCH, "relogios": WATCH, "watch": WATCH, "watches": WATCH,
}

_BRAND_BY_NAME = {brand.name: brand for brand in BRANDS}


def brand_tier(brand: str | None) -> str | None:
    """The price tier of a brand of the dictionary (journeys, SPEC §7)."""
    found = _BRAND_BY_NAME.get(brand or "")
    return found.tier if found else None


def brand_names() -> list[str]:
    """Every brand of the built-in dictionary."""
    return [brand.name for brand in BRANDS]


def _word_pattern(words: Iterable[str]) -> re.Pattern[str]:
    alternatives = sorted({product_key(word) for word in words}, key=len, reverse=True)
    escaped = "|".join(re.escape(word) for word in alternatives)
    return re.compile(rf"(?<![\w]){escaped}(?![\w])") if escaped else re.compile(r"(?!)")


def _build_lookup() -> tuple[list[tuple[re.Pattern[str], Brand]], list[tuple[re.Pattern[str], Brand]]]:
    lines = []
    aliases = []
    for brand in BRANDS:
        for line in brand.lines:
            lines.append((_word_pattern([line]), brand, len(line)))
        for alias in brand.aliases:
            aliases.append((_word_pattern([alias]), brand, len(alias)))
    # Longest first, so "Royal Oak Offshore" wins over "Royal Oak".
    lines.sort(key=lambda entry: entry[2], reverse=True)
    aliases.sort(key=lambda entry: entry[2], reverse=True)
    return [(p, b) for p, b, _ in lines], [(p, b) for p, b, _ in aliases]


_LINE_PATTERNS, _ALIAS_PATTERNS = _build_lookup()
_JEWELRY_PATTERN = _word_pattern(JEWELRY_WORDS)
_WATCH_PATTERN = _word_pattern(WATCH_WORDS)


@dataclass(frozen=True)
class Resolution:
    """What a product title resolves to."""

    brand: str | None
    category: str
    line: str | None = None


def resolve_title(title: str, products: Mapping[str, Resolution] | None = None) -> Resolution:
    """Brand and category of one product title, in the SPEC §4 order.

    Args:
        title: the interest as recorded.
        products: the base's ``Products`` table by product key, when it has one.

    Returns:
        A ``Resolution``; ``resolve_title("Nautilus 5711/1A").brand == "Patek Philippe"``.
    """
    key = product_key(title)
    if products and key in products:
        return products[key]
    for line_pattern, brand in _LINE_PATTERNS:
        match = line_pattern.search(key)
        if match:
            return Resolution(brand.name, _category_of(key, brand), _line_name(brand, match[0]))
    for alias_pattern, brand in _ALIAS_PATTERNS:
        if alias_pattern.search(key):
            return Resolution(brand.name, _category_of(key, brand), None)
    if _JEWELRY_PATTERN.search(key):
        return Resolution(None, JEWELRY)
    if _WATCH_PATTERN.search(key):
        return Resolution(None, WATCH)
    return Resolution(None, UNKNOWN)


def _line_name(brand: Brand, matched_key: str) -> str:
    for line in brand.lines:
        if product_key(line) == matched_key:
            return line
    return matched_key


def _category_of(key: str, brand: Brand) -> str:
    # Jewelry houses also make watches (Cartier Santos), and the words say which.
    if brand.category == JEWELRY and (_WATCH_PATTERN.search(key) or _is_watch_line(key, brand)):
        return WATCH
    if brand.category == WATCH and _JEWELRY_PATTERN.search(key):
        return JEWELRY
    return brand.category


_WATCH_LINES_OF_JEWELERS = {
    "Cartier": ("santos", "tank", "ballon bleu", "pasha", "ronde", "drive de cartier"),
    "Bvlgari": ("octo", "octo finissimo"),
}


def _is_watch_line(key: str, brand: Brand) -> bool:
    return any(
        re.search(rf"(?<![\w]){re.escape(line)}(?![\w])", key)
        for line in _WATCH_LINES_OF_JEWELERS.get(brand.name, ())
    )


def resolve_products(
    titles: Sequence[str], products: Mapping[str, Resolution] | None = None
) -> pd.DataFrame:
    """One row per distinct product key: ``key, title, brand, category, tier, line``.

    Titles are resolved once per key, so a 100,000-customer base costs only as
    much as its catalog.
    """
    rows = {}
    for title in titles:
        key = product_key(title)
        if key in rows:
            continue
        found = resolve_title(title, products)
        rows[key] = (key, title, found.brand, found.category, brand_tier(found.brand), found.line)
    frame = pd.DataFrame(
        list(rows.values()), columns=["key", "title", "brand", "category", "tier", "line"]
    )
    return frame.set_index("key", drop=False)


def term_mask(term: str, products: pd.DataFrame) -> pd.Series:
    """Which products of a ``resolve_products`` frame a search term matches.

    A term matches when its key is contained in the product's title key or brand
    key, or when it names the product's category (``joia`` → jewelry).

    Example: ``Patek`` matches "Nautilus 5711"; ``joia`` matches "Anel Diamante".
    """
    key = product_key(term)
    if not key:
        return pd.Series(False, index=products.index)
    in_title = products["key"].str.contains(key, regex=False)
    brand_keys = products["brand"].fillna("").map(product_key)
    in_brand = brand_keys.str.contains(key, regex=False)
    mask = in_title | in_brand
    category = CATEGORY_TERMS.get(key)
    if category:
        mask |= products["category"] == category
    return mask


def terms_mask(terms: Sequence[str], products: pd.DataFrame) -> pd.Series:
    """Any-of over several terms."""
    mask = pd.Series(False, index=products.index)
    for term in terms:
        mask |= term_mask(term, products)
    return mask


def suggestions(products: pd.DataFrame | None = None) -> list[str]:
    """Terms to offer in a search box: brands, model lines, then known products."""
    names = brand_names()
    lines = [line for brand in BRANDS for line in brand.lines]
    titles = sorted(products["title"].tolist()) if products is not None else []
    ordered = [*names, *lines, *titles]
    return list(dict.fromkeys(ordered))


# --- The catalog's own spelling -------------------------------------------------------

SUGGESTION_CUTOFF = 0.6


def canonical(title: str, catalog_titles: Mapping[str, str]) -> str:
    """The catalog's spelling of ``title`` when its key is in the catalog, else ``title`` cleaned.

    Args:
        title: a product as typed or sent.
        catalog_titles: the catalog's titles by product key (``repository.catalog_titles()``).

    Returns:
        e.g. ``canonical("daytona ", {"daytona": "Daytona"}) == "Daytona"``.
    """
    cleaned = clean_item(title)
    return catalog_titles.get(product_key(cleaned), cleaned)


def suggest(title: str, catalog_titles: Mapping[str, str] | Iterable[str]) -> str | None:
    """The catalog title closest to a product outside the catalog ("Você quis dizer…?").

    Args:
        title: the product typed.
        catalog_titles: the catalog's titles by key, or just the titles.

    Returns:
        The closest title by key (``difflib``), or None when nothing is close.
        Example: ``suggest("Submarine", ["Submariner", "Daytona"]) == "Submariner"``.
    """
    by_key = (dict(catalog_titles) if isinstance(catalog_titles, Mapping)
              else {product_key(t): t for t in catalog_titles})
    close = difflib.get_close_matches(product_key(title), list(by_key), n=1, cutoff=SUGGESTION_CUTOFF)
    return by_key[close[0]] if close else None


@dataclass(frozen=True)
class ProductCheck:
    """A product typed for recording, checked against the catalog.

    Attributes:
        typed: as typed.
        title: what is recorded: the catalog's spelling, or the text as typed (cleaned).
        in_catalog: its key is in the catalog.
        suggestion: for a product outside the catalog, the closest catalog title (or None).
    """

    typed: str
    title: str
    in_catalog: bool
    suggestion: str | None = None


def check_products(products: Iterable[str], catalog_titles: Mapping[str, str]) -> list[ProductCheck]:
    """Each product typed against the catalog, repeats (by key) and blanks dropped.

    With an empty catalog (a base with no Products table) every product counts as in it:
    there is nothing to check against.

    Example: ``check_products(["daytona", "Submarine"], titles)`` gives ``Daytona`` in the
    catalog, and ``Submarine`` outside it with the suggestion ``Submariner``.
    """
    checks: list[ProductCheck] = []
    seen: set[str] = set()
    for typed in products:
        title = canonical(str(typed), catalog_titles)
        key = product_key(title)
        if not key or key in seen:
            continue
        seen.add(key)
        known = not catalog_titles or key in catalog_titles
        checks.append(ProductCheck(str(typed), title, known,
                                   None if known else suggest(title, catalog_titles)))
    return checks


# --- Demo catalog --------------------------------------------------------------

# Real model lines with indicative prices in BRL, used by the demo store.
DEMO_CATALOG: tuple[tuple[str, str, str, int], ...] = (
    ("Submariner", "Rolex", WATCH, 78_900),
    ("GMT-Master II", "Rolex", WATCH, 92_500),
    ("Datejust", "Rolex", WATCH, 61_800),
    ("Daytona", "Rolex", WATCH, 165_000),
    ("Day-Date 40", "Rolex", WATCH, 235_000),
    ("Explorer", "Rolex", WATCH, 52_400),
    ("Oyster Perpetual 41", "Rolex", WATCH, 44_900),
    ("Yacht-Master 40", "Rolex", WATCH, 98_700),
    ("Sea-Dweller", "Rolex", WATCH, 86_300),
    ("Nautilus 5711", "Patek Philippe", WATCH, 980_000),
    ("Aquanaut", "Patek Philippe", WATCH, 420_000),
    ("Calatrava", "Patek Philippe", WATCH, 245_000),
    ("Grand Complications", "Patek Philippe", WATCH, 1_450_000),
    ("Twenty-4", "Patek Philippe", WATCH, 198_000),
    ("Golden Ellipse", "Patek Philippe", WATCH, 265_000),
    ("Royal Oak", "Audemars Piguet", WATCH, 520_000),
    ("Royal Oak Offshore", "Audemars Piguet", WATCH, 480_000),
    ("Code 11.59", "Audemars Piguet", WATCH, 310_000),
    ("Overseas", "Vacheron Constantin", WATCH, 390_000),
    ("Patrimony", "Vacheron Constantin", WATCH, 215_000),
    ("Cartier Love", "Cartier", JEWELRY, 48_500),
    ("Juste un Clou", "Cartier", JEWELRY, 52_000),
    ("Panthère de Cartier", "Cartier", JEWELRY, 89_000),
    ("Trinity", "Cartier", JEWELRY, 21_300),
    ("Santos de Cartier", "Cartier", WATCH, 58_900),
    ("Tank Must", "Cartier", WATCH, 24_800),
    ("Ballon Bleu", "Cartier", WATCH, 49_500),
    ("Speedmaster Moonwatch", "Omega", WATCH, 42_900),
    ("Seamaster Diver 300M", "Omega", WATCH, 33_500),
    ("Constellation", "Omega", WATCH, 38_200),
    ("Aqua Terra", "Omega", WATCH, 36_700),
    ("Carrera", "TAG Heuer", WATCH, 28_400),
    ("Monaco", "TAG Heuer", WATCH, 39_900),
    ("Aquaracer", "TAG Heuer", WATCH, 17_600),
    ("Portugieser", "IWC", WATCH, 64_000),
    ("Big Pilot", "IWC", WATCH, 88_000),
    ("Navitimer", "Breitling", WATCH, 52_300),
    ("Chronomat", "Breitling", WATCH, 48_900),
    ("Superocean", "Breitling", WATCH, 29_800),
    ("Black Bay 58", "Tudor", WATCH, 23_900),
    ("Pelagos", "Tudor", WATCH, 29_500),
    ("HydroConquest", "Longines", WATCH, 9_800),
    ("Serpenti", "Bvlgari", JEWELRY, 67_000),
    ("B.zero1", "Bvlgari", JEWELRY, 18_900),
    ("Octo Finissimo", "Bvlgari", WATCH, 98_000),
    ("Tiffany T", "Tiffany & Co.", JEWELRY, 16_400),
    ("HardWear", "Tiffany & Co.", JEWELRY, 27_800),
    ("Return to Tiffany", "Tiffany & Co.", JEWELRY, 6_900),
    ("Vintage Alhambra", "Van Cleef & Arpels", JEWELRY, 34_500),
    ("Frivole", "Van Cleef & Arpels", JEWELRY, 41_200),
    ("Anel Diamante", "", JEWELRY, 18_700),
    ("Colar de Pérolas", "", JEWELRY, 12_300),
    ("Brinco de Esmeralda", "", JEWELRY, 15_600),
    ("Aliança Ouro 18k", "", JEWELRY, 7_900),
    ("Pulseira Riviera", "", JEWELRY, 32_000),
    ("Pingente Coração", "", JEWELRY, 4_800),
)
