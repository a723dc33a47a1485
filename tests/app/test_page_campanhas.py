"""Campanhas (AppTest): every control changes the tiers and counts exactly as the services compute them."""

from __future__ import annotations

import json
from pathlib import Path

from apptest_support import LEBLON, NOW, ROOT, data_of, open_app
from streamlit.testing.v1 import AppTest

from dashboard.campaign import preview_table
from services.exports import EXPORT_HEADERS, whatsapp_link
from services.messages import Templates
from services.segments import EXCLUSION_REASONS, PRESETS, Segment, build_list

TIERS = ("Principal", "Secundário", "Total na lista")
REASONS = dict(zip(EXCLUSION_REASONS, ("Pediram para sair", "Sem telefone válido", "Em conversa agora",
                                       "Mesmo WhatsApp"), strict=True))


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def shown_counts(at) -> tuple[int, ...]:
    """The tier tiles; a list with one tier shows only its total (no "principal"/"secundário")."""
    values = metrics(at)
    if TIERS[0] not in values:
        assert TIERS[1] not in values
        return 0, 0, int(values[TIERS[2]].replace(".", ""))
    return tuple(int(values[label].replace(".", "")) for label in TIERS)


def expected_counts(result) -> tuple[int, ...]:
    if not result.counts["secondary"] and (result.segment.scope == "recent" or not result.segment.terms):
        return 0, 0, result.total
    return result.counts["primary"], result.counts["secondary"], result.total


def shown_excluded(at) -> dict[str, int]:
    values = metrics(at)
    return {reason: int(values[label].replace(".", "")) for reason, label in REASONS.items()}


def preview(at):
    return next(d.value for d in at.dataframe if "Por que está na lista" in d.value.columns)


def with_terms(at, *terms: str):
    at.multiselect(key="campanhas_terms").set_value(list(terms)).run()
    assert not at.exception
    return at


def test_a_preset_about_a_product_asks_for_it_before_building_a_list(db: Path) -> None:
    at = open_app("campanhas")
    assert at.segmented_control(key="campanhas_preset").value == "estoque"
    assert "Escolha o produto" in at.info[0].value
    assert "Total na lista" not in metrics(at)


def test_back_in_stock_for_submariner_shows_the_tiers_the_services_compute(db: Path) -> None:
    at = with_terms(open_app("campanhas"), "Submariner")
    data = data_of(db)
    segment = PRESETS["estoque"].segment_for(["Submariner"], stores=data.stores)
    result = build_list(data, segment, NOW, PRESETS["estoque"].templates)
    assert shown_counts(at) == expected_counts(result)
    assert result.counts["primary"] > 0 and result.counts["secondary"] > 0
    assert shown_excluded(at) == result.excluded
    # The data on screen is already the chosen stores': nobody can be "of another store".
    assert "De outra loja" not in metrics(at)
    table = preview(at)
    expected = preview_table(result)
    assert list(table.columns) == list(expected.columns)
    assert table.astype(str).to_numpy().tolist() == expected.astype(str).to_numpy().tolist()
    assert table["Por que está na lista"].iloc[0] == "pediu agora: " + result.rows["matched"].iloc[0]
    first = result.rows.iloc[0]
    assert table["WhatsApp"].iloc[0] == whatsapp_link(first["phone"], first["message"])
    assert table["WhatsApp"].iloc[0].startswith("https://wa.me/" + first["phone"][1:] + "?text=")
    assert any(c.value.startswith(f"Mostrando {min(200, result.total)} de") for c in at.caption)


def test_scope_recent_drops_the_secondary_tier_and_its_message(db: Path) -> None:
    at = with_terms(open_app("campanhas"), "Submariner")
    assert len(at.text_area) == 2
    at.radio(key="campanhas_scope").set_value("recent").run()
    data = data_of(db)
    result = build_list(data, Segment(("Submariner",), scope="recent", quiet_days=7, stores=data.stores), NOW)
    assert shown_counts(at) == expected_counts(result)
    assert result.counts["secondary"] == 0
    assert len(at.text_area) == 1
    # One tier: no tier words anywhere (tiles, message label, preview).
    assert at.text_area[0].label == "Mensagem"
    assert "Nível" not in preview(at).columns
    assert not preview(at)["Por que está na lista"].str.contains("agora|antes").any()


def test_quiet_inactive_and_depth_filters_change_the_counts_like_the_services(db: Path) -> None:
    at = with_terms(open_app("campanhas"), "Rolex")
    data = data_of(db)
    at.number_input(key="campanhas_quiet").set_value(0).run()
    result = build_list(data, Segment(("Rolex",), quiet_days=0, stores=data.stores), NOW)
    assert shown_counts(at) == expected_counts(result)
    assert shown_excluded(at)["recently_active"] == 0
    at.number_input(key="campanhas_inactive").set_value(30).run()
    at.number_input(key="campanhas_min_depth").set_value(4).run()
    at.number_input(key="campanhas_max_depth").set_value(9).run()
    narrowed = build_list(data, Segment(("Rolex",), quiet_days=0, inactive_days=30, min_depth=4,
                                        max_depth=9, stores=data.stores), NOW)
    assert shown_counts(at) == expected_counts(narrowed)
    assert narrowed.total < result.total


def test_contradictory_depths_are_an_error_on_screen(db: Path) -> None:
    at = with_terms(open_app("campanhas"), "Rolex")
    at.number_input(key="campanhas_min_depth").set_value(9).run()
    at.number_input(key="campanhas_max_depth").set_value(3).run()
    assert not at.exception
    assert "profundidade mínima" in at.error[0].value


