"""Clientes (AppTest): lookup, the card as the services compute it, and an in-store note."""

from __future__ import annotations

from pathlib import Path

from apptest_support import HOSTILE, JARDINS, KNOWN, KNOWN_PHONE, LEBLON, NOW, data_of, open_app

from dashboard.customer import result_label
from dashboard.format import plain
from dashboard.timeline import when
from services.profile import profile
from services.search import lookup, search
from services.store.sqlite import SqliteStore


def search_for(at, text: str):
    at.text_input(key="clientes_query").input(text).run()
    assert not at.exception
    return at


def card_title(at) -> str:
    return at.subheader[0].value


def tile(at, label: str) -> str:
    """The value of one figure of the card's strip (a small label over a bold value)."""
    return next(m.value.split("**")[1] for m in at.markdown if m.value.startswith(f":small[{label}]"))


def table(at, column: str):
    """The first table on screen with ``column`` (AppTest dataframes carry no key)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def markdown_texts(at) -> list[str]:
    return [m.value for m in at.markdown]


def test_every_page_runs_without_an_exception(db: Path) -> None:
    for page in ("clientes", "campanhas", "resultados", "metricas", "insights"):
        at = open_app(page)
        assert not at.exception, page
        assert at.title, page


def test_empty_search_says_how_many_customers_it_searches(db: Path) -> None:
    at = open_app()
    assert at.title[0].value == "Clientes"
    total = len(data_of(db).customers)
    assert any(f"Busca entre {total:,}".replace(",", ".") in c.value for c in at.caption)


def test_phone_typed_with_spaces_and_dashes_opens_the_card_the_services_build(db: Path) -> None:
    at = search_for(open_app(), "(11) 9 8765-4321")
    data = data_of(db)
    found = search(data, KNOWN_PHONE)
    expected = profile(data, int(found["cid"][0]), NOW)
    assert card_title(at) == KNOWN["name"]
    assert tile(at, "Interesses") == str(expected.depth) == "11"
    assert tile(at, "Último contato") == f"há {expected.days_since} dias"
    points = "\n".join(f"- {plain(p)}" for p in expected.talking_points)
    assert points in markdown_texts(at)
    assert "Foco recente: Patek Philippe (5 de 5)" in expected.talking_points
    chips = next(m for m in markdown_texts(at) if "gray-badge[" in m)
    assert chips.index("Golden Ellipse") < chips.index("Aquanaut")
    history = table(at, "Produto")
    assert history["Produto"].tolist() == KNOWN["interests_all"]
    assert history["Marca"].tolist()[:3] == ["Rolex"] * 3
    assert any(b.url == "https://wa.me/5511987654321" for b in at.get("link_button"))


def test_the_phone_without_the_ninth_digit_finds_the_same_customer(db: Path) -> None:
    at = search_for(open_app(), "+55 11 8765-4321")
    assert card_title(at) == KNOWN["name"]


def test_a_partial_name_lists_the_people_and_opens_only_the_one_chosen(db: Path) -> None:
    data = data_of(db)
    found = lookup(data, "silva")
    assert len(found.people) > 2 and found.opened is None
    at = search_for(open_app(), "silva")
    assert any(c.value.startswith(f"{len(found.people)} clientes encontrados: escolha um")
               for c in at.caption)
    # The most recent match is not opened for the user: the wrong card is worse than none.
    assert not at.subheader
    choices = at.radio(key="clientes_pick")
    assert choices.options[0] == result_label(found.people.iloc[0], NOW)
    first = found.people.iloc[0]
    assert first["store"] in choices.options[0] and "final " in choices.options[0]
    pick = found.people.iloc[2]
    choices.set_value(pick["id"]).run()
    expected = profile(data, int(pick["cid"]), NOW)
    assert card_title(at) == plain(expected.name)
    assert tile(at, "Interesses") == str(expected.depth)


def test_the_exact_whole_name_opens_that_card_at_once(db: Path) -> None:
    at = search_for(open_app(), "helena VASCONCELOS")
    assert card_title(at) == KNOWN["name"]


def test_nobody_found_says_so(db: Path) -> None:
    at = search_for(open_app(), "Zuleica Inexistente")
    assert "Nenhum cliente encontrado" in at.info[0].value
    assert not at.subheader


def test_a_customer_of_a_store_not_chosen_is_not_found(db: Path) -> None:
    at = open_app()
    at.multiselect(key="app_stores").set_value([LEBLON]).run()
    search_for(at, "(11) 9 8765-4321")
    assert "Nenhum cliente encontrado" in at.info[0].value


def choose_products(at, *products: str, prefix: str = "clientes_record"):
    at.multiselect(key=f"{prefix}_products").set_value(list(products)).run()
    assert not at.exception
    return at


def save(at, prefix: str = "clientes_record"):
    at.button(key=f"{prefix}_save").click().run()
    assert not at.exception
    return at


def test_recording_an_in_store_interest_shows_it_on_the_card_at_once(db: Path) -> None:
    at = search_for(open_app(), "(11) 9 8765-4321")
    save(choose_products(at, "Daytona"))
    saved = SqliteStore(db).find(JARDINS, KNOWN_PHONE)
    assert saved.interests[-1] == "Daytona" and len(saved.interests_all) == 12
    assert card_title(at) == KNOWN["name"]
    assert tile(at, "Interesses") == "12"
    chips = next(m for m in markdown_texts(at) if "gray-badge[" in m)
    assert chips.startswith(":gray-badge[Daytona · Rolex]")
    assert "Interesse registrado" in at.success[0].value
    assert table(at, "Produto")["Produto"].tolist()[-1] == "Daytona"
    assert at.multiselect(key="clientes_record_products").value == []


def test_the_product_field_offers_the_catalog_with_brands(db: Path) -> None:
    at = search_for(open_app(), "(11) 9 8765-4321")
    field = at.multiselect(key="clientes_record_products")
    titles = SqliteStore(db).catalog_titles()
    assert sorted(field.options) == sorted(f"{t} · {b}" if b else t for t, b in (
        (t, SqliteStore(db).catalog()[k].brand) for k, t in titles.items()))
    assert "Submariner · Rolex" in field.options
    assert field.placeholder.startswith("Digite para buscar no catálogo")


def test_a_product_typed_in_another_case_is_recorded_in_the_catalogs_spelling(db: Path) -> None:
    at = search_for(open_app(), "(11) 9 8765-4321")
    choose_products(at, "daytona")
    assert not at.warning  # its key is the catalog's: nothing to confirm
    save(at)
    assert SqliteStore(db).find(JARDINS, KNOWN_PHONE).interests[-1] == "Daytona"


def test_a_near_miss_suggests_the_catalog_product_and_the_swap_records_it(db: Path) -> None:
    at = search_for(open_app(), "(11) 9 8765-4321")
    choose_products(at, "Submarine")
    assert "Você quis dizer **Submariner**?" in at.warning[0].value
    before = SqliteStore(db).version()
    save(at)
    assert "fora do catálogo" in at.error[0].value
    assert SqliteStore(db).version() == before
    at.button(key="clientes_record_swap_0").click().run()
    assert at.multiselect(key="clientes_record_products").value == ["Submariner"]
    save(at)
    assert SqliteStore(db).find(JARDINS, KNOWN_PHONE).interests[-1] == "Submariner"


def test_a_product_outside_the_catalog_is_recorded_only_when_confirmed(db: Path) -> None:
    at = search_for(open_app(), "(11) 9 8765-4321")
    choose_products(at, "Relógio de Bolso Antigo")
    at.checkbox(key="clientes_record_outside_ok").check().run()
    save(at)
    assert SqliteStore(db).find(JARDINS, KNOWN_PHONE).interests[-1] == "Relógio de Bolso Antigo"
    # ...and the data-quality panel lists it.
    at.switch_page("../pages/metricas.py").run()
    outside = next(d.value for d in at.dataframe if "Produto fora do catálogo" in d.value.columns)
    assert outside["Produto fora do catálogo"].tolist() == ["Relógio de Bolso Antigo"]


def test_a_note_without_products_is_refused_on_screen(db: Path) -> None:
    at = search_for(open_app(), "(11) 9 8765-4321")
    before = SqliteStore(db).version()
    save(at)
    assert "Informe pelo menos um produto" in at.error[0].value
    assert SqliteStore(db).version() == before


def test_a_name_holding_markdown_shows_as_text(db: Path) -> None:
    at = search_for(open_app(), "Zed")
    assert card_title(at) == plain(HOSTILE["name"])
    assert "\\[clique aqui\\]\\(http\\:\u2060//e\\.vil\\)" in card_title(at)
    assert "\\*\\*urgente\\*\\*" in card_title(at)


def test_an_unknown_phone_can_be_registered_with_its_first_interest(db: Path) -> None:
    at = search_for(open_app(), "(31) 9 9111-2233")
    assert "Nenhum cliente encontrado" in at.info[0].value
    at.selectbox(key="clientes_new_store").select("Vitrine Savassi")
    at.text_input(key="clientes_new_name").input("Rita Moura")
    choose_products(at, "Cartier Love", "Trinity", prefix="clientes_new")
    save(at, prefix="clientes_new")
    saved = SqliteStore(db).find("Vitrine Savassi", "+5531991112233")
    assert (saved.name, saved.interests) == ("Rita Moura", ["Cartier Love", "Trinity"])
    assert card_title(at) == "Rita Moura"
    assert tile(at, "Interesses") == "2"


def test_a_number_of_a_store_not_chosen_opens_there_instead_of_a_new_record(db: Path) -> None:
    leblon = data_of(db, (LEBLON,)).customers
    customer = leblon[leblon["phone"].notna()].iloc[0]
    at = open_app()
    at.multiselect(key="app_stores").set_value([JARDINS]).run()
    search_for(at, customer["phone"])
    assert f"loja {LEBLON}, que não está entre as lojas escolhidas" in at.warning[0].value
    assert "Cadastrar e registrar" not in [b.label for b in at.button]
    at.button(key="clientes_open_store").click().run()
    assert not at.exception
    assert at.multiselect(key="app_stores").value == [JARDINS, LEBLON]
    assert card_title(at) == (plain(customer["name"]) or "Cliente sem nome")


def test_one_phone_with_and_without_the_ninth_digit_is_one_card_and_can_be_united(db: Path) -> None:
    twins = [
        {**KNOWN, "id": "recTwinOld", "phone": "+551187650000", "name": "Carla Nunes",
         "interests": ["Submariner", "Datejust"], "interests_all": ["Submariner", "Datejust"],
         "last_interaction": "2025-10-01T10:00:00Z"},
        {**KNOWN, "id": "recTwinNew", "phone": "+5511987650000", "name": "Carla Nunes",
         "interests": ["Daytona"], "interests_all": ["Daytona"], "last_interaction": "2026-02-20T10:00:00Z"},
    ]
    SqliteStore(db).insert_raw(twins)
    at = search_for(open_app(), "Carla Nunes")
    assert card_title(at) == "Carla Nunes"  # one person: opened at once
    assert table(at, "Produto")["Produto"].tolist() == ["Submariner", "Datejust", "Daytona"]
    assert any("2 cadastros do mesmo telefone" in m.value for m in at.markdown)
    at.button(key="clientes_unite").click().run()
    assert not at.exception
    assert "Cadastros unidos" in at.success[0].value
    store = SqliteStore(db)
    kept = store.find(JARDINS, "+551187650000")
    assert (kept.id, kept.phone) == ("recTwinNew", "+5511987650000")
    assert kept.interests_all == ["Submariner", "Datejust", "Daytona"]
    assert "recTwinOld" not in set(store.raw_customers([JARDINS])["id"])
    assert not any("cadastros do mesmo telefone" in m.value for m in at.markdown)


def test_an_in_store_note_does_not_read_every_customer_again(db: Path, monkeypatch) -> None:
    from dashboard import state

    reads = []
    real = state.snapshot.customer_data
    monkeypatch.setattr(state.snapshot, "customer_data", lambda *a, **k: reads.append(a) or real(*a, **k))
    at = search_for(open_app(), "(11) 9 8765-4321")
    assert len(reads) == 1
    save(choose_products(at, "Daytona"))
    assert tile(at, "Interesses") == "12"
    assert len(reads) == 1


def test_a_result_list_holding_an_unreadable_phone_still_shows(db: Path) -> None:
    data = data_of(db)
    bad = data.customers[data.customers["phone"].isna() & (data.customers["name"] != "")]
    first_names = [name.split()[0] for name in bad["name"]]
    word = next(w for w in first_names if len(lookup(data, w).people) > 1)
    at = search_for(open_app(), word)
    options = at.radio(key="clientes_pick").options
    shown = [label for label in options if label.split(" · ")[0] in set(bad["name"])]
    assert shown
    assert all(label.endswith(("sem telefone",)) or "final " in label for label in shown)


def timeline_lines(at) -> list[str]:
    """The card's timeline, newest first, as the list items on screen."""
    (shown,) = [m.value for m in at.markdown if " — " in m.value and m.value.startswith("- ")]
    return [line.removeprefix("- ") for line in shown.splitlines()]


