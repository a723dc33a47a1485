"""The Airtable token never shows: not on screen, in logs, in error messages, nor in any file Vitrine writes.

A recognisable token is used against the fake Airtable server (tests/fake_airtable.py)
through syncs, writes and every fault; then every output is searched for it.
"""

from __future__ import annotations

import io
import logging
import os
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services import config
from services.config import AirtableSettings
from services.store.airtable import AirtableStore, ClientPolicy
from services.store.airtable.sync import last_error, run_cli, sync
from services.store.base import StoreError
from tests.airtable_helpers import FAST, STORES, make_base, phone_of
from tests.apptext import screen
from tests.fake_airtable import FakeAirtable

TOKEN = "patLEAKCHECK0042.7f3a9c2e5b1d4f6a8c0e2b4d6f8a0c1e3b5d7f9a"
# Pieces that would betray a truncated or re-encoded token, too.
FRAGMENTS = (TOKEN, TOKEN.split(".")[1], TOKEN.split(".")[1][:16], "patLEAKCHECK0042")
AT = datetime(2026, 11, 1, 12, tzinfo=UTC)
JARDINS = STORES[0]


def leaks(text: str | bytes) -> list[str]:
    """The fragments of the token found in ``text``."""
    if isinstance(text, bytes):
        return [f for f in FRAGMENTS if f.encode() in text or f.encode("utf-16-le") in text]
    return [f for f in FRAGMENTS if f in text]


def written_files(root: Path) -> Iterator[Path]:
    return (path for path in root.rglob("*") if path.is_file())


def error_text(exc: BaseException) -> str:
    """Message, repr and the whole formatted traceback of ``exc`` and its causes."""
    parts = ["".join(traceback.format_exception(exc))]
    seen: BaseException | None = exc
    while seen is not None:
        parts += [str(seen), repr(seen), repr(seen.args)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


@pytest.fixture
def fake() -> Iterator[FakeAirtable]:
    with FakeAirtable(tokens=[TOKEN], rate_limit_per_sec=None, block_seconds=0.2, seed=5) as server:
        yield server


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # every logger, urllib3 and pyairtable included
    return caplog


def store_at(fake: FakeAirtable, base_id: str, path: Path, token: str = TOKEN,
             policy: ClientPolicy = FAST) -> AirtableStore:
    settings = AirtableSettings(api_key=token, base_id=base_id, endpoint_url=fake.url)
    return AirtableStore(path, settings, policy)


def assert_no_token_anywhere(root: Path, logs: pytest.LogCaptureFixture, *texts: str) -> None:
    for path in written_files(root):
        assert not leaks(path.read_bytes()), path
    assert not leaks(logs.text)
    for record in logs.records:
        assert not leaks(str(record.args)), record
    for text in texts:
        assert not leaks(text), text


def test_a_good_sync_and_writes_leave_no_token(fake: FakeAirtable, tmp_path: Path, logs, capsys) -> None:
    base = make_base(fake, customers=25)
    store = store_at(fake, base.base_id, tmp_path / "mirror.db")
    report = sync(store)
    store.record(JARDINS, phone_of(3), ["Submariner", "Cartier Love"], AT, name="Ana")
    store.record(JARDINS, "+55 11 97777-0001", ["Nautilus 5711"], AT, name="Nova")
    fake.inject(status=429, times=2)
    again = sync(store)
    out = capsys.readouterr()
    assert report.customers == 25
    assert_no_token_anywhere(tmp_path, logs, report.summary(), again.summary(), repr(store),
                             repr(store.client), repr(store.settings), str(store.settings),
                             out.out, out.err)


FAULTS: dict[str, Callable[[FakeAirtable, str], dict]] = {
    # Each returns the keyword arguments of store_at for the fault.
    "401 wrong token": lambda fake, base_id: {"token": TOKEN.replace("0042", "0042x")},
    "403 no access to the base": lambda fake, base_id: fake.token_bases.__setitem__(
        TOKEN, {"appSOMEOTHERBASE1"}) or {},
    "404 unknown base": lambda fake, base_id: {"base_id": "appDOESNOTEXIST01"},
    "missing field": lambda fake, base_id: fake.remove_field(base_id, "Customers", "interests_all") or {},
    "500 server error": lambda fake, base_id: fake.inject(status=500, times=None) and {},
    "429 without end": lambda fake, base_id: fake.inject(status=429, times=None) and {
        "policy": ClientPolicy(rate=None, block_seconds=0.01, max_blocks=2)},
    "connection dropped": lambda fake, base_id: fake.inject(drop=True, times=None) and {
        "policy": ClientPolicy(rate=None, network_retries=1, retry_backoff=0.01, timeout=(1.0, 1.0))},
}


@pytest.mark.parametrize("fault", FAULTS)
def test_faults_never_show_the_token(fake: FakeAirtable, tmp_path: Path, logs, fault: str) -> None:
    base = make_base(fake, customers=5)
    options = FAULTS[fault](fake, base.base_id)
    base_id = options.pop("base_id", base.base_id)
    store = store_at(fake, base_id, tmp_path / "mirror.db", **options)

    with pytest.raises(StoreError) as caught:
        sync(store)
    stream = io.StringIO()
    status = run_cli(store, stream=stream)
    with pytest.raises(StoreError) as on_write:
        store.record(JARDINS, phone_of(1), ["Tank"], AT)

    assert status == 1 and "Erro:" in stream.getvalue()
    assert last_error(store)
    assert_no_token_anywhere(tmp_path, logs, error_text(caught.value), error_text(on_write.value),
                             stream.getvalue(), last_error(store) or "")


def test_the_wrong_token_itself_is_not_echoed(fake: FakeAirtable, tmp_path: Path, logs) -> None:
    """A user who pasted a token into the wrong place must not see it printed back."""
    base = make_base(fake, customers=1)
    wrong = "patPASTEDWRONG99.aaaabbbbccccddddeeeeffff0000111122223333"
    store = store_at(fake, base.base_id, tmp_path / "mirror.db", token=wrong)
    with pytest.raises(StoreError) as caught:
        sync(store)
    for text in (error_text(caught.value), logs.text, last_error(store) or "",
                 (tmp_path / "mirror.db").read_bytes().decode("latin-1")):
        assert "aaaabbbbccccdddd" not in text and "patPASTEDWRONG99" not in text


# --- on screen ------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("clientes", "campanhas", "metricas", "insights")


@pytest.fixture
def local_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Local mode on a fresh mirror file; the base comes from the test's own secrets."""
    import streamlit as st
    from streamlit import config as st_config

    path = tmp_path / "vitrine.db"
    monkeypatch.setenv("VITRINE_DB", str(path))
    for name in [k for k in os.environ if k.startswith("AIRTABLE_")]:
        monkeypatch.delenv(name)
    before = st_config.get_option("server.address")
    st_config.set_option("server.address", "127.0.0.1")
    st.cache_resource.clear()
    yield path
    st.cache_resource.clear()
    st_config.set_option("server.address", before)


def dashboard(fake: FakeAirtable, base_id: str, token: str = TOKEN):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60)
    at.secrets = {"airtable": {"AIRTABLE_API_KEY": token, "AIRTABLE_BASE_ID": base_id,
                               "AIRTABLE_ENDPOINT_URL": fake.url}}
    return at