def test_the_reengagement_preset_sets_its_filters_and_needs_no_terms(db: Path) -> None:
    at = with_terms(open_app("campanhas"), "Submariner")
    at.segmented_control(key="campanhas_preset").set_value("reengajamento").run()
    assert not at.exception
    assert at.multiselect(key="campanhas_terms").value == []
    assert at.number_input(key="campanhas_inactive").value == 60
    assert at.number_input(key="campanhas_min_depth").value == 4
    data = data_of(db)
    preset = PRESETS["reengajamento"]
    result = build_list(data, preset.segment_for(stores=data.stores), NOW, preset.templates)
    assert shown_counts(at) == expected_counts(result)
    assert preview(at)["Por que está na lista"].iloc[0].startswith("sem conversa há")


def test_an_edited_message_is_rendered_for_a_real_customer(db: Path) -> None:
    at = with_terms(open_app("campanhas"), "Submariner")
    template = "Olá {first_name}! O {product} chegou na {store}."
    at.text_area(key="campanhas_msg_estoque_primary").input(template).run()
    data = data_of(db)
    segment = PRESETS["estoque"].segment_for(["Submariner"], stores=data.stores)
    result = build_list(data, segment, NOW, Templates(template, PRESETS["estoque"].templates.secondary))
    first = result.rows.iloc[0]
    assert at.text[0].value == first["message"]
    assert first["message"].startswith("Olá ") and "Submariner chegou na Vitrine" in first["message"]
    assert preview(at)["Mensagem"].iloc[0] == first["message"]


def test_downloads_are_offered_for_the_whole_list(db: Path) -> None:
    at = with_terms(open_app("campanhas"), "Submariner")
    buttons = at.get("download_button")
    assert [b.proto.label for b in buttons] == ["Baixar CSV (para envio)",
                                                "Baixar XLSX (Excel)", "Baixar quem ficou de fora"]
    assert not any(b.proto.disabled for b in buttons)


def test_the_preview_keeps_name_and_whatsapp_in_view_and_speaks_like_the_downloads(db: Path) -> None:
    at = with_terms(open_app("campanhas"), "Submariner")
    table = preview(at)
    assert list(table.columns[:2]) == ["Nome", "WhatsApp"]
    frame = next(d for d in at.dataframe if "Por que está na lista" in d.value.columns)
    pinned = [c for c, conf in json.loads(frame.proto.columns).items() if conf.get("pinned")]
    assert pinned == ["Nome", "WhatsApp"]
    assert set(table.columns) - {"Por que está na lista"} <= set(EXPORT_HEADERS.values())


def test_an_empty_list_says_so_and_offers_no_download(db: Path) -> None:
    at = with_terms(open_app("campanhas"), "Produto Que Ninguém Pediu")
    assert "Nenhum cliente na lista" in at.info[0].value
    assert all(b.proto.disabled for b in at.get("download_button"))


def test_choosing_one_store_scopes_the_list(db: Path) -> None:
    at = open_app("campanhas")
    at.multiselect(key="app_stores").set_value([LEBLON]).run()
    with_terms(at, "Submariner")
    data = data_of(db, (LEBLON,))
    result = build_list(data, PRESETS["estoque"].segment_for(["Submariner"], stores=[LEBLON]), NOW)
    assert shown_counts(at) == expected_counts(result)
    assert set(preview(at)["Loja"]) == {LEBLON}


def test_an_edited_message_survives_a_switch_to_another_preset_and_back(db: Path) -> None:
    at = with_terms(open_app("campanhas"), "Submariner")
    edited = "Oi {primeiro_nome}, o {produto} voltou!"
    at.text_area(key="campanhas_msg_estoque_primary").input(edited).run()
    at.segmented_control(key="campanhas_preset").set_value("marca").run()
    assert at.text_area(key="campanhas_msg_marca_primary").value == PRESETS["marca"].templates.primary
    at.segmented_control(key="campanhas_preset").set_value("estoque").run()
    assert not at.exception
    assert at.text_area(key="campanhas_msg_estoque_primary").value == edited


def test_a_reload_restores_the_campaign_and_its_edited_message_from_the_address(db: Path) -> None:
    edited = "Novidades {marca} na {loja}!"
    # A new session opening the page at the address the browser holds after the edit: the
    # preset and the messages are bound to it.
    at = AppTest.from_file(str(ROOT / "pages" / "campanhas.py"), default_timeout=60)
    at.secrets = {"_": {}}
    at.query_params.update({"campanhas_preset": "Fãs da marca", "campanhas_msg_marca_primary": edited})
    at.run()
    assert not at.exception
    assert at.segmented_control(key="campanhas_preset").value == "marca"
    message = at.text_area(key="campanhas_msg_marca_primary")
    assert message.value == edited
    assert message.proto.query_param_key == "campanhas_msg_marca_primary"
    # The preset's own filters, not the default preset's.
    assert at.number_input(key="campanhas_inactive").value == 60


def test_placeholder_buttons_insert_the_portuguese_names(db: Path) -> None:
    at = with_terms(open_app("campanhas"), "Submariner")
    field = "campanhas_msg_estoque_primary"
    at.text_area(key=field).input("Olá").run()
    at.button(key=f"{field}_add_primeiro_nome").click().run()
    assert at.text_area(key=field).value == "Olá {primeiro_nome}"
    labels = [b.label for b in at.button if b.key and b.key.startswith(f"{field}_add_")]
    assert labels == ["{primeiro_nome}", "{nome}", "{produto}", "{marca}", "{marcas}", "{loja}"]
    assert at.text[0].value.startswith("Olá ") and "{" not in at.text[0].value
