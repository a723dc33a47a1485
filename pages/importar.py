"""Importar: customers from a CSV or XLSX export of a Customers table, checked first, for admins only."""

import streamlit as st

from dashboard.format import number
from dashboard.state import current
from services import importer

ctx = current()
if not ctx.viewer.admin:
    st.error("Só administradores importam clientes.")
    st.stop()

st.title("Importar clientes")
st.caption("Uma exportação da tabela Customers: o CSV do próprio Airtable, um CSV ou um XLSX. Cada linha é "
           "conferida antes e nada é gravado enquanto houver uma linha com problema. Um telefone que já "
           "está na loja é mesclado: os históricos se unem e nenhum interesse se perde.")
refused = importer.refusal(ctx.repository)
if refused:
    st.info(refused, icon=":material/cloud_sync:")
    st.stop()
stores = ctx.repository.stores()
upload = st.file_uploader("Arquivo (CSV ou XLSX)", type=["csv", "xlsx"], key="importar_arquivo")
fallback = st.selectbox("Loja das linhas sem loja", [None, *stores], key="importar_loja",
                        format_func=lambda store: "— nenhuma —" if store is None else store)
if upload is None:
    st.stop()
try:
    report = importer.preview(ctx.repository, upload.name, upload.getvalue(), fallback)
except ValueError as error:
    st.error(str(error))
    st.stop()
plan = report.plan
rows, new, merged, bad = st.columns(4)
rows.metric("Linhas de cliente", number(len(plan.customers) + len(plan.problems)))
new.metric("Novos", number(report.new))
merged.metric("Já na base (mesclados)", number(report.merged))
bad.metric("Com problema", number(len(plan.problems)))
if plan.ignored:
    st.caption("Colunas ignoradas: " + ", ".join(plan.ignored))
if plan.problems:
    st.error(f"{number(len(plan.problems))} linha(s) com problema: nada será importado. Corrija o arquivo e "
             "envie de novo.")
    st.dataframe(importer.problems_frame(plan), hide_index=True, width="stretch", key="importar_problemas",
                 column_config={"line": st.column_config.NumberColumn("linha"), "reason": "motivo"})
    st.stop()
if not plan.customers:
    st.warning("O arquivo não tem nenhuma linha de cliente.")
    st.stop()
st.dataframe(importer.counts_frame(report), hide_index=True, width="stretch", key="importar_lojas",
             column_config={"store": "loja", "new": "novos", "merged": "já na base (mesclados)"})
if st.button("Importar", type="primary", key="importar_aplicar", icon=":material/upload_file:"):
    done = importer.apply(ctx.repository, plan, ctx.now)
    st.success(f"Importado: {number(done.new)} cliente(s) novo(s), {number(done.merged)} mesclado(s).")