def test_the_dashboard_on_airtable_never_shows_the_token(
    fake: FakeAirtable, local_app: Path, logs, tmp_path: Path
) -> None:
    base = make_base(fake, customers=12)
    at = dashboard(fake, base.base_id).run()
    assert not at.exception
    assert "Airtable" in screen(at, session_state=True)
    seen = [screen(at, session_state=True)]
    for page in PAGES:
        at.switch_page(f"../pages/{page}.py").run()
        assert not at.exception
        seen.append(screen(at, session_state=True))
    # (A 429 storm is covered above: the dashboard's own policy waits Airtable's 30 s blocks.)
    for fault in ({"status": 500, "times": None}, {"status": 403, "times": None},
                  {"drop": True, "times": None}):
        fake.inject(**fault)
        at.button(key="fonte_atualizar").click().run()
        fake.clear_faults()
        assert not at.exception
        assert at.warning, fault
        seen.append(screen(at, session_state=True))
    assert_no_token_anywhere(tmp_path, logs, *seen)


def test_a_wrong_token_on_the_first_visit_is_an_error_without_the_token(
    fake: FakeAirtable, local_app: Path, logs, tmp_path: Path
) -> None:
    base = make_base(fake, customers=3)
    wrong = TOKEN.replace("0042", "0043")
    at = dashboard(fake, base.base_id, token=wrong).run()
    assert not at.exception
    assert at.error and "401" in at.error[0].value
    text = screen(at, session_state=True)
    assert_no_token_anywhere(tmp_path, logs, text)
    assert wrong not in text and wrong.split(".")[1][:16] not in text


# --- the token's shape, and redaction -------------------------------------------------

PAT = "pat" + "Ab3dE6gH9jK2mN" + "." + "0123456789abcdef" * 4


