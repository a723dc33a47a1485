"""Who may see which stores (SPEC §10)."""

from __future__ import annotations


def allowed_stores(all_stores: tuple[str, ...]) -> tuple[str, ...]:
    """The stores the signed-in user may see. Local mode (no sign-in configured): all."""
    return all_stores
