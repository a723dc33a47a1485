"""Visit-prep pieces: the search box with its results, the customer card and the in-store note form."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from dashboard.format import date, days_ago, number, phone, plain
from dashboard.state import STORE_KEY, Context, record_interest, unite_records
from services.catalog import check_products
from services.interests import InvalidBatch, InvalidPhone, normalize_phone
from services.profile import Profile, category_label
from services.search import InvalidQuery, is_phone_query, lookup, phone_store
from services.store.base import StoreError

SHOWN_RESULTS = 20
FLASH_KEY = "clientes_flash"
ERROR_KEY = "clientes_error"
NO_NAME = "Sem nome"


def _forget_choice(key: str) -> None:
    """A new query starts with no customer chosen from the previous list."""
    st.session_state.pop(f"{key}_pick", None)


def search_box(ctx: Context, key: str = "clientes") -> int | None:
    """The search field and, when several people match, the short list to choose from.

    An exact phone or an exact whole name opens its card at once; so does a search that
    finds one person. A partial query that finds several opens nothing until one is chosen.

    Returns:
        The row (``cid``) of the chosen customer in ``ctx.data``, or None.
    """
    query = st.text_input(
        "Telefone ou nome do cliente",
        key=f"{key}_query",
        placeholder="(11) 9 8765-4321 ou Ana Souza",
        on_change=_forget_choice, args=(key,),
        help="Telefone em qualquer formato (com ou sem +55, com ou sem o nono dígito), "
             "ou parte do nome (sem se preocupar com acentos ou maiúsculas).",
    )
    if not query.strip():
        # Said only before a search: on a phone the card needs the room.
        st.caption("Prepare a visita: o que o cliente procura agora e o que sempre procurou. "
                   f"Busca entre {number(len(ctx.data.customers))} clientes das lojas escolhidas.")
        return None
    try:
        found = lookup(ctx.data, query, index=ctx.search_index())
    except InvalidQuery as error:
        st.warning(str(error))
        return None
    if found.people.empty:
        _not_found(ctx, query, key)
        return None
    if found.opened is not None:
        others = found.people[found.people["cid"] != found.opened]
        if len(others):
            with st.expander(f"Outros {number(len(others))} clientes com nome parecido",
                             icon=":material/group:"):
                chosen = _pick(ctx, others, key)
            return found.opened if chosen is None else chosen
        return found.opened
    shown = found.people.head(SHOWN_RESULTS)
    more = (f" Os {SHOWN_RESULTS} de contato mais recente abaixo: digite mais do nome, ou o telefone."
            if len(found.people) > SHOWN_RESULTS else "")
    st.caption(f"{number(len(found.people))} clientes encontrados: escolha um.{more}")
    return _pick(ctx, shown, key)


def result_label(row: pd.Series, now: datetime) -> str:
    """One line of the result list: name, store, last contact and the phone's last 4 digits.

    Example: ``"Ana Souza · Vitrine Jardins · contato há 3 dias · final 4321"``.
    """
    number_text = row["phone"] if isinstance(row["phone"], str) and row["phone"] else row["phone_raw"]
    digits = "".join(ch for ch in str(number_text or "") if ch.isdigit())
    tail = f"final {digits[-4:]}" if len(digits) >= 4 else "sem telefone"
    last = days_ago(row["last_interaction"], now)
    contact = "sem data de contato" if last == "—" else f"contato {last}"
    return " · ".join([row["name"] or NO_NAME, row["store"], contact, tail])


def _pick(ctx: Context, people: pd.DataFrame, key: str) -> int | None:
    labels = {row["id"]: result_label(row, ctx.now) for _, row in people.iterrows()}
    chosen = st.radio("Abrir a ficha de", options=list(labels), format_func=labels.get, index=None,
                      key=f"{key}_pick", label_visibility="collapsed")
    if chosen is None or chosen not in labels:
        return None
    return int(people.loc[people["id"] == chosen, "cid"].iloc[0])


def _not_found(ctx: Context, query: str, key: str) -> None:
    """Nobody in the chosen stores: say where the number is, or offer to register it here.

    A number of a store the viewer may see but did not choose opens there; a number of a
    store they may not see is said to exist, and nothing else of it is read or shown.
    """
    st.info(f"Nenhum cliente encontrado para “{plain(query)}” nas lojas escolhidas.",
            icon=":material/person_search:")
    e164 = normalize_phone(query) if is_phone_query(query) else None
    if e164 is None:
        return
    elsewhere = ctx.lookup_allowed(e164) if set(ctx.stores) != set(ctx.allowed) else None
    stores = [] if elsewhere is None or not elsewhere.exact else [
        store for store in dict.fromkeys(elsewhere.people["store"]) if store not in ctx.stores]
    if stores:
        st.warning(f"Este número é de um cliente da loja {plain(stores[0])}, que não está entre as "
                   "lojas escolhidas.", icon=":material/storefront:")
        st.button(f"Abrir na loja {stores[0]}", key=f"{key}_open_store", icon=":material/open_in_new:",
                  on_click=_choose_store, args=(ctx.stores, stores[0]))
        return
    hidden = [store for store in ctx.repository.stores() if store not in ctx.allowed]
    if hidden and phone_store(ctx.repository, e164, hidden):
        st.warning("Este número já pertence a outra loja.", icon=":material/lock:")
        return
    _first_contact_form(ctx, e164, key)


def _choose_store(chosen: tuple[str, ...], store: str) -> None:
    st.session_state[STORE_KEY] = [*chosen, store]


def card(profile: Profile, ctx: Context) -> None:
    """The customer card: who, how to reach them, what they want now and over time.

    On a phone the first screen holds what a salesperson reads before greeting the
    customer: the name, the last contact, the WhatsApp button, the recent interests with
    their brand and the talking points; the figures and tables come after.
    """
    with st.container(border=True, key="clientes_card"):
        st.subheader(plain(profile.name) or "Cliente sem nome", anchor=False)
        if profile.opt_out:
            st.warning("Pediu para não receber mensagens: não incluir em campanhas.",
                       icon=":material/do_not_disturb_on:")
        facts = [
            f":material/call: {plain(phone(profile.phone) or profile.phone_raw or 'sem telefone')}",
            f":material/storefront: {plain(profile.store)}",
            f":material/schedule: último contato {days_ago(profile.last_interaction, ctx.now)}",
        ]
        st.markdown(" · ".join(facts))
        if profile.whatsapp_url:
            st.link_button("Abrir no WhatsApp", profile.whatsapp_url, icon=":material/chat:")
        else:
            st.caption("Telefone ilegível: sem link de WhatsApp.")

        st.markdown("**Interesses recentes** (o mais recente primeiro)")
        if profile.recent:
            st.markdown(chips(item.label for item in profile.recent))
        else:
            st.caption("Nenhum interesse recente.")

        st.markdown("**Pontos para a conversa**")
        st.markdown("\n".join(f"- {plain(point)}" for point in profile.talking_points))

        # Three figures in one compact strip (side by side even on a phone), the profile beside them.
        with st.container(border=True, horizontal=True, gap="medium", vertical_alignment="center",
                          key="clientes_tiles"):
            tile("Último contato", days_ago(profile.last_interaction, ctx.now))
            tile("Cliente desde", date(profile.created_at))
            tile("Interesses", number(profile.depth))
            st.markdown(f":violet-badge[{plain(profile.depth_label.split(' (')[0].capitalize())}]",
                        width="content",
                        help="Perfil pelo histórico: inicial (menos de 3 interesses), em desenvolvimento "
                             "(3 a 10), comprador sério (mais de 10).")

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
                         column_config={"#": st.column_config.NumberColumn(width=40)},
                         key="clientes_history")
        if profile.problems:
            st.caption("Registro com problemas de dados: " + plain("; ".join(profile.problems)))
        if len(profile.records) > 1:
            _twin_records(profile, ctx)


def tile(label: str, value: str) -> None:
    """One figure of the card's strip: a small label over its value."""
    st.markdown(f":small[{plain(label)}]  \n**{plain(value)}**", width="content")


