"""Saving a campaign on Campanhas (AppTest): the list on screen frozen with its control group, reopened
as saved, renamed, and deleted by an admin only."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from apptest_support import APP, JARDINS, NOW, data_of, open_app
from streamlit.testing.v1 import AppTest

from dashboard.campaign_save import _sent_on_download, member_table
from services.audit import CAMPAIGN_DELETED, CAMPAIGN_SAVED, AuditLog
from services.campaign_lists import counts
from services.campaigns import CONTROLE, ENVIO, held_out
from services.segments import PRESETS, PRIMARY, SECONDARY, build_list
from services.store.campaigns import CampaignStore

AUTH = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "test-cookie-secret-test-cookie-secret",
    "client_id": "vitrine", "client_secret": "vitrine-secret",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}
ACCESS = {"admins": ["dona@vitrine.com.br"], "stores": {"ana@vitrine.com.br": [JARDINS]}}
MANAGER = {"is_logged_in": True, "email": "ana@vitrine.com.br", "email_verified": True}


def submariner(at: AppTest) -> AppTest:
    at.multiselect(key="campanhas_terms").set_value(["Submariner"]).run()
    assert not at.exception
    return at


def save(at: AppTest, name: str, control: int = 10, day: datetime | None = None) -> AppTest:
    at.text_input(key="campanhas_save_name").input(name)
    at.slider(key="campanhas_save_control").set_value(control)
    if day is not None:
        at.radio(key="campanhas_save_when").set_value("data")
        at.date_input(key="campanhas_save_day").set_value(day.date())
    at.button(key="FormSubmitter:campanhas_save_form-Salvar campanha").click().run()
    assert not at.exception
    return at


def newest(db: Path):
    store = CampaignStore(db)
    return store.get(store.list()[0].id)


def test_saving_freezes_the_list_on_screen_with_an_exact_control_group(db: Path) -> None:
    at = save(submariner(open_app("campanhas")), "Submariner de volta — março", control=20)
    campaign, members = newest(db)
    data = data_of(db)
    preset = PRESETS["estoque"]
    expected = build_list(data, preset.segment_for(["Submariner"], stores=data.stores), NOW, preset.templates)
    assert campaign.name == "Submariner de volta — março" and campaign.preset == "estoque"
    assert campaign.created_by == "modo local" and campaign.terms == ("Submariner",)
    assert campaign.sent_at is None and campaign.control_share == 0.2
    assert members["customer_id"].tolist() == expected.rows.index.tolist()
    assert members["message"].tolist() == expected.rows["message"].tolist()
    tally = counts(members)
    for tier in (PRIMARY, SECONDARY):
        size = expected.counts[tier]
        assert tally[tier] == {ENVIO: size - held_out(size, 0.2), CONTROLE: held_out(size, 0.2)}
    assert "Campanha “Submariner de volta — março” salva" in at.success[0].value
    shown = {m.label: m.value for m in at.metric}
    assert shown["Principal: controle"] == str(tally[PRIMARY][CONTROLE])
    entry = AuditLog(db).entries().iloc[0]
    assert (entry["format"], entry["rows"], entry["who"]) == (CAMPAIGN_SAVED, len(members), "modo local")


def test_a_given_date_is_the_sending_date_and_a_download_keeps_it(db: Path) -> None:
    save(submariner(open_app("campanhas")), "Enviada antes", day=datetime(2026, 2, 25, tzinfo=UTC))
    campaign, _ = newest(db)
    assert campaign.sent_at == datetime(2026, 2, 25, tzinfo=UTC)
    assert _sent_on_download(str(db), campaign.id, lambda: b"x")() == b"x"
    assert newest(db)[0].sent_at == datetime(2026, 2, 25, tzinfo=UTC)


def test_the_first_download_of_an_unsent_campaign_dates_the_sending(db: Path, monkeypatch) -> None:
    save(submariner(open_app("campanhas")), "Enviada ao baixar")
    campaign, _ = newest(db)
    later = datetime(2026, 3, 2, 9, tzinfo=UTC)
    monkeypatch.setenv("VITRINE_NOW", later.isoformat())
    _sent_on_download(str(db), campaign.id, lambda: b"x")()
    assert newest(db)[0].sent_at == later


def test_a_saved_campaign_reopens_as_saved_and_can_be_renamed_and_deleted(db: Path) -> None:
    save(submariner(open_app("campanhas")), "Para reabrir")
    campaign, members = newest(db)
    at = open_app("campanhas")
    at.selectbox(key="campanhas_opened").select(campaign.id).run()
    table = next(d.value for d in at.dataframe if "Grupo" in d.value.columns)
    assert table.astype(str).to_numpy().tolist() == member_table(members).astype(str).to_numpy().tolist()
    assert (table["Grupo"] == "controle").sum() == (members["group"] == CONTROLE).sum()
    rename = f"campanhas_salva_{campaign.id}_rename"
    at.text_input(key=rename).input("Novo nome")
    at.button(key=f"FormSubmitter:{rename}_form-Renomear").click().run()
    assert newest(db)[0].name == "Novo nome"
    at.checkbox(key=f"campanhas_salva_{campaign.id}_sure").check()
    at.button(key=f"FormSubmitter:campanhas_salva_{campaign.id}_delete_form-Excluir campanha").click().run()
    assert not at.exception
    assert campaign.id not in [c.id for c in CampaignStore(db).list()]
    assert AuditLog(db).entries().iloc[0]["format"] == CAMPAIGN_DELETED


def test_a_manager_sees_only_campaigns_of_their_stores_and_cannot_delete(db: Path) -> None:
    save(submariner(open_app("campanhas")), "Todas as lojas")
    every, _ = newest(db)
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets = {"auth": AUTH, "access": ACCESS}
    at.user = MANAGER
    at.run()
    at.switch_page("../pages/campanhas.py").run()
    submariner(at)
    save(at, "Só Jardins")
    mine, _ = newest(db)
    assert mine.stores == (JARDINS,) and mine.created_by == "ana@vitrine.com.br"
    options = at.selectbox(key="campanhas_opened").options
    assert any("Só Jardins" in o for o in options) and not any("Todas as lojas" in o for o in options)
    at.selectbox(key="campanhas_opened").select(mine.id).run()
    assert not any(b.label == "Excluir campanha" for b in at.button)
    assert any(b.label == "Renomear" for b in at.button)
    assert every.id in [c.id for c in CampaignStore(db).list()]
