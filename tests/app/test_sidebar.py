"""The sidebar's store selector (AppTest): no store chosen is a choice to make, never "all stores"."""

from __future__ import annotations

from pathlib import Path

import pytest
from apptest_support import open_app

from dashboard.state import NO_STORE_CHOSEN, chosen_stores

PAGES = {"clientes": "Clientes", "campanhas": "Campanhas", "metricas": "Métricas", "insights": "Insights"}


@pytest.mark.parametrize("page", list(PAGES))
def test_no_store_chosen_asks_for_one_on_every_page(db: Path, page: str) -> None:
    at = open_app(page)
    at.multiselect(key="app_stores").set_value([]).run()
    assert not at.exception
    assert [i.value for i in at.main.info] == [NO_STORE_CHOSEN]
    assert at.title[0].value == PAGES[page]
    assert "0 clientes" in [c.value for c in at.sidebar.caption]
    # Nothing of any store shows: no table, no tile, no chart, no search box.
    assert not at.dataframe and not at.metric and not at.text_input
    assert not at.get("vega_lite_chart")


def test_the_store_selector_speaks_portuguese(db: Path) -> None:
    at = open_app()
    selector = at.multiselect(key="app_stores")
    assert selector.placeholder == "Escolha as lojas"
    assert selector.proto.select_all == 0


def test_chosen_stores_reads_the_choice() -> None:
    allowed = ("A", "B")
    assert chosen_stores(None, allowed) == allowed
    assert chosen_stores([], allowed) == ()
    assert chosen_stores(["B"], allowed) == ("B",)
    assert chosen_stores(["Z"], allowed) == allowed