def _twin_records(profile: Profile, ctx: Context) -> None:
    """The same phone twice in the store (with and without the ninth digit): read as one, and united."""
    with st.container(border=True, key="clientes_twins"):
        st.markdown(f"**{len(profile.records)} cadastros do mesmo telefone nesta loja** (com e sem o "
                    "nono dígito): a ficha mostra os históricos juntos.")
        st.button("Unir cadastros", key="clientes_unite", icon=":material/merge:",
                  on_click=_unite, args=(ctx, profile.store, profile.records),
                  help="Fica o cadastro com o nono dígito, com todos os interesses dos dois; o outro é "
                       "apagado. As campanhas passam a ver um só cliente.")


def _unite(ctx: Context, store: str, records: tuple[str, ...]) -> None:
    try:
        kept = unite_records(ctx, store, records)
    except StoreError as error:
        st.session_state[ERROR_KEY] = str(error)
        return
    st.session_state[FLASH_KEY] = (f"Cadastros unidos: {kept.name or phone(kept.phone)} tem agora "
                                   f"{len(kept.interests_all)} interesses num só cadastro.")


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
    prefix = f"{key}_record"
    with st.container(border=True, key=f"{prefix}_form"):
        st.markdown("**Registrar interesse na loja**")
        product_picker(ctx, prefix)
        if not profile.name:
            st.text_input("Nome do cliente (opcional)", key=f"{prefix}_name")
        st.button("Registrar interesse", type="primary", icon=":material/add_task:", key=f"{prefix}_save",
                  on_click=_save, args=(ctx, prefix, profile.store, profile.phone))


