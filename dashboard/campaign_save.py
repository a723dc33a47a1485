"""Saved campaigns on Campanhas (SPEC §12): save the list on screen, reopen, download the group sent,
rename, delete (admins)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime

import pandas as pd
import streamlit as st

from dashboard import state
from dashboard.downloads import Export, download_button
from dashboard.format import date as ddmmyyyy
from dashboard.format import number, phone, plain
from dashboard.state import Context
from services import config
from services.audit import DASHBOARD, AuditLog
from services.campaign_lists import (
    DELETED,
    audit_entry,
    counts,
    freeze,
    sending_rows,
    sent_moment,
)
from services.campaigns import (
    CONTROLE,
    DEFAULT_CONTROL_SHARE,
    ENVIO,
    MAX_CONTROL_SHARE,
    Campaign,
    InvalidCampaign,
)
from services.exports import export_filename, to_csv, to_xlsx
from services.interests import now_utc
from services.links import ProductLinks
from services.messages import Templates, template_fields
from services.segments import PRIMARY, SECONDARY, TIER_LABELS, CampaignList, Preset, build_list
from services.store.campaigns import CampaignStore

GROUP_LABELS = {ENVIO: "envio", CONTROLE: "controle"}
PREVIEW_ROWS = 200
WHEN_DOWNLOADED, WHEN_GIVEN = "download", "data"
WHEN_LABELS = {WHEN_DOWNLOADED: "Quando eu baixar a lista", WHEN_GIVEN: "Já enviei, na data abaixo"}


def campaign_store(ctx: Context) -> CampaignStore:
    """The campaigns kept in the data file (reads only when the file is read-only)."""
    return CampaignStore(ctx.repository.path, read_only=bool(getattr(ctx.repository, "read_only", False)))


def vitrine_settings() -> Mapping[str, object] | None:
    """The ``[vitrine]`` section of the secrets, if any."""
    try:
        section = st.secrets.get("vitrine")
    except Exception:  # no secrets file at all
        return None
    return section if isinstance(section, Mapping) else None


def links_for(ctx: Context, name: str) -> ProductLinks:
    """What ``{link}`` needs for a campaign called ``name``: product pages and the base URL."""
    return ProductLinks(name, config.product_base_url(vitrine_settings()), ctx.repository.product_urls())


def default_name(preset: Preset | None, result: CampaignList, now: datetime) -> str:
    """``"De volta ao estoque: Submariner — 01/03/2026"``."""
    label = preset.label if preset else "Campanha personalizada"
    terms = ", ".join(result.segment.terms)
    return f"{label}{': ' + terms if terms else ''} — {now:%d/%m/%Y}"


def save(ctx: Context, result: CampaignList, preset: Preset | None, templates: Templates, name: str,
         control_share: float, sent_at: datetime | None) -> tuple[Campaign, pd.DataFrame]:
    """Freeze the list on screen as a campaign, save it and write the audit line; returns it saved.

    A template with ``{link}`` is rendered again with the campaign's name (its ``utm_campaign``):
    the same data, segment and reference time give the same members.
    """
    if any("link" in template_fields(text or "") for text in (templates.primary, templates.secondary)):
        result = build_list(ctx.data, result.segment, ctx.now, templates, links=links_for(ctx, name))
    campaign, members = freeze(
        result, name=name, preset=preset.key if preset else None, templates=templates,
        created_by=ctx.viewer.who, created_at=ctx.now, control_share=control_share, sent_at=sent_at,
        known_titles=ctx.data.products["title"].dropna().astype(str).tolist(),
    )
    cid = campaign_store(ctx).save(campaign, members)
    saved = dataclasses.replace(campaign, id=cid)
    AuditLog(ctx.repository.path).append(
        audit_entry(saved, len(members), ctx.viewer.who, now_utc(), channel=DASHBOARD))
    return saved, members.assign(campaign_id=cid)


def save_form(ctx: Context, result: CampaignList, preset: Preset | None, templates: Templates,
              key: str = "campanhas") -> None:
    """"Salvar como campanha": name, control share and sending date; then the saved campaign's panel."""
    flash = st.session_state.pop(f"{key}_save_flash", None)
    if result.total:
        # The suggested name follows the list (preset, terms) until the manager types one.
        suggested = default_name(preset, result, ctx.now)
        if st.session_state.get(f"{key}_save_suggested") != suggested:
            st.session_state[f"{key}_save_suggested"] = st.session_state[f"{key}_save_name"] = suggested
        with st.form(f"{key}_save_form", border=True):
            st.markdown("**Salvar como campanha** (para medir os resultados depois)")
            name = st.text_input("Nome da campanha", max_chars=120, key=f"{key}_save_name")
            share = st.slider("Grupo de controle (% de cada nível que não recebe nada)", min_value=0,
                              max_value=int(MAX_CONTROL_SHARE * 100), value=int(DEFAULT_CONTROL_SHARE * 100),
                              step=1, format="%d%%", key=f"{key}_save_control",
                              help="Sorteados em cada nível; servem de comparação para saber o efeito da "
                                   "mensagem. O arquivo baixado da campanha não os inclui.")
            when_col, day_col = st.columns(2)
            when = when_col.radio("Data de envio", list(WHEN_LABELS), format_func=WHEN_LABELS.get,
                                  key=f"{key}_save_when")
            day = day_col.date_input("Enviada em", value=ctx.now.date(), max_value=ctx.now.date(),
                                     format="DD/MM/YYYY", key=f"{key}_save_day")
            st.caption("O campo `{link}` é preenchido ao salvar: a página do produto com as etiquetas da "
                       "campanha e do nível (utm_campaign, utm_content).")
            submitted = st.form_submit_button("Salvar campanha", type="primary", icon=":material/save:")
        if submitted:
            sent_at = sent_moment(day, ctx.now) if when == WHEN_GIVEN else None
            try:
                saved, members = save(ctx, result, preset, templates, name, share / 100, sent_at)
            except InvalidCampaign as error:
                st.error(plain(str(error)).capitalize(), icon=":material/error:")
            else:
                held = int((members["group"] == CONTROLE).sum())
                st.session_state[f"{key}_save_flash"] = (
                    f"Campanha “{saved.name}” salva: {number(len(members) - held)} para envio e "
                    f"{number(held)} no grupo de controle. Baixe a lista abaixo: o controle fica de fora.")
                st.session_state[f"{key}_just_saved"] = saved.id
                st.rerun()
    if flash:
        st.success(flash, icon=":material/check_circle:")
    cid = st.session_state.get(f"{key}_just_saved")
    if cid is not None:
        store = campaign_store(ctx)
        try:
            campaign, members = store.get(cid)
        except LookupError:  # deleted meanwhile
            st.session_state.pop(f"{key}_just_saved", None)
            return
        with st.container(border=True):
            panel(ctx, campaign, members, key=f"{key}_novo", base=key)


