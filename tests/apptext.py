"""What an AppTest run drew, as one text: for asserting what a user can (or must not) read."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def screen(at: AppTest, *, session_state: bool = False) -> str:
    """Every element's proto and every dataframe's values (and session state, if asked), as text."""
    parts: list[str] = []

    def walk(node: object) -> None:
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            for child in children.values():
                proto = getattr(child, "proto", None)
                if proto is not None:
                    parts.append(str(proto))
                walk(child)

    walk(at._tree)
    parts.extend(frame.value.to_string() for frame in at.dataframe)
    if session_state:
        parts.extend(f"{key}={value!r}" for key, value in at.session_state.items())
    return "\n".join(parts)