def product_picker(ctx: Context, prefix: str) -> None:
    """The products to record, chosen from the catalog as one types; one outside it only when confirmed.

    A near miss gets the closest catalog product offered ("Você quis dizer Submariner?").
    A base without a Products table offers the products its customers asked about, and
    takes any text (there is no catalog to check against).
    """
    titles = ctx.catalog_titles()
    labels = ctx.catalog_labels() if titles else _known_products(ctx)
    st.multiselect(
        "Produtos", options=list(labels), format_func=lambda title: labels.get(title, title),
        key=f"{prefix}_products", accept_new_options=True, select_all=False,
        placeholder="Digite para buscar no catálogo: Submariner, Cartier Love…",
        help="Um ou mais produtos; o último vira o interesse mais recente. Um produto que não está "
             "na lista também pode ser digitado (tecle Enter).",
    )
    checks = check_products(st.session_state.get(f"{prefix}_products") or [], titles)
    outside = [check for check in checks if not check.in_catalog]
    for i, check in enumerate(outside):
        hint = f" Você quis dizer **{plain(check.suggestion)}**?" if check.suggestion else ""
        st.warning(f"“{plain(check.typed)}” não está no catálogo.{hint}", icon=":material/help:")
        if check.suggestion:
            st.button(f"Trocar por {check.suggestion}", key=f"{prefix}_swap_{i}",
                      on_click=_swap, args=(prefix, check.typed, check.suggestion))
    if outside:
        st.checkbox("Registrar mesmo assim: produto fora do catálogo", key=f"{prefix}_outside_ok")


def _known_products(ctx: Context) -> dict[str, str]:
    products = ctx.data.products
    return {title: f"{title} · {brand}" if isinstance(brand, str) and brand else title
            for title, brand in sorted(zip(products["title"], products["brand"], strict=True))}


def _swap(prefix: str, typed: str, suggestion: str) -> None:
    chosen = st.session_state.get(f"{prefix}_products") or []
    st.session_state[f"{prefix}_products"] = list(dict.fromkeys(
        suggestion if item == typed else item for item in chosen))


def _first_contact_form(ctx: Context, e164: str, key: str) -> None:
    prefix = f"{key}_new"
    with st.container(border=True, key=f"{prefix}_form"):
        st.markdown(f"**Registrar o primeiro interesse de {plain(phone(e164))}**")
        st.selectbox("Loja", options=list(ctx.stores), key=f"{prefix}_store",
                     placeholder="Escolha a loja")
        st.text_input("Nome do cliente (opcional)", key=f"{prefix}_name")
        product_picker(ctx, prefix)
        st.button("Cadastrar e registrar", icon=":material/person_add:", key=f"{prefix}_save",
                  on_click=_save, args=(ctx, prefix, None, e164))


def _save(ctx: Context, prefix: str, store: str | None, customer_phone: str) -> None:
    """Record what the form holds (a button's callback: it runs before the page is drawn again)."""
    state = st.session_state
    store = store or state.get(f"{prefix}_store")
    checks = check_products(state.get(f"{prefix}_products") or [], ctx.catalog_titles())
    name = (state.get(f"{prefix}_name") or "").strip()
    if not checks:
        state[ERROR_KEY] = "Informe pelo menos um produto."
        return
    if any(not check.in_catalog for check in checks) and not state.get(f"{prefix}_outside_ok"):
        state[ERROR_KEY] = ("Há produto fora do catálogo: troque pela sugestão, escolha da lista ou "
                            "marque “Registrar mesmo assim”.")
        return
    products = [check.title for check in checks]
    try:
        saved = record_interest(ctx, store, customer_phone, products, name or None)
    except (InvalidBatch, InvalidPhone, StoreError) as error:
        state[ERROR_KEY] = str(error)
        return
    for field in ("products", "outside_ok", "name"):
        state.pop(f"{prefix}_{field}", None)
    state[FLASH_KEY] = (f"Interesse registrado para {saved.name or phone(saved.phone)}: "
                        f"{', '.join(products)}.")


def flash() -> None:
    """The outcome of the last note or union, shown once: a confirmation or what went wrong."""
    error = st.session_state.pop(ERROR_KEY, None)
    if error:
        st.error(plain(error), icon=":material/error:")
    message = st.session_state.pop(FLASH_KEY, None)
    if message:
        st.success(plain(message), icon=":material/check_circle:")
