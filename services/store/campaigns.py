"""Saved campaigns and their frozen members, in the local SQLite file (SPEC §12)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from services.campaigns import GROUPS, MEMBER_COLUMNS, TIERS, Campaign, InvalidCampaign, Member, members_frame
from services.store.base import StoreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS campaigns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    stores TEXT NOT NULL,
    preset TEXT,
    segment TEXT NOT NULL,
    templates TEXT NOT NULL,
    terms TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    control_share REAL NOT NULL,
    seed INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS campaign_members (
    campaign_id INTEGER NOT NULL,
    customer_id TEXT NOT NULL,
    store TEXT NOT NULL,
    phone TEXT NOT NULL,
    name TEXT NOT NULL,
    tier TEXT NOT NULL,
    member_group TEXT NOT NULL,
    matched TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS campaign_members_campaign ON campaign_members (campaign_id);
"""

_CAMPAIGN_FIELDS = (
    "id, name, stores, preset, segment, templates, terms, created_by, created_at, sent_at,"
    " control_share, seed"
)


class UnknownCampaign(StoreError):
    """No saved campaign with that id."""


def _iso(moment: datetime) -> str:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _texts(values: pd.Series) -> list[str]:
    """A column as Python strings, blanks for missing values."""
    return values.astype(object).where(values.notna(), "").astype(str).tolist()


_ENCODER = json.JSONEncoder(ensure_ascii=False)


def _encode_titles(values: Iterable[object]) -> list[str]:
    """Each member's matched products as JSON text; a list repeats a lot, so each is encoded once."""
    seen: dict[tuple[str, ...], str] = {}
    out = []
    for value in values:
        titles = tuple(str(v) for v in value) if isinstance(value, list | tuple) else ()
        text = seen.get(titles)
        if text is None:
            text = seen[titles] = _ENCODER.encode(list(titles))
        out.append(text)
    return out


def _decode_titles(texts: Iterable[str]) -> list[tuple[str, ...]]:
    seen: dict[str, tuple[str, ...]] = {}
    out = []
    for text in texts:
        titles = seen.get(text)
        if titles is None:
            titles = seen[text] = tuple(json.loads(text))
        out.append(titles)
    return out


def _campaign(row: tuple) -> Campaign:
    (cid, name, stores, preset, segment, templates, terms, created_by, created_at, sent_at,
     control_share, seed) = row
    return Campaign(
        id=int(cid), name=name, stores=tuple(json.loads(stores)), preset=preset,
        segment=json.loads(segment), templates=json.loads(templates), created_by=created_by,
        created_at=_moment(created_at), sent_at=_moment(sent_at),  # type: ignore[arg-type]
        control_share=float(control_share), seed=int(seed), terms=tuple(json.loads(terms)),
    )


def _members(db: sqlite3.Connection, campaign_ids: list[int] | None) -> pd.DataFrame:
    query = ("SELECT campaign_id, customer_id, store, phone, name, tier, member_group, matched, message"
             " FROM campaign_members")
    if campaign_ids is None:
        rows = db.execute(f"{query} ORDER BY campaign_id, rowid").fetchall()
    else:
        ids = sorted(set(campaign_ids))
        marks = ", ".join("?" * len(ids))
        rows = db.execute(f"{query} WHERE campaign_id IN ({marks}) ORDER BY campaign_id, rowid",
                          ids).fetchall()
    frame = pd.DataFrame(rows, columns=list(MEMBER_COLUMNS))
    frame["campaign_id"] = frame["campaign_id"].astype("int64")
    frame["matched"] = _decode_titles(frame["matched"])
    return frame


