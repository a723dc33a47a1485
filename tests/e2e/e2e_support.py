"""Helpers of the browser tests: where screenshots go."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "screenshots"


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """The page as the manager sees it, saved under ``screenshots/`` (git-ignored).

    Streamlit scrolls inside its own container, so on a phone the picture is the screen in view.
    """
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    # Tables load as skeletons first; the picture waits until every one is drawn.
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
    page.screenshot(path=str(path), full_page=full_page)
    return path
