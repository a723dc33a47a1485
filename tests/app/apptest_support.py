"""What the AppTest and browser suites share: the test database, the pinned clock, the app."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from streamlit.testing.v1 import AppTest

from services.demo import generate
from services.frame import CustomerData, build
from services.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
JARDINS, LEBLON, SAVASSI = "Vitrine Jardins", "Vitrine Leblon", "Vitrine Savassi"

# A customer everybody can find: the SPEC's journey, phone +55 11 98765-4321.
KNOWN_PHONE = "+5511987654321"
KNOWN = {
    "id": "recKnownCustomer1", "store": JARDINS, "phone": KNOWN_PHONE, "name": "Helena Vasconcelos",
    "interests": ["Aquanaut", "Calatrava", "Grand Complications", "Twenty-4", "Golden Ellipse"],
    "interests_all": ["Submariner", "GMT-Master II", "Datejust", "Anel Diamante", "Cartier Love",
                      "Nautilus 5711", "Aquanaut", "Calatrava", "Grand Complications", "Twenty-4",
                      "Golden Ellipse"],
    "created_at": "2025-06-02T14:00:00Z", "last_interaction": "2026-02-17T15:30:00Z",
}
# Untrusted text as a name: it must show as typed, never as a link or bold.
HOSTILE = {
    "id": "recHostileName01", "store": JARDINS, "phone": "+5511912340000",
    "name": "Zed [clique aqui](http://e.vil) **urgente** <b>oi</b>",
    "interests": ["Daytona"], "interests_all": ["Daytona"],
    "created_at": "2025-06-02T14:00:00Z", "last_interaction": "2026-01-10T15:30:00Z",
}


def make_db(path: Path, customers: int = 600) -> Path:
    """The demo (fixed seed and clock) plus the known and the hostile customers."""
    store = SqliteStore(path)
    generate(store, customers, seed=11, now=NOW)
    store.insert_raw([KNOWN, HOSTILE])
    return path


def data_of(path: Path, stores: tuple[str, ...] | None = None) -> CustomerData:
    """The customer frame the app reads, built the way the app builds it."""
    store = SqliteStore(path)
    frame = build(store.raw_customers(store.stores()), store.catalog())
    return frame if stores is None else frame.for_stores(stores)


def open_app(page: str | None = None) -> AppTest:
    """The app in local mode (no sign-in), optionally switched to ``pages/<page>.py``."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets = {"_": {}}  # non-empty, so a real secrets.toml can never be read
    at.run()
    if page:
        at.switch_page(f"../pages/{page}.py").run()
    return at
