"""The one way a file leaves Vitrine: a download button that records the export in the audit log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from dashboard.state import Context
from services.audit import AuditLog, ExportEntry
from services.interests import now_utc

CSV_MIME = "text/csv"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Export:
    """What a download holds, for the file and for the audit.

    Attributes:
        build: makes the file's bytes; called only when the user clicks.
        file_name: the name the browser saves.
        fmt: ``"csv"``, ``"xlsx"``…
        rows: how many customers the file holds.
        segment: the segment definition (a dataclass or a mapping) the audit records.
    """

    build: Callable[[], bytes]
    file_name: str
    fmt: str
    rows: int
    segment: object


def download_button(ctx: Context, export: Export, label: str, *, key: str, icon: str | None = None) -> None:
    """A download button whose file is built on click, and logged (who, when, stores, segment, rows).

    Every page offers files through this function, so the audit cannot be forgotten.
    """
    who = ctx.viewer.who  # read now: the callable runs outside the script run
    stores = tuple(ctx.stores)
    path = ctx.repository.path

    def produce() -> bytes:
        data = export.build()
        AuditLog(path).append(ExportEntry(
            at=now_utc(), who=who, stores=stores, segment=export.segment, rows=export.rows,
            format=export.fmt, filename=export.file_name,
        ))
        return data

    st.download_button(
        label,
        data=produce,
        file_name=export.file_name,
        mime=XLSX_MIME if export.fmt == "xlsx" else CSV_MIME if export.fmt == "csv" else None,
        key=key,
        on_click="ignore",
        disabled=export.rows == 0,
        icon=icon,
        width="stretch",
    )
