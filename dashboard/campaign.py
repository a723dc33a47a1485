"""Campaign builder pieces: preset, segment controls, messages, tier counts, preview and downloads."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pandas as pd
import streamlit as st

from dashboard.downloads import Export, download_button
from dashboard.format import number, phone, plain
from dashboard.state import Context
from services.catalog import suggestions
from services.exports import EXPORT_HEADERS, export_filename, left_out_xlsx, to_csv, to_xlsx, whatsapp_links
from services.messages import Templates, field_name, template_fields
from services.segments import (
    EXCLUSION_LABELS,
    EXCLUSION_REASONS,
    PRESETS,
    PRIMARY,
    SECONDARY,
    TIER_LABELS,
    CampaignList,
    Preset,
    Segment,
    build_list,
)

CUSTOM = "personalizada"
CUSTOM_LABEL = "Personalizada"
DEFAULT_PRESET = "estoque"
PREVIEW_ROWS = 200
SESSION = "session"  # campaign choices survive a visit to another page
TIER_HINTS = {PRIMARY: "interesse recente", SECONDARY: "interesse antigo"}
# The placeholders a button inserts, in the words the templates use (SPEC §5).
INSERTABLE = ("primeiro_nome", "nome", "produto", "marca", "marcas", "loja")
PLACEHOLDER_HELP = {
    "primeiro_nome": "O primeiro nome do cliente: Ana",
    "nome": "O nome completo: Ana Souza",
    "produto": "O produto mais recente que combina com a campanha",
    "marca": "A marca desse produto",
    "marcas": "As marcas do cliente, até 3: Rolex, Cartier e Omega",
    "loja": "A loja do cliente",
}
SCOPE_LABELS = {
    "recent": "Só interesses recentes (últimos 5)",
    "all": "Recentes e todo o histórico",
}
EXCLUSION_SHORT = {
    "opted_out": "Pediram para sair",
    "invalid_phone": "Sem telefone válido",
    "recently_active": "Em conversa agora",
    "duplicate_phone": "Mesmo WhatsApp",
}


def _keys(key: str) -> dict[str, str]:
    return {name: f"{key}_{name}" for name in (
        "preset", "terms", "scope", "quiet", "inactive", "min_depth", "max_depth")}


def message_key(key: str, preset: str | None, tier: str) -> str:
    """The session (and URL) key of one preset's message for one tier: each preset keeps its own
    edits, so switching to another campaign and back, or reloading the page, loses none."""
    return f"{key}_msg_{preset or CUSTOM}_{tier}"


def _apply_filters(key: str, name: str) -> None:
    """Set the segment controls to the preset's defaults.

    The user's terms stay for a preset about a product or brand; a preset without
    terms (re-engagement) starts without them. Messages are not touched: each preset
    keeps its own (``message_key``).
    """
    keys = _keys(key)
    preset = PRESETS.get(name or "")
    if preset is None:
        return
    segment = preset.segment
    if not preset.needs_terms:
        st.session_state[keys["terms"]] = list(segment.terms)
    st.session_state[keys["scope"]] = segment.scope
    st.session_state[keys["quiet"]] = segment.quiet_days
    st.session_state[keys["inactive"]] = segment.inactive_days
    st.session_state[keys["min_depth"]] = segment.min_depth
    st.session_state[keys["max_depth"]] = segment.max_depth


def _apply_preset(key: str) -> None:
    _apply_filters(key, st.session_state.get(_keys(key)["preset"]) or "")


def preset_picker(key: str = "campanhas") -> Preset | None:
    """The four presets and "Personalizada"; returns the preset (None for custom).

    The choice lives in the URL too, so a reload comes back to the campaign being edited.
    """
    keys = _keys(key)
    options = [*PRESETS, CUSTOM]
    labels = {name: preset.label for name, preset in PRESETS.items()} | {CUSTOM: CUSTOM_LABEL}
    if keys["scope"] not in st.session_state:
        # The first run of a session: the filters of the preset shown (the address holds its label
        # after a reload).
        by_label = {label: name for name, label in labels.items()}
        shown = st.session_state.get(keys["preset"]) or by_label.get(st.query_params.get(keys["preset"], ""))
        _apply_filters(key, shown or DEFAULT_PRESET)
    chosen = st.segmented_control(
        "Campanha", options=options, format_func=labels.get, key=keys["preset"], default=DEFAULT_PRESET,
        on_change=_apply_preset, args=(key,), required=True, persist_state=SESSION, bind="query-params",
    )
    preset = PRESETS.get(chosen or "")
    st.caption(preset.description if preset else
               "Combine termos, escopo e filtros livremente; sem termos, entram todos que passam "
               "pelos filtros.")
    return preset


def segment_controls(ctx: Context, preset: Preset | None, key: str = "campanhas") -> Segment:
    """Terms, scope, quiet and inactive days, depth range; returns the segment they describe."""
    terms_picker(ctx, key)
    return filter_controls(ctx, key)


def terms_picker(ctx: Context, key: str = "campanhas") -> None:
    """The products, model lines or brands of the campaign."""
    keys = _keys(key)
    st.multiselect(
        "Produtos, linhas ou marcas",
        options=suggestions(ctx.data.products),
        key=keys["terms"],
        accept_new_options=True,
        persist_state=SESSION,
        placeholder="Ex.: Submariner, Patek Philippe, joia",
        select_all=False,
        help="Qualquer um dos termos: o nome do produto, da linha ou da marca, ou uma categoria "
             "(joia, relógio). Digite um termo que não está na lista e tecle Enter.",
    )


def filter_controls(ctx: Context, key: str = "campanhas") -> Segment:
    """Scope, quiet and inactive days, depth range (folded under one line that says them); returns
    the segment of the terms and filters."""
    keys = _keys(key)
    with st.expander(filters_summary(key), icon=":material/tune:"):
        scope_col, quiet_col, inactive_col, min_col, max_col = st.columns([2.2, 1, 1, 1, 1])
        with scope_col:
            st.radio("Onde procurar", options=list(SCOPE_LABELS), format_func=SCOPE_LABELS.get,
                     key=keys["scope"], persist_state=SESSION)
        quiet_col.number_input(
            "Silêncio (dias)", min_value=0, max_value=365, step=1, key=keys["quiet"],
            persist_state=SESSION,
            help="Deixa de fora quem conversou nos últimos N dias (conversas em andamento). 0 desliga.")
        inactive_col.number_input(
            "Inativos há (dias)", min_value=1, max_value=3650, step=1, key=keys["inactive"],
            persist_state=SESSION, placeholder="todos",
            help="Só quem está sem conversa há pelo menos N dias. Vazio: todos.")
        min_col.number_input(
            "Interesses, mín.", min_value=0, max_value=500, step=1, key=keys["min_depth"],
            persist_state=SESSION, placeholder="sem mínimo",
            help="Menor número de produtos no histórico do cliente.")
        max_col.number_input(
            "Interesses, máx.", min_value=0, max_value=500, step=1, key=keys["max_depth"],
            persist_state=SESSION, placeholder="sem máximo",
            help="Maior número de produtos no histórico do cliente.")
    state = st.session_state
    return Segment(
        terms=tuple(state.get(keys["terms"]) or ()),
        scope=state.get(keys["scope"]) or "all",
        quiet_days=int(state.get(keys["quiet"]) or 0),
        inactive_days=_whole(state.get(keys["inactive"])),
        min_depth=_whole(state.get(keys["min_depth"])),
        max_depth=_whole(state.get(keys["max_depth"])),
        stores=tuple(ctx.stores),
    )


def filters_summary(key: str = "campanhas") -> str:
    """The filters in one line, the expander's title: what the list leaves in and out."""
    keys = _keys(key)
    state = st.session_state
    parts = ["só interesses recentes" if state.get(keys["scope"]) == "recent" else "recentes e histórico"]
    quiet = state.get(keys["quiet"]) or 0
    parts.append(f"silêncio {quiet} dias" if quiet else "sem silêncio")
    if state.get(keys["inactive"]) is not None:
        parts.append(f"inativos há {state[keys['inactive']]}+ dias")
    low, high = state.get(keys["min_depth"]), state.get(keys["max_depth"])
    if low is not None or high is not None:
        parts.append(f"{low or 0}–{high}" if high is not None else f"{low}+")
        parts[-1] += " interesses"
    return "Filtros: " + " · ".join(parts)


