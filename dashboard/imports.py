"""The Importar page's two sections: customers from a Customers export, purchases from the till."""

from __future__ import annotations

import streamlit as st

from dashboard.format import money, number
from dashboard.state import Context
from services import importer, purchases


def customers(ctx: Context, key: str = "importar") -> None:
    """A Customers export (Airtable's CSV, a CSV or an XLSX): every row checked, then all or nothing."""
    st.caption("Uma exportação da tabela Customers: o CSV do próprio Airtable, um CSV ou um XLSX. Cada "
               "linha é conferida antes e nada é gravado enquanto houver uma linha com problema. Um telefone "
               "que já está na loja é mesclado: os históricos se unem e nenhum interesse se perde.")
    refused = importer.refusal(ctx.repository)
    if refused:
        st.info(refused, icon=":material/cloud_sync:")
        return
    stores = ctx.repository.stores()
    upload = st.file_uploader("Arquivo (CSV ou XLSX)", type=["csv", "xlsx"], key=f"{key}_arquivo")
    fallback = st.selectbox("Loja das linhas sem loja", [None, *stores], key=f"{key}_loja",
                            format_func=lambda store: "— nenhuma —" if store is None else store)
    if upload is None:
        return
    try:
        report = importer.preview(ctx.repository, upload.name, upload.getvalue(), fallback)
    except ValueError as error:
        st.error(str(error))
        return
    plan = report.plan
    rows, new, merged, bad = st.columns(4)
    rows.metric("Linhas de cliente", number(len(plan.customers) + len(plan.problems)))
    new.metric("Novos", number(report.new))
    merged.metric("Já na base (mesclados)", number(report.merged))
    bad.metric("Com problema", number(len(plan.problems)))
    if plan.ignored:
        st.caption("Colunas ignoradas: " + ", ".join(plan.ignored))
    if plan.problems:
        _refuse(plan, key)
        return
    if not plan.customers:
        st.warning("O arquivo não tem nenhuma linha de cliente.")
        return
    st.dataframe(importer.counts_frame(report), hide_index=True, width="stretch", key=f"{key}_lojas",
                 column_config={"store": "loja", "new": "novos", "merged": "já na base (mesclados)"})
    if st.button("Importar", type="primary", key=f"{key}_aplicar", icon=":material/upload_file:"):
        done = importer.apply(ctx.repository, plan, ctx.now)
        st.success(f"Importado: {number(done.new)} cliente(s) novo(s), {number(done.merged)} mesclado(s).")


def till(ctx: Context, key: str = "importar_compras") -> None:
    """Purchases from the till (phone, date, product, value): checked row by row, then all or nothing."""
    st.caption("Um CSV ou XLSX do caixa com telefone, data, produto e valor (e a loja, ou escolha abaixo). "
               "Cada telefone precisa ser de um cliente da loja. Nada é gravado enquanto houver uma linha "
               "com problema; uma compra já registrada (mesmo cliente, data, produto e valor) é ignorada. "
               "As compras entram na linha do tempo e nos resultados das campanhas.")
    if getattr(ctx.repository, "read_only", False):
        st.info(f"A base {ctx.repository.path} é somente leitura: nada pode ser importado nela.")
        return
    upload = st.file_uploader("Arquivo do caixa (CSV ou XLSX)", type=["csv", "xlsx"], key=f"{key}_arquivo")
    fallback = st.selectbox("Loja das linhas sem loja", [None, *ctx.allowed], key=f"{key}_loja",
                            format_func=lambda store: "— nenhuma —" if store is None else store)
    if upload is None:
        return
    try:
        plan = purchases.preview(ctx.repository, ctx.allowed, upload.name, upload.getvalue(), ctx.now,
                                 fallback)
    except ValueError as error:
        st.error(str(error))
        return
    rows, new, repeated, bad = st.columns(4)
    rows.metric("Linhas de compra", number(len(plan.events) + len(plan.repeated) + len(plan.problems)))
    new.metric("Compras novas", number(len(plan.events)))
    repeated.metric("Já registradas", number(len(plan.repeated)))
    bad.metric("Com problema", number(len(plan.problems)))
    if plan.ignored:
        st.caption("Colunas ignoradas: " + ", ".join(plan.ignored))
    if plan.problems:
        _refuse(plan, key)
        return
    if not plan.events:
        st.warning("Nenhuma compra nova no arquivo.")
        return
    st.dataframe(purchases.events_frame(plan), hide_index=True, width="stretch", key=f"{key}_compras",
                 column_config={
                     "line": st.column_config.NumberColumn("linha"), "store": "loja",
                     "at": st.column_config.DatetimeColumn("data (UTC)", format="DD/MM/YYYY HH:mm"),
                     "product": "produto",
                     "value_brl": st.column_config.NumberColumn("valor (R$)", format="%.2f"),
                 })
    if st.button(f"Importar {number(len(plan.events))} compra(s)", type="primary", key=f"{key}_aplicar",
                 icon=":material/shopping_bag:"):
        written = purchases.apply(ctx.repository, plan)
        st.success(f"Importado: {number(written)} compra(s), {money(plan.revenue)}.")


def _refuse(plan: object, key: str) -> None:
    """Nothing is imported while a row is bad: say so and list the rows with their reason."""
    problems = importer.problems_frame(plan)
    st.error(f"{number(len(problems))} linha(s) com problema: nada será importado. Corrija o "
             "arquivo e envie de novo.")
    st.dataframe(problems, hide_index=True, width="stretch", key=f"{key}_problemas",
                 column_config={"line": st.column_config.NumberColumn("linha"), "reason": "motivo"})