def saved_campaigns(ctx: Context, key: str = "campanhas") -> None:
    """The campaigns saved in the stores this user may see: reopen one as it was saved."""
    store = campaign_store(ctx)
    found = store.list(stores=ctx.allowed)
    opened = st.session_state.get(f"{key}_opened")
    with st.expander(f"Campanhas salvas ({number(len(found))})", icon=":material/bookmarks:",
                     expanded=opened is not None):
        if not found:
            st.caption("Nenhuma campanha salva ainda: monte uma lista abaixo e salve-a.")
            return
        by_id = {c.id: c for c in found}
        choice = st.selectbox("Abrir campanha", options=list(by_id), index=None, key=f"{key}_opened",
                              format_func=lambda cid: label(by_id[cid]),
                              placeholder="Escolha uma campanha salva")
        if choice is None:
            return
        try:
            campaign, members = store.get(choice)
        except LookupError:  # deleted in another session
            st.caption("Esta campanha não existe mais.")
            return
        panel(ctx, campaign, members, key=f"{key}_salva", base=key)


def label(campaign: Campaign) -> str:
    """How a campaign is named in a list: ``"Submariner de volta · enviada 25/02/2026"``."""
    sent = f"enviada {ddmmyyyy(campaign.sent_at)}" if campaign.sent_at else "não enviada"
    return f"{campaign.name} · {sent}"


def panel(ctx: Context, campaign: Campaign, members: pd.DataFrame, key: str, base: str = "campanhas") -> None:
    """A saved campaign as it was saved: counts per tier and group, downloads of the group sent,
    its members and messages, rename, and delete for admins (``base``: the page's key prefix)."""
    st.markdown(f"**{plain(campaign.name)}**")
    sent = (f"enviada em {ddmmyyyy(campaign.sent_at)}" if campaign.sent_at
            else "ainda não enviada: a data de envio é marcada quando a lista for baixada")
    st.caption(f"Salva por {plain(campaign.created_by)} em {ddmmyyyy(campaign.created_at)} · "
               f"{plain(', '.join(campaign.stores))} · {sent} · controle de "
               f"{campaign.control_share:.0%} por nível (semente {campaign.seed})")
    tally = counts(members)
    tiles = st.columns(4)
    for column, (tier, group) in zip(tiles, [(t, g) for t in (PRIMARY, SECONDARY) for g in (ENVIO, CONTROLE)],
                                     strict=True):
        column.metric(f"{TIER_LABELS[tier].capitalize()}: {GROUP_LABELS[group]}", number(tally[tier][group]))
    rows = sending_rows(members)
    downloads(ctx, campaign, rows, key)
    st.dataframe(member_table(members), hide_index=True, width="stretch", height=300, key=f"{key}_membros",
                 column_config={"Mensagem": st.column_config.TextColumn(width="large")})
    if len(members) > PREVIEW_ROWS:
        st.caption(f"Mostrando {number(PREVIEW_ROWS)} de {number(len(members))} clientes.")
    manage(ctx, campaign, len(members), key, base)