class CampaignStore:
    """Campaigns in the SQLite file at ``path`` (the same file as the customers), in their own tables.

    Tables ``campaigns`` and ``campaign_members`` are created when missing and never
    dropped; a full sync of customers does not touch them. ``read_only`` opens a file this
    process may not write: reads only (a file without the tables has no campaign). Members are frozen when
    saved: later changes to a customer do not rewrite a campaign's list.

    Example::

        campaigns = CampaignStore("data/vitrine.db")
        cid = campaigns.save(campaign, members)
        campaign, members = campaigns.get(cid)
    """

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        if read_only:
            with self._connect() as db:
                self._empty = db.execute(
                    "SELECT NOT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'campaigns')").fetchone()[0]
            return
        self._empty = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection in one transaction: committed on success, rolled back on error."""
        if self.read_only:
            from services.store.readonly import connect_read_only

            db = connect_read_only(self.path)
        else:
            db = sqlite3.connect(self.path, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()

    def version(self) -> str:
        """A token that changes whenever a campaign is saved, renamed, sent or deleted (a cache key)."""
        if self._empty:
            return "none"
        with self._connect() as db:
            rows = db.execute("SELECT id, name, coalesce(sent_at, '') FROM campaigns ORDER BY id").fetchall()
        return hashlib.sha1(json.dumps(rows).encode()).hexdigest()[:16]

    def save(self, campaign: Campaign, members: pd.DataFrame | Iterable[Member]) -> int:
        """Save a campaign and its members in one transaction; returns the new id.

        The campaign's own ``id`` and the members' ``campaign_id`` are ignored: the
        store gives the id (ids are never reused, even after a delete).

        Args:
            campaign: the campaign.
            members: a frame with ``MEMBER_COLUMNS`` (``matched`` a list or tuple of
                titles) or ``Member`` values.

        Raises:
            InvalidCampaign: a member with an unknown tier or group, or listed twice.
        """
        frame = members if isinstance(members, pd.DataFrame) else members_frame(members)
        frame = frame.reindex(columns=list(MEMBER_COLUMNS))
        bad_tier = ~frame["tier"].isin(TIERS)
        bad_group = ~frame["group"].isin(GROUPS)
        if bad_tier.any() or bad_group.any():
            raise InvalidCampaign(
                "cada cliente da campanha precisa de um nível e de um grupo (envio ou controle)"
            )
        ids = frame["customer_id"].astype(str)
        if ids.duplicated().any():
            raise InvalidCampaign("um cliente aparece mais de uma vez na lista")
        # Uniqueness is checked here, not by an index: appending in rowid order keeps a 50,000-row save fast.
        matched = _encode_titles(frame["matched"])
        with self._connect() as db:
            cursor = db.execute(
                f"INSERT INTO campaigns ({_CAMPAIGN_FIELDS}) VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    campaign.name,
                    json.dumps(list(campaign.stores), ensure_ascii=False),
                    campaign.preset,
                    json.dumps(dict(campaign.segment), ensure_ascii=False, sort_keys=True),
                    json.dumps(dict(campaign.templates), ensure_ascii=False, sort_keys=True),
                    json.dumps(list(campaign.terms), ensure_ascii=False),
                    campaign.created_by,
                    _iso(campaign.created_at),
                    _iso(campaign.sent_at) if campaign.sent_at else None,
                    campaign.control_share,
                    campaign.seed,
                ),
            )
            cid = int(cursor.lastrowid or 0)
            db.executemany(
                "INSERT INTO campaign_members (campaign_id, customer_id, store, phone, name, tier,"
                " member_group, matched, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                zip(
                    [cid] * len(frame), ids.tolist(), _texts(frame["store"]), _texts(frame["phone"]),
                    _texts(frame["name"]), _texts(frame["tier"]), _texts(frame["group"]), matched,
                    _texts(frame["message"]), strict=True,
                ),
            )
        return cid

    def list(self, stores: Iterable[str] | None = None) -> list[Campaign]:
        """The saved campaigns, newest first.

        Args:
            stores: the stores the user may see; only campaigns whose stores are all
                among them are listed (None: every campaign).
        """
        if self._empty:
            return []
        with self._connect() as db:
            rows = db.execute(f"SELECT {_CAMPAIGN_FIELDS} FROM campaigns ORDER BY id DESC").fetchall()
        found = [_campaign(row) for row in rows]
        if stores is None:
            return found
        allowed = set(stores)
        return [c for c in found if c.stores and set(c.stores) <= allowed]

    def get(self, campaign_id: int) -> tuple[Campaign, pd.DataFrame]:
        """A campaign and its members (``MEMBER_COLUMNS``, ``matched`` a tuple), in the order saved.

        Raises:
            UnknownCampaign: no campaign with that id.
        """
        if self._empty:
            raise UnknownCampaign(f"campanha {campaign_id} não encontrada")
        with self._connect() as db:
            row = db.execute(f"SELECT {_CAMPAIGN_FIELDS} FROM campaigns WHERE id = ?",
                             (int(campaign_id),)).fetchone()
            members = _members(db, [int(campaign_id)])
        if row is None:
            raise UnknownCampaign(f"campanha {campaign_id} não encontrada")
        return _campaign(row), members

    def members(self, campaign_ids: Iterable[int] | None = None) -> pd.DataFrame:
        """The members of several campaigns (None: all), ``MEMBER_COLUMNS``: what ``outcomes`` reads."""
        if self._empty:
            return members_frame([]).astype({"campaign_id": "int64"})
        with self._connect() as db:
            return _members(db, None if campaign_ids is None else [int(i) for i in campaign_ids])

    def rename(self, campaign_id: int, name: str) -> None:
        """Give a campaign a new name (free text, not blank)."""
        if not str(name).strip():
            raise InvalidCampaign("dê um nome à campanha")
        self._update(campaign_id, "UPDATE campaigns SET name = ? WHERE id = ?", str(name).strip())

    def set_sent_at(self, campaign_id: int, at: datetime | None) -> None:
        """Record when a campaign was sent (naive means UTC); None: not sent yet."""
        self._update(campaign_id, "UPDATE campaigns SET sent_at = ? WHERE id = ?", _iso(at) if at else None)

    def clear(self) -> None:
        """Remove every campaign (a demo rebuilt from scratch only: its customers are new)."""
        with self._connect() as db:
            db.execute("DELETE FROM campaign_members")
            db.execute("DELETE FROM campaigns")

    def mark_sent(self, campaign_id: int, at: datetime) -> bool:
        """Set ``sent_at`` to ``at`` unless the campaign already has one (its first download).

        Returns:
            True when this call set it.
        """
        with self._connect() as db:
            cursor = db.execute("UPDATE campaigns SET sent_at = ? WHERE id = ? AND sent_at IS NULL",
                                (_iso(at), int(campaign_id)))
        return cursor.rowcount > 0

    def delete(self, campaign_id: int) -> None:
        """Remove a campaign and its members (the caller checks that the user is an admin)."""
        with self._connect() as db:
            db.execute("DELETE FROM campaign_members WHERE campaign_id = ?", (int(campaign_id),))
            cursor = db.execute("DELETE FROM campaigns WHERE id = ?", (int(campaign_id),))
            if cursor.rowcount == 0:
                raise UnknownCampaign(f"campanha {campaign_id} não encontrada")

    def _update(self, campaign_id: int, statement: str, value: object) -> None:
        with self._connect() as db:
            if db.execute(statement, (value, int(campaign_id))).rowcount == 0:
                raise UnknownCampaign(f"campanha {campaign_id} não encontrada")


__all__ = ["SCHEMA", "CampaignStore", "UnknownCampaign"]
