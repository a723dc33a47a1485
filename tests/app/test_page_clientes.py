"""Clientes (AppTest): lookup, the card as the services compute it, and an in-store note."""

from __future__ import annotations

from pathlib import Path

from apptest_support import HOSTILE, JARDINS, KNOWN, KNOWN_PHONE, LEBLON, NOW, data_of, open_app

from dashboard.format import plain
from services.profile import profile
from services.search import search
from services.store.sqlite import SqliteStore


def search_for(at, text: str):
    at.text_input(key="clientes_query").input(text).run()
    assert not at.exception
    return at


def card_title(at) -> str:
    return at.subheader[0].value


def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


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
    assert metric(at, "Interesses no histórico") == str(expected.depth) == "11"
    assert metric(at, "Último contato") == f"há {expected.days_since} dias"
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


def test_a_name_with_several_matches_lists_them_and_the_choice_opens_that_card(db: Path) -> None:
    data = data_of(db)
    found = search(data, "silva", limit=None)
    assert len(found) > 2
    at = search_for(open_app(), "silva")
    assert any(c.value.startswith(f"{len(found)} clientes encontrados") for c in at.caption)
    shown = table(at, "Nome")
    assert shown["Nome"].tolist() == found["name"].head(50).tolist()
    assert card_title(at) == plain(found["name"][0])
    at.selectbox(key="clientes_pick").select(found["id"][2]).run()
    expected = profile(data, int(found["cid"][2]), NOW)
    assert card_title(at) == plain(expected.name)
    assert metric(at, "Interesses no histórico") == str(expected.depth)


def test_nobody_found_says_so(db: Path) -> None:
    at = search_for(open_app(), "Zuleica Inexistente")
    assert "Nenhum cliente encontrado" in at.info[0].value
    assert not at.subheader


def test_a_customer_of_a_store_not_chosen_is_not_found(db: Path) -> None:
    at = open_app()
    at.multiselect(key="app_stores").set_value([LEBLON]).run()
    search_for(at, "(11) 9 8765-4321")
    assert "Nenhum cliente encontrado" in at.info[0].value


def test_recording_an_in_store_interest_shows_it_on_the_card_at_once(db: Path) -> None:
    at = search_for(open_app(), "(11) 9 8765-4321")
    at.text_input(key="clientes_record_products").input("Daytona")
    at.button(key="FormSubmitter:clientes_record_form-Registrar interesse").click().run()
    assert not at.exception
    saved = SqliteStore(db).find(JARDINS, KNOWN_PHONE)
    assert saved.interests[-1] == "Daytona" and len(saved.interests_all) == 12
    assert card_title(at) == KNOWN["name"]
    assert metric(at, "Interesses no histórico") == "12"
    chips = next(m for m in markdown_texts(at) if "gray-badge[" in m)
    assert chips.startswith(":gray-badge[Daytona · Rolex]")
    assert "Interesse registrado" in at.success[0].value
    assert table(at, "Produto")["Produto"].tolist()[-1] == "Daytona"


def test_a_note_without_products_is_refused_on_screen(db: Path) -> None:
    at = search_for(open_app(), "(11) 9 8765-4321")
    before = SqliteStore(db).version()
    at.button(key="FormSubmitter:clientes_record_form-Registrar interesse").click().run()
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
    at.text_input(key="clientes_new_products").input("Cartier Love, Trinity")
    at.button(key="FormSubmitter:clientes_new_form-Cadastrar e registrar").click().run()
    assert not at.exception
    saved = SqliteStore(db).find("Vitrine Savassi", "+5531991112233")
    assert (saved.name, saved.interests) == ("Rita Moura", ["Cartier Love", "Trinity"])
    assert card_title(at) == "Rita Moura"
    assert metric(at, "Interesses no histórico") == "2"


def test_an_in_store_note_does_not_read_every_customer_again(db: Path, monkeypatch) -> None:
    from dashboard import state

    reads = []
    real = state.snapshot.customer_data
    monkeypatch.setattr(state.snapshot, "customer_data", lambda *a, **k: reads.append(a) or real(*a, **k))
    at = search_for(open_app(), "(11) 9 8765-4321")
    assert len(reads) == 1
    at.text_input(key="clientes_record_products").input("Daytona")
    at.button(key="FormSubmitter:clientes_record_form-Registrar interesse").click().run()
    assert metric(at, "Interesses no histórico") == "12"
    assert len(reads) == 1


def test_a_result_list_holding_an_unreadable_phone_still_shows(db: Path) -> None:
    data = data_of(db)
    bad = data.customers[data.customers["phone"].isna() & (data.customers["name"] != "")]
    first_names = [name.split()[0] for name in bad["name"]]
    word = next(w for w in first_names if len(search(data, w, limit=None)) > 1)
    at = search_for(open_app(), word)
    shown = table(at, "Nome")
    raw = dict(zip(bad["name"], bad["phone_raw"], strict=False))
    assert any(name in raw and tel == raw[name] for name, tel in zip(shown["Nome"], shown["Telefone"],
                                                                       strict=True))


def test_an_in_store_note_shows_on_the_timeline_dated_and_placed(db: Path) -> None:
    at = search_for(open_app(), "(11) 9 8765-4321")
    assert "Nenhum evento datado ainda." in [c.value for c in at.caption]
    at.text_input(key="clientes_record_products").input("Daytona")
    at.button(key="FormSubmitter:clientes_record_form-Registrar interesse").click().run()
    assert not at.exception
    events = table(at, "Quando")
    assert events["Quando"].tolist()[:2] == ["hoje · na loja", "hoje · na loja"]
    assert events["O quê"].tolist()[:2] == ["Visitou a loja", "Perguntou por"]
    assert events["Produtos"].tolist()[1] == "Daytona"


def test_a_purchase_recorded_on_the_card_shows_with_its_value(db: Path) -> None:
    at = search_for(open_app(), "(11) 9 8765-4321")
    at.selectbox(key="clientes_purchase_product").set_value("Aquanaut")
    at.number_input(key="clientes_purchase_value").set_value(215000.0)
    at.button(key="FormSubmitter:clientes_purchase_form-Registrar compra").click().run()
    assert not at.exception
    events = table(at, "Quando")
    assert events.iloc[0].tolist() == ["hoje · na loja", "Comprou", "Aquanaut", "R$ 215.000,00"]
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
    events = table(at, "Quando")
    assert len(events) >= 1 and "·" in events["Quando"].iloc[0]