def member_table(members: pd.DataFrame, limit: int = PREVIEW_ROWS) -> pd.DataFrame:
    """The first ``limit`` members as the panel shows them."""
    shown = members.head(limit)
    return pd.DataFrame({
        "Nível": shown["tier"].map(TIER_LABELS),
        "Grupo": shown["group"].map(GROUP_LABELS),
        "Nome": shown["name"].replace("", "—"),
        "Telefone": shown["phone"].map(phone),
        "Produtos": shown["matched"].map(", ".join),
        "Loja": shown["store"],
        "Mensagem": shown["message"].where(shown["group"] == ENVIO, "— (controle: não recebe)"),
    }).reset_index(drop=True)


def _sent_on_download(path: str, cid: int, build: Callable[[], bytes]) -> Callable[[], bytes]:
    """The file's bytes; the first download of a campaign not yet sent marks it sent now."""
    def produce() -> bytes:
        data = build()
        CampaignStore(path).mark_sent(cid, state.reference_time())
        return data

    return produce


def downloads(ctx: Context, campaign: Campaign, rows: pd.DataFrame, key: str) -> None:
    """CSV and XLSX of the group sent (the control group is never in the file), audited."""
    cid = int(campaign.id or 0)
    path = str(ctx.repository.path)
    read_only = bool(getattr(ctx.repository, "read_only", False))
    audit = {"campaign_id": cid, "campaign": campaign.name, "preset": campaign.preset,
             **dict(campaign.segment), "templates": dict(campaign.templates), "group": ENVIO}

    def file(fmt: str, build: Callable[[], bytes]) -> Export:
        made = build if read_only else _sent_on_download(path, cid, build)
        return Export(build=made, file_name=export_filename(campaign.name, ctx.now, fmt), fmt=fmt,
                      rows=len(rows), segment=audit)

    csv_col, xlsx_col = st.columns(2)
    with csv_col:
        download_button(ctx, file("csv", lambda: to_csv(rows)), "Baixar CSV da campanha (só envio)",
                        key=f"{key}_{cid}_csv", icon=":material/download:")
    with xlsx_col:
        download_button(ctx, file("xlsx", lambda: to_xlsx(rows)), "Baixar XLSX da campanha (só envio)",
                        key=f"{key}_{cid}_xlsx", icon=":material/table_view:")


def manage(ctx: Context, campaign: Campaign, members: int, key: str, base: str) -> None:
    """Rename (everyone who sees it) and delete (admins only, confirmed)."""
    if getattr(ctx.repository, "read_only", False):
        return
    cid = int(campaign.id or 0)
    store = campaign_store(ctx)
    rename_col, delete_col = st.columns(2)
    with rename_col, st.form(f"{key}_{cid}_rename_form", border=False):
        name = st.text_input("Novo nome", value=campaign.name, max_chars=120, key=f"{key}_{cid}_rename")
        if st.form_submit_button("Renomear", icon=":material/edit:"):
            try:
                store.rename(cid, name)
            except InvalidCampaign as error:
                st.error(plain(str(error)).capitalize())
            else:
                st.rerun()
    if not ctx.viewer.admin:
        return
    with delete_col, st.form(f"{key}_{cid}_delete_form", border=False):
        sure = st.checkbox("Excluir esta campanha e os seus resultados", key=f"{key}_{cid}_sure")
        if st.form_submit_button("Excluir campanha", icon=":material/delete:") and sure:
            store.delete(cid)
            AuditLog(ctx.repository.path).append(
                audit_entry(campaign, members, ctx.viewer.who, now_utc(), channel=DASHBOARD, action=DELETED))
            for name in (f"{base}_opened", f"{base}_just_saved"):
                if st.session_state.get(name) == cid:
                    st.session_state.pop(name, None)
            st.rerun()
