"""Importar (AppTest): admins upload an export, see every bad row or the counts, and import all or nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from apptest_support import APP, JARDINS, LEBLON, ROOT, open_app
from streamlit.testing.v1 import AppTest

from services.store.sqlite import SqliteStore

GOOD = (
    "Phone,Name,tenant_id,interests,interests_all,last_interaction\n"
    f'+55 11 97000-0001,Importada Um,{JARDINS},"Submariner,Daytona",,2026-02-01T10:00:00.000Z\n'
    f"+55 21 97000-0002,Importada Dois,{LEBLON},Serpenti,,02/02/2026\n"
).encode()
BAD = GOOD + b"abc,Sem Telefone,Vitrine Jardins,,,\n+55 11 97000-0003,X,Loja Z,,,\n"
AUTH = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "test-cookie-secret-test-cookie-secret",
    "client_id": "vitrine", "client_secret": "vitrine-secret",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}
ACCESS = {"admins": ["dona@vitrine.com.br"], "stores": {"ana@vitrine.com.br": [JARDINS]}}
MANAGER = {"is_logged_in": True, "email": "ana@vitrine.com.br", "email_verified": True}


def customers_in(db: Path) -> int:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT count(*) FROM customers").fetchone()[0]


def upload(at: AppTest, data: bytes, name: str = "Customers-Grid view.csv") -> AppTest:
    at.file_uploader(key="importar_arquivo").upload(name, data, "text/csv")
    return at.run()


def test_the_page_renders_for_an_admin_and_waits_for_a_file(db: Path) -> None:
    at = open_app("importar")
    assert not at.exception
    assert at.title[0].value == "Importar"
    assert [tab.label for tab in at.tabs] == ["Clientes", "Compras do caixa"]
    assert at.file_uploader(key="importar_arquivo").allowed_type == [".csv", ".xlsx"]
    assert [b.key for b in at.button if b.key == "importar_aplicar"] == []


def test_bad_rows_are_listed_with_their_lines_and_nothing_can_be_imported(db: Path) -> None:
    before = customers_in(db)
    at = upload(open_app("importar"), BAD)
    assert not at.exception
    assert "2 linha(s) com problema" in at.error[0].value
    (table,) = at.dataframe  # the bad rows, and nothing else
    problems = table.value
    assert problems["line"].tolist() == [4, 5]
    assert "telefone inválido" in problems["reason"][0] and "Loja Z" in problems["reason"][1]
    assert [b.key for b in at.button if b.key == "importar_aplicar"] == []
    assert customers_in(db) == before


def test_a_sound_file_shows_the_counts_and_imports_on_the_button(db: Path) -> None:
    before = customers_in(db)
    at = upload(open_app("importar"), GOOD)
    assert not at.exception
    (table,) = at.dataframe
    counts = table.value
    assert counts.to_dict("records") == [{"store": JARDINS, "new": 1, "merged": 0},
                                         {"store": LEBLON, "new": 1, "merged": 0}]
    assert customers_in(db) == before  # the preview writes nothing
    at.button(key="importar_aplicar").click().run()
    assert not at.exception
    assert "Importado: 2 cliente(s) novo(s), 0 mesclado(s)" in at.success[0].value
    assert customers_in(db) == before + 2
    assert SqliteStore(db).find(JARDINS, "11 97000-0001").interests == ["Submariner", "Daytona"]


def test_a_file_that_is_no_table_is_one_error(db: Path) -> None:
    at = upload(open_app("importar"), db.read_bytes(), "vitrine.csv")  # a database renamed
    assert not at.exception
    assert "base SQLite" in at.error[0].value


def test_a_manager_has_no_import_page(db: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets = {"auth": AUTH, "access": ACCESS}
    at.user = MANAGER
    at.run()
    with pytest.raises(ValueError, match="importar"):
        at.switch_page("../pages/importar.py")


def test_the_page_run_on_its_own_refuses_a_manager(db: Path) -> None:
    at = AppTest.from_file(str(ROOT / "pages" / "importar.py"), default_timeout=60)
    at.secrets = {"auth": AUTH, "access": ACCESS}
    at.user = MANAGER
    at.run()
    assert "administradores" in at.error[0].value
    assert not at.get("file_uploader")


# --- purchases from the till ------------------------------------------------------------------------

TILL = (
    b"Telefone;Data;Produto;Valor\n"
    b"+55 11 98765-4321;20/02/2026;Daytona;R$ 145.000,00\n"
    b"+55 11 98765-4321;21/02/2026;Submariner;98000\n"
)


def upload_till(at: AppTest, data: bytes, store: str | None = JARDINS) -> AppTest:
    at.selectbox(key="importar_compras_loja").select(store).run()
    at.file_uploader(key="importar_compras_arquivo").upload("caixa.csv", data, "text/csv")
    return at.run()


def test_purchases_from_the_till_are_checked_then_written_on_the_button(db: Path) -> None:
    store = SqliteStore(db)
    known = store.find(JARDINS, "+5511987654321").id
    before = len(store.events.for_customer(known))
    at = upload_till(open_app("importar"), TILL)
    assert not at.exception
    shown = {m.label: m.value for m in at.metric}
    assert (shown["Compras novas"], shown["Com problema"]) == ("2", "0")
    assert len(store.events.for_customer(known)) == before  # the preview writes nothing
    at.button(key="importar_compras_aplicar").click().run()
    assert "Importado: 2 compra(s), R$ 243.000,00." in at.success[0].value
    bought = [e for e in store.events.for_customer(known) if e.kind == "compra"]
    assert [(e.products, e.value_brl, e.source) for e in bought[:2]] == [
        (("Submariner",), 98000.0, "importacao"), (("Daytona",), 145000.0, "importacao")]


def test_a_till_row_of_an_unknown_customer_blocks_the_whole_file(db: Path) -> None:
    at = upload_till(open_app("importar"), TILL + b"+55 11 91111-2222;21/02/2026;Submariner;98000\n")
    assert "1 linha(s) com problema" in at.error[0].value
    problems = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    assert problems["line"].tolist() == [4] and "não é cliente da loja" in problems["reason"][0]
    assert [b.key for b in at.button if b.key == "importar_compras_aplicar"] == []
