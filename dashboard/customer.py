"""Visit-prep pieces: the search box with its results, the customer card and the in-store note form."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.format import date, days_ago, number, phone, plain
from dashboard.state import Context, record_interest
from services.interests import InvalidBatch, InvalidPhone, normalize_phone
from services.profile import Profile, category_label
from services.recording import parse_batch
from services.search import InvalidQuery, is_phone_query, search
from services.store.base import StoreError

SHOWN_RESULTS = 50
FLASH_KEY = "clientes_flash"


def search_box(ctx: Context, key: str = "clientes") -> int | None:
    """The search field and, when several customers match, the list to choose from.

    Returns:
        The row (``cid``) of the chosen customer in ``ctx.data``, or None.
    """
    query = st.text_input(
        "Telefone ou nome do cliente",
        key=f"{key}_query",
        placeholder="(11) 9 8765-4321 ou Ana Souza",
        help="Telefone em qualquer formato (com ou sem +55, com ou sem o nono dígito), "
             "ou parte do nome (sem se preocupar com acentos ou maiúsculas).",
    )
    if not query.strip():
        st.caption(f"Busca entre {number(len(ctx.data.customers))} clientes das lojas escolhidas.")
        return None
    try:
        found = search(ctx.data, query, index=ctx.search_index(), limit=None)
    except InvalidQuery as error:
        st.warning(str(error))
        return None
    if found.empty:
        st.info(f"Nenhum cliente encontrado para “{plain(query)}” nas lojas escolhidas.",
                icon=":material/person_search:")
        if is_phone_query(query) and normalize_phone(query):
            _first_contact_form(ctx, query, key)
        return None
    if len(found) == 1:
        return int(found["cid"].iloc[0])
    shown = found.head(SHOWN_RESULTS)
    more = f" (os {SHOWN_RESULTS} mais recentes na lista)" if len(found) > SHOWN_RESULTS else ""
    st.caption(f"{number(len(found))} clientes encontrados{more}.")
    st.dataframe(
        results_table(shown, ctx),
        hide_index=True,
        width="stretch",
        height=min(38 + 35 * len(shown), 248),
        key=f"{key}_results",
    )
    labels = {
        row.id: " · ".join([row.name or "Sem nome", phone(row.phone) or row.phone_raw or "sem telefone",
                            row.store])
        for row in shown.itertuples()
    }
    chosen = st.selectbox("Abrir a ficha de", options=list(labels), format_func=labels.get,
                          key=f"{key}_pick")
    return int(shown.loc[shown["id"] == chosen, "cid"].iloc[0]) if chosen else None


def results_table(found: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    """Search results as the list shows them (Portuguese headers, pt-BR dates)."""
    return pd.DataFrame({
        "Nome": found["name"].replace("", "Sem nome"),
        "Telefone": [phone(p) or raw for p, raw in zip(found["phone"], found["phone_raw"], strict=True)],
        "Loja": found["store"],
        "Último contato": found["last_interaction"].map(lambda t: days_ago(t, ctx.now)),
        "Interesses": found["depth"],
    })


def card(profile: Profile, ctx: Context) -> None:
    """The customer card: who, how to reach them, what they want now and over time."""
    with st.container(border=True, key="clientes_card"):
        st.subheader(plain(profile.name) or "Cliente sem nome", anchor=False)
        if profile.opt_out:
            st.warning("Pediu para não receber mensagens: não incluir em campanhas.",
                       icon=":material/do_not_disturb_on:")
        facts = [
            f":material/call: {plain(phone(profile.phone) or profile.phone_raw or 'sem telefone')}",
            f":material/storefront: {plain(profile.store)}",
            f":violet-badge[{plain(profile.depth_label.capitalize())}]",
        ]
        st.markdown(" · ".join(facts))
        if profile.whatsapp_url:
            st.link_button("Abrir no WhatsApp", profile.whatsapp_url, icon=":material/chat:")
        else:
            st.caption("Telefone ilegível: sem link de WhatsApp.")
        contact, first, depth = st.columns(3)
        contact.metric("Último contato", days_ago(profile.last_interaction, ctx.now),
                       help=f"Em {date(profile.last_interaction)}", border=True)
        first.metric("Primeiro contato", date(profile.created_at), border=True)
        depth.metric("Interesses no histórico", number(profile.depth), border=True,
                     help="Perfil pelo histórico: início (menos de 3), em desenvolvimento (3 a 10), "
                          "comprador sério (mais de 10).")

        st.markdown("**Pontos para a conversa**")
        st.markdown("\n".join(f"- {plain(point)}" for point in profile.talking_points))

        st.markdown("**Interesses recentes** (o mais recente primeiro)")
        if profile.recent:
            st.markdown(chips(item.label for item in profile.recent))
        else:
            st.caption("Nenhum interesse recente.")

        focus, history = st.columns(2)
        with focus:
            st.markdown("**Foco recente × preferências de longo prazo**")
            brands, categories = focus_tables(profile)
            config = _focus_columns(profile)
            if len(brands):
                st.dataframe(brands, hide_index=True, width="stretch", column_config=config,
                             key="clientes_brands")
            st.dataframe(categories, hide_index=True, width="stretch", column_config=config,
                         key="clientes_categories")
        with history:
            st.markdown(f"**Histórico completo** ({number(profile.depth)} produtos, na ordem em que "
                        "apareceram)")
            st.dataframe(history_table(profile), hide_index=True, width="stretch",
                         height=min(38 + 35 * max(len(profile.history), 1), 738),
                         key="clientes_history")
        if profile.problems:
            st.caption("Registro com problemas de dados: " + plain("; ".join(profile.problems)))


def chips(labels: object) -> str:
    """Labels as Markdown badges, every label escaped (names and products are untrusted)."""
    return " ".join(f":gray-badge[{plain(label)}]" for label in labels)


def focus_tables(profile: Profile) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Brands, then categories: items among the recent ones against items in the whole history."""
    recent = {s.name: s.count for s in profile.recent_brands}
    brands = pd.DataFrame(
        [(share.name, recent.get(share.name, 0), share.count) for share in profile.history_brands],
        columns=["Marca", "Recentes", "Histórico"],
    )
    recent = {s.name: s.count for s in profile.recent_categories}
    categories = pd.DataFrame(
        [(category_label(share.name), recent.get(share.name, 0), share.count)
         for share in profile.history_categories],
        columns=["Categoria", "Recentes", "Histórico"],
    )
    return brands, categories