def _whole(value: object) -> int | None:
    return None if value is None else int(value)


def template_editors(segment: Segment, key: str = "campanhas", preset: Preset | None = None) -> Templates:
    """The message of each tier, editable; the secondary one only where there is a secondary tier.

    Each preset keeps its own messages in the session and in the URL (``message_key``);
    buttons insert the placeholders, in their Portuguese names, at the end of the text.
    """
    name = preset.key if preset else None
    defaults = preset.templates if preset else PRESETS[DEFAULT_PRESET].templates
    two_tiers = has_two_tiers(segment)
    left, right = st.columns(2) if two_tiers else (st.container(), None)
    texts: dict[str, str] = {}
    for tier, column, default in ((PRIMARY, left, defaults.primary),
                                  (SECONDARY, right, defaults.secondary or defaults.primary)):
        if column is None:
            continue
        field = message_key(key, name, tier)
        label = f"Mensagem: {TIER_LABELS[tier]} ({TIER_HINTS[tier]})" if two_tiers else "Mensagem"
        with column:
            texts[tier] = st.text_area(label, value=default, key=field, height=90,
                                       persist_state=SESSION, bind="query-params") or ""
            with st.container(horizontal=True, gap="small", key=f"{field}_fields"):
                for placeholder in INSERTABLE:
                    st.button(f"{{{placeholder}}}", key=f"{field}_add_{placeholder}", type="tertiary",
                              on_click=_insert, args=(field, placeholder),
                              help=PLACEHOLDER_HELP[placeholder])
    st.caption("Toque num campo para inseri-lo no fim da mensagem. Um campo sem valor sai da frase sem "
               "deixar espaço ou pontuação sobrando.")
    unknown = sorted({f for text in texts.values() for f in template_fields(text) if field_name(f) is None})
    if unknown:
        st.warning("Campo desconhecido, será removido: " + ", ".join(plain(f"{{{f}}}") for f in unknown))
    return Templates(texts[PRIMARY], texts.get(SECONDARY) if two_tiers else None)