def test_an_in_store_note_shows_on_the_timeline_dated_and_placed(db: Path) -> None:
    at = search_for(open_app(), "(11) 9 8765-4321")
    assert "Nenhum evento datado ainda." in [c.value for c in at.caption]
    save(choose_products(at, "Daytona"))
    assert not at.exception
    assert timeline_lines(at)[:2] == [plain("hoje · na loja — Visitou a loja (Daytona)"),
                                      plain("hoje · na loja — Perguntou por Daytona")]


def test_a_purchase_recorded_on_the_card_shows_with_its_value(db: Path) -> None:
    at = search_for(open_app(), "(11) 9 8765-4321")
    at.selectbox(key="clientes_purchase_product").set_value("Aquanaut")
    at.number_input(key="clientes_purchase_value").set_value(215000.0)
    at.button(key="FormSubmitter:clientes_purchase_form-Registrar compra").click().run()
    assert not at.exception
    assert timeline_lines(at)[0] == plain("hoje · na loja — Comprou Aquanaut (R$ 215.000,00)")
    (bought,) = [e for e in SqliteStore(db).events.for_customer(KNOWN["id"]) if e.kind == "compra"]
    assert bought.value_brl == 215000.0 and bought.at == NOW


def test_a_purchase_without_a_value_is_refused_on_screen(db: Path) -> None:
    at = search_for(open_app(), "(11) 9 8765-4321")
    at.selectbox(key="clientes_purchase_product").set_value("Aquanaut")
    at.button(key="FormSubmitter:clientes_purchase_form-Registrar compra").click().run()
    assert "maior que zero" in at.error[0].value
    assert not SqliteStore(db).events.for_customer(KNOWN["id"])


def test_a_demo_customer_shows_dated_interests_newest_first(db: Path) -> None:
    store = SqliteStore(db)
    with_events = store.events.frame()
    customer_id = with_events["customer_id"].iloc[-1]
    phone = store.raw_customers(store.stores()).set_index("id").loc[customer_id, "phone"]
    at = search_for(open_app(), phone)
    newest = store.events.for_customer(customer_id)[0]
    assert timeline_lines(at)[0].startswith(plain(f"{when(newest.at, NOW)} · "))