def _focus_columns(profile: Profile) -> dict:
    return {
        "Recentes": st.column_config.ProgressColumn(
            f"Recentes (de {len(profile.recent)})", format="%d", min_value=0,
            max_value=max(len(profile.recent), 1)),
        "Histórico": st.column_config.ProgressColumn(
            f"Histórico (de {profile.depth})", format="%d", min_value=0,
            max_value=max(profile.depth, 1)),
    }


def history_table(profile: Profile) -> pd.DataFrame:
    """The history in order, with brand, category and whether it is among the recent."""
    recent = {item.title for item in profile.recent}
    return pd.DataFrame({
        "#": range(1, len(profile.history) + 1),
        "Produto": [item.title for item in profile.history],
        "Marca": [item.brand or "—" for item in profile.history],
        "Categoria": [category_label(item.category) for item in profile.history],
        "Recente": ["sim" if item.title in recent else "" for item in profile.history],
    })


def record_form(ctx: Context, profile: Profile, key: str = "clientes") -> None:
    """Record an in-store interest for the customer on the card (the recording rule)."""
    if not profile.phone:
        st.caption("Não é possível registrar interesse: o telefone deste cliente é ilegível.")
        return
    with st.form(f"{key}_record_form", clear_on_submit=True, border=True):
        st.markdown("**Registrar interesse na loja**")
        products = st.text_input(
            "Produtos", key=f"{key}_record_products",
            placeholder="Ex.: Submariner, Cartier Love",
            help="Um ou mais produtos, separados por vírgula. O último vira o interesse mais recente.",
        )
        name = ""
        if not profile.name:
            name = st.text_input("Nome do cliente (opcional)", key=f"{key}_record_name")
        submitted = st.form_submit_button("Registrar interesse", type="primary",
                                          icon=":material/add_task:")
    if submitted:
        _save(ctx, profile.store, profile.phone, products, name)


def _first_contact_form(ctx: Context, query: str, key: str) -> None:
    with st.form(f"{key}_new_form", clear_on_submit=True, border=True):
        st.markdown(f"**Registrar o primeiro interesse de {plain(phone(normalize_phone(query)))}**")
        store = st.selectbox("Loja", options=list(ctx.stores), key=f"{key}_new_store")
        name = st.text_input("Nome do cliente (opcional)", key=f"{key}_new_name")
        products = st.text_input("Produtos", key=f"{key}_new_products",
                                 placeholder="Ex.: Submariner, Cartier Love")
        submitted = st.form_submit_button("Cadastrar e registrar", icon=":material/person_add:")
    if submitted:
        _save(ctx, store, query, products, name)


def _save(ctx: Context, store: str, phone: str, products: str, name: str) -> None:
    try:
        saved = record_interest(ctx, store, phone, products, name or None)
    except (InvalidBatch, InvalidPhone, StoreError) as error:
        st.error(str(error), icon=":material/error:")
        return
    st.session_state[FLASH_KEY] = (
        f"Interesse registrado para {saved.name or phone(saved.phone)}: "
        f"{', '.join(parse_batch(products))}."
    )
    st.rerun()


def flash() -> None:
    """The confirmation of the last note, shown once after the rerun."""
    message = st.session_state.pop(FLASH_KEY, None)
    if message:
        st.success(plain(message), icon=":material/check_circle:")