def has_two_tiers(segment: Segment) -> bool:
    """A list has a secondary tier only with terms and the whole history in scope."""
    return segment.two_tiers


def _insert(field: str, placeholder: str) -> None:
    text = (st.session_state.get(field) or "").rstrip()
    st.session_state[field] = f"{text} {{{placeholder}}}".strip()


def counts(result: CampaignList) -> None:
    """Customers on the list (per tier, when it has two) and per reason left out, as compact tiles."""
    with st.container(horizontal=True, gap="medium", key="campanhas_counts"):
        if has_two_tiers(result.segment):
            st.metric(TIER_LABELS[PRIMARY].capitalize(), number(result.counts[PRIMARY]), width="content",
                      help="Pediram o produto nos interesses recentes (os últimos 5).")
            st.metric(TIER_LABELS[SECONDARY].capitalize(), number(result.counts[SECONDARY]),
                      width="content", help="Pediram antes: o produto está só no histórico.")
        st.metric("Total na lista", number(result.total), width="content")
    st.caption("Deixados de fora (cada cliente contado uma vez, pelo primeiro motivo):")
    with st.container(horizontal=True, gap="medium", key="campanhas_excluded"):
        for reason in EXCLUSION_REASONS:
            st.metric(EXCLUSION_SHORT[reason], number(result.excluded[reason]),
                      help=EXCLUSION_LABELS[reason].capitalize(), width="content")


def why(rows: pd.DataFrame, has_terms: bool, two_tiers: bool = True) -> pd.Series:
    """Why each customer is on the list, in a few words."""
    if has_terms:
        if not two_tiers:
            return "pediu: " + rows["matched"].astype(str)
        prefix = rows["tier"].map({PRIMARY: "pediu agora: ", SECONDARY: "pediu antes: "})
        return prefix + rows["matched"].astype(str)
    days = rows["days_since"].map(
        lambda d: "sem data de contato" if pd.isna(d) else f"sem conversa há {d} dias")
    return days + " · " + rows["depth"].astype(str) + " interesses"


def preview_table(result: CampaignList, limit: int = PREVIEW_ROWS) -> pd.DataFrame:
    """The first ``limit`` rows as the preview shows them: name and WhatsApp first (they stay in view
    on a phone), the same words as the downloads."""
    rows = result.head(limit)
    phones = rows["phone"].astype(str)
    two_tiers = has_two_tiers(result.segment)
    words = EXPORT_HEADERS
    table = pd.DataFrame({
        words["name"]: rows["name"].replace("", "—"),
        words["whatsapp"]: whatsapp_links(phones, rows["message"]),
        "Por que está na lista": why(rows, bool(result.segment.terms), two_tiers),
        words["message"]: rows["message"],
        words["last_interaction"]: _dates(rows["last_interaction"]),
        words["days_since"]: rows["days_since"],
        words["depth"]: rows["depth"],
        words["brands"]: rows["brands"],
        words["store"]: rows["store"],
        words["phone"]: phones.map(phone),
    }).reset_index(drop=True)
    if two_tiers:
        table.insert(2, words["tier"], rows["tier"].map(TIER_LABELS).to_numpy())
    return table