@pytest.mark.parametrize("token", [
    PAT, TOKEN, f"  {PAT}\n", "oauth-like_token~with:punctuation!",
])
def test_a_token_of_visible_ascii_is_accepted_and_trimmed(token: str) -> None:
    settings = config.airtable_settings({"AIRTABLE_API_KEY": token, "AIRTABLE_BASE_ID": "appX"}, environ={})
    assert settings is not None and settings.api_key == token.strip()


@pytest.mark.parametrize("token", [
    PAT[:30] + "\n" + PAT[30:], PAT[:30] + " " + PAT[30:], PAT[:30] + "\t" + PAT[30:],
    PAT + "\x00", "\u200b" + PAT, PAT.replace("a", "á"), PAT[:20] + "\r\n" + PAT[20:],
])
def test_a_token_with_a_space_break_or_invisible_character_is_refused_without_showing_it(
    token: str,
) -> None:
    for secrets, environ in (({"AIRTABLE_API_KEY": token, "AIRTABLE_BASE_ID": "appX"}, {}),
                             (None, {"AIRTABLE_API_KEY": token, "AIRTABLE_BASE_ID": "appX"})):
        with pytest.raises(config.InvalidSetting) as refused:
            config.airtable_settings(secrets, environ=environ)
        text = error_text(refused.value)
        assert "AIRTABLE_API_KEY" in str(refused.value)
        assert "\n" not in str(refused.value)
        for line in token.splitlines():
            for piece in (line.strip()[:12], line.strip()[-12:]):
                assert len(piece) < 8 or piece not in text


def test_redact_hides_the_token_and_each_line_of_a_broken_one() -> None:
    assert config.redact(f"Bearer {PAT} recusado", [PAT]) == "Bearer *** recusado"
    broken = PAT[:30] + "\n" + PAT[30:]
    assert config.redact(f"a={PAT[:30]} b={PAT[30:]}", [broken]) == "a=*** b=***"
    assert config.redact("nada aqui: pat, ab", [None, "", PAT]) == "nada aqui: pat, ab"


def test_the_redacting_filter_cleans_messages_arguments_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(config.RedactingFilter([PAT]))
    logger = logging.getLogger("vitrine.test.redaction")
    logger.addHandler(handler)
    try:
        logger.warning("token %s recusado", PAT)
        try:
            raise RuntimeError(f"falha com {PAT}")
        except RuntimeError:
            logger.exception("pedido falhou")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "token *** recusado" in output and "falha com ***" in output
    assert PAT not in output and PAT[-20:] not in output


def test_every_configured_token_is_known_for_redaction_even_a_refused_one() -> None:
    broken = PAT[:30] + "\n" + PAT[30:]
    found = config.configured_secrets({"airtable_api_key": broken}, environ={"AIRTABLE_API_KEY": PAT})
    assert found == [PAT, broken]
    assert config.redact(f"{PAT} / {PAT[30:]}", found) == "*** / ***"


@pytest.fixture
def record_factory() -> Iterator[None]:
    factory, installed = logging.getLogRecordFactory(), config._installed
    yield
    logging.setLogRecordFactory(factory)
    config._installed = installed


def test_installed_redaction_covers_every_logger_and_handler(
    record_factory: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config.install_redaction(["old-token-value"])
    config.install_redaction([PAT])  # a rerun replaces the secrets, it does not stack factories
    logging.getLogger("urllib3.connectionpool").debug("GET /v0/app?key=%s", PAT)
    logging.getLogger("vitrine.airtable").error("resposta: %r", {"auth": f"Bearer {PAT}"})
    assert PAT not in caplog.text and "***" in caplog.text
    assert [r.getMessage().count("***") for r in caplog.records] == [1, 1]


def test_an_error_that_quotes_the_token_is_kept_and_printed_without_it(
    fake: FakeAirtable, tmp_path: Path, logs
) -> None:
    """A proxy (or Airtable) that echoes the Authorization header in its error message."""
    base = make_base(fake, customers=2)
    store = store_at(fake, base.base_id, tmp_path / "mirror.db")
    echo = {"error": {"type": "INVALID_REQUEST_UNKNOWN", "message": f"bad header: Bearer {TOKEN}"}}
    fake.inject(status=422, body=echo, times=None)
    stream = io.StringIO()
    assert run_cli(store, stream=stream) == 1
    assert "***" in stream.getvalue() and "***" in (last_error(store) or "")
    assert_no_token_anywhere(tmp_path, logs, stream.getvalue(), last_error(store) or "")
