"""AppTest fixtures: a small demo database per test, a pinned clock, clean Streamlit caches."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from apptest_support import NOW, make_db
from streamlit import config as st_config

from services.interests import iso


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_db(tmp_path_factory.mktemp("demo") / "vitrine.db")


@pytest.fixture
def db(demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the demo for one test (tests that record must not leak into others)."""
    path = tmp_path / "vitrine.db"
    shutil.copy(demo_db, path)
    monkeypatch.setenv("VITRINE_DB", str(path))
    monkeypatch.setenv("VITRINE_NOW", iso(NOW))
    return path


@pytest.fixture(autouse=True)
def clean_streamlit() -> Iterator[None]:
    """Fresh caches and a loopback address (local mode) for every test."""
    before = st_config.get_option("server.address")
    st_config.set_option("server.address", "127.0.0.1")
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()
    st_config.set_option("server.address", before)