def _dates(days: pd.Series) -> list[str]:
    """Dates as dd/mm/aaaa, "—" where there is none (each distinct date formatted once)."""
    stamps = pd.to_datetime(days.astype(object), errors="coerce")
    text = stamps.dt.strftime("%d/%m/%Y")
    return text.where(stamps.notna(), "—").tolist()


def preview(result: CampaignList, key: str = "campanhas") -> None:
    """The preview table (first rows only: the download holds them all)."""
    if result.total == 0:
        st.info("Nenhum cliente na lista com estes filtros.", icon=":material/group_off:")
        return
    shown = min(result.total, PREVIEW_ROWS)
    order = "principal primeiro, depois o contato mais recente" if has_two_tiers(result.segment) else \
        "o contato mais recente primeiro"
    st.caption(f"Mostrando {number(shown)} de {number(result.total)} clientes: {order}. O arquivo "
               "baixado traz todos.")
    words = EXPORT_HEADERS
    st.dataframe(
        preview_table(result),
        hide_index=True,
        width="stretch",
        height=420,
        placeholder="—",
        key=f"{key}_preview",
        column_config={
            words["name"]: st.column_config.TextColumn(pinned=True),
            words["whatsapp"]: st.column_config.LinkColumn(
                words["whatsapp"], display_text="abrir", width="small", pinned=True,
                help="Abre a conversa com a mensagem já escrita"),
            "Por que está na lista": st.column_config.TextColumn(width="medium"),
            words["message"]: st.column_config.TextColumn(width="large"),
            words["days_since"]: st.column_config.NumberColumn(format="%d"),
        },
    )


def examples(result: CampaignList) -> None:
    """The message each tier gets, rendered for a real customer of the list."""
    two_tiers = has_two_tiers(result.segment)
    for tier in (PRIMARY, SECONDARY):
        first = result.first_of(tier)  # rendered alone: the whole list is not
        if first is None:
            continue
        with st.container(border=True):
            who = plain(first["name"]) or "cliente sem nome"
            st.caption(f"Exemplo real: {who} ({TIER_LABELS[tier]})" if two_tiers else f"Exemplo real: {who}")
            st.text(first["message"])


def campaign_label(preset: Preset | None) -> str:
    """The campaign's name in files and the audit."""
    return preset.label if preset else "Campanha personalizada"


def downloads(ctx: Context, result: CampaignList, preset: Preset | None, templates: Templates,
              key: str = "campanhas") -> None:
    """CSV (messaging tools) and XLSX (Excel) of the whole list, named after campaign and date.

    The files are built on click from the list built again (the same frame, segment, reference time
    and messages give the same list): a button that held ``result`` would keep a whole list in
    memory per open session, for a file most runs never make.
    """
    label = campaign_label(preset)
    again = _list_again(ctx, result, templates)
    audit = {
        "campaign": label,
        **dataclasses.asdict(result.segment),
        "templates": dataclasses.asdict(templates),
    }
    csv_col, xlsx_col, left_col = st.columns(3)
    with csv_col:
        download_button(ctx, Export(
            build=lambda: to_csv(again()),
            file_name=export_filename(label, ctx.now, "csv", result.segment.terms),
            fmt="csv", rows=result.total, segment=audit,
        ), "Baixar CSV (para envio)", key=f"{key}_csv", icon=":material/download:")
    with xlsx_col:
        download_button(ctx, Export(
            build=lambda: to_xlsx(again()),
            file_name=export_filename(label, ctx.now, "xlsx", result.segment.terms),
            fmt="xlsx", rows=result.total, segment=audit,
        ), "Baixar XLSX (Excel)", key=f"{key}_xlsx", icon=":material/table_view:")
    with left_col:
        left_out = sum(result.excluded.values())  # each one left out once, for the first reason
        download_button(ctx, Export(
            build=lambda: left_out_xlsx(again()),
            file_name=export_filename(f"{label} fora da lista", ctx.now, "xlsx", result.segment.terms),
            fmt="xlsx", rows=left_out, segment={**audit, "list": "deixados de fora"},
        ), "Baixar quem ficou de fora", key=f"{key}_left_out", icon=":material/person_off:")


def _list_again(ctx: Context, result: CampaignList, templates: Templates) -> Callable[[], CampaignList]:
    """``build_list`` of ``result``'s segment again, holding only what it needs (not the list)."""
    data, segment, now = ctx.data, result.segment, ctx.now
    return lambda: build_list(data, segment, now, templates)
