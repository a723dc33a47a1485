"""Brands, categories and term matching (SPEC §4)."""

import pytest

from services.catalog import (
    HAUTE,
    JEWELRY,
    UNKNOWN,
    WATCH,
    Resolution,
    resolve_products,
    resolve_title,
    suggestions,
    term_mask,
    terms_mask,
)
from services.interests import product_key


@pytest.mark.parametrize(("title", "brand", "category"), [
    ("Nautilus 5711/1A", "Patek Philippe", WATCH),
    ("Rolex Submariner", "Rolex", WATCH),
    ("GMT-Master II", "Rolex", WATCH),
    ("Royal Oak Offshore", "Audemars Piguet", WATCH),
    ("Overseas", "Vacheron Constantin", WATCH),
    ("Cartier Love", "Cartier", JEWELRY),
    ("Santos de Cartier", "Cartier", WATCH),
    ("Speedmaster Moonwatch", "Omega", WATCH),
    ("TAG Heuer Carrera", "TAG Heuer", WATCH),
    ("Portugieser", "IWC", WATCH),
    ("Navitimer B01", "Breitling", WATCH),
    ("Black Bay 58", "Tudor", WATCH),
    ("Serpenti Viper", "Bvlgari", JEWELRY),
    ("Tiffany T Wire", "Tiffany & Co.", JEWELRY),
    ("Vintage Alhambra", "Van Cleef & Arpels", JEWELRY),
    ("Anel Diamante", None, JEWELRY),
    ("Aliança Ouro 18k", None, JEWELRY),
    ("Brinco de Esmeralda", None, JEWELRY),
    ("Caneta Montblanc", None, UNKNOWN),
])
def test_titles_resolve_to_brand_and_category(title, brand, category):
    found = resolve_title(title)
    assert (found.brand, found.category) == (brand, category)


def test_products_table_wins_over_the_dictionary():
    table = {product_key("Submariner"): Resolution("Marca da Casa", JEWELRY)}
    assert resolve_title("submariner", table) == Resolution("Marca da Casa", JEWELRY)


def test_resolution_carries_the_price_tier():
    products = resolve_products(["Nautilus 5711", "Nautilus 5711 "])
    assert len(products) == 1
    assert products.loc["nautilus 5711", "tier"] == HAUTE


@pytest.mark.parametrize(("term", "title"), [
    ("Patek", "Nautilus 5711"),
    ("rolex", "GMT-Master II"),
    ("joia", "Anel Diamante"),
    ("Submariner", "Submariner"),
    ("relógio", "Datejust"),
    ("ANEL", "Ánel Diamante"),
])
def test_spec_matching_examples(term, title):
    products = resolve_products([title])
    assert term_mask(term, products).tolist() == [True]


def test_term_that_names_nothing_matches_nothing():
    products = resolve_products(["Nautilus 5711", "Anel Diamante", "Submariner"])
    assert not term_mask("Omega", products).any()
    assert not term_mask("   ", products).any()


def test_segment_terms_are_any_of():
    products = resolve_products(["Nautilus 5711", "Anel Diamante", "Submariner"])
    assert terms_mask(["omega", "joia", "nautilus"], products).tolist() == [True, True, False]


def test_suggestions_start_with_brands_and_include_known_products():
    products = resolve_products(["Colar Exclusivo"])
    offered = suggestions(products)
    assert offered[0] == "Rolex"
    assert "Nautilus" in offered and "Colar Exclusivo" in offered
    assert len(offered) == len(set(offered))


# --- The catalog's spelling, suggestions -------------------------------------------------

TITLES = {"submariner": "Submariner", "daytona": "Daytona", "cartier love": "Cartier Love"}


def test_a_product_whose_key_is_in_the_catalog_takes_its_spelling():
    from services.catalog import canonical

    assert canonical(" daytona ", TITLES) == "Daytona"
    assert canonical("CARTIER  love", TITLES) == "Cartier Love"
    assert canonical("Nautilus  5711", TITLES) == "Nautilus 5711"


def test_a_near_miss_suggests_the_closest_catalog_product():
    from services.catalog import suggest

    assert suggest("Submarine", TITLES) == "Submariner"
    assert suggest("Daytonna", list(TITLES.values())) == "Daytona"
    assert suggest("Colar de pérolas negras", TITLES) is None


def test_check_products_says_what_is_outside_the_catalog():
    from services.catalog import ProductCheck, check_products

    assert check_products(["daytona", "Submarine", "DAYTONA", " "], TITLES) == [
        ProductCheck("daytona", "Daytona", True),
        ProductCheck("Submarine", "Submarine", False, "Submariner"),
    ]
    # No catalog at all: nothing to check against.
    assert check_products(["Qualquer Coisa"], {}) == [ProductCheck("Qualquer Coisa", "Qualquer Coisa", True)]
