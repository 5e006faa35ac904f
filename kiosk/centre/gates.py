"""The compound's gates as the centre knows them: registered once, each with its credential.

A gate's credential is a random bearer token, printed once by `shelf centre gate add` and
kept here only as its SHA-256 (a token is 256 random bits: a hash is enough, and the table
alone lets no one in). It never expires: a gate cut off for a week reconnects with it; an
administrator who suspects it leaked gives the gate a new one (``rotate``), which ends the old.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from kiosk.centre.db import centre_event, unavailable_as_shelf_error
from kiosk.config import SLUG
from kiosk.errors import ShelfError

# A gate pushes each minute (and at once after a check-in). Not heard from for this long, it
# is "quiet" wherever its health shows: the compound's pages, /healthz, the district's
# dashboard (which calls it down). One rule, here.
SYNC_QUIET = timedelta(minutes=5)


class GateExists(ShelfError):
    """A gate of that id is registered in that community already."""

    code = "gate_exists"


class UnknownGate(ShelfError):
    """No such gate is registered at the centre."""

    code = "unknown_gate"


@dataclass(frozen=True)
class GateRef:
    """Who is asking: the gate its token belongs to (never what the request says it is)."""

    community: str
    gate: str


@dataclass(frozen=True)
class NewGate:
    """A gate just registered, with the one time its token is shown."""

    community: str
    gate: str
    token: str

    def config(self, url: str) -> dict[str, object]:
        """The keys of the gate's config: ``[community] id``, ``[gate] id``, ``[centre] ...``."""
        return {"community": {"id": self.community}, "gate": {"id": self.gate},
                "centre": {"url": url, "token": self.token}}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_slug(what: str, value: str) -> str:
    if not SLUG.fullmatch(value):
        raise ValueError(f"{what} {value!r}: a stable slug of lower-case letters, digits and "
                         "'-', e.g. " + ("xujiahui-garden" if what == "community" else "north"))
    return value


def ensure_community(conn: psycopg.Connection, community: str, now: datetime, *,
                     name: str = "") -> None:
    """Make the community's row if it has none yet (its name, when given, kept up to date)."""
    check_slug("community", community)
    with unavailable_as_shelf_error(), conn.transaction():
        conn.execute("INSERT INTO communities (id, name, created_at) VALUES (%s, %s, %s)"
                     " ON CONFLICT (id) DO UPDATE SET name = COALESCE(NULLIF(EXCLUDED.name, ''),"
                     " communities.name)", (community, name, now))


def add_gate(conn: psycopg.Connection, community: str, gate: str, now: datetime, *,
             name: str = "", actor: str) -> NewGate:
    """Register ``gate`` in ``community`` (made if new); return its token, shown this once."""
    check_slug("community", community)
    check_slug("gate", gate)
    token = secrets.token_urlsafe(32)
    with unavailable_as_shelf_error(), conn.transaction():
        conn.execute("INSERT INTO communities (id, created_at) VALUES (%s, %s)"
                     " ON CONFLICT (id) DO NOTHING", (community, now))
        added = conn.execute(
            "INSERT INTO gates (community_id, id, name, token_hash, created_at)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (community_id, id) DO NOTHING",
            (community, gate, name or gate, token_hash(token), now)).rowcount
        if not added:
            raise GateExists(f"the gate {gate!r} of {community!r} is registered already; "
                             "`shelf centre gate rotate` gives it a new credential")
        centre_event(conn, community, gate, now, "gate_added", actor)
    return NewGate(community, gate, token)


def rotate(conn: psycopg.Connection, community: str, gate: str, now: datetime, *,
           actor: str) -> NewGate:
    """Give a gate a new token: the old one stops working at once."""
    token = secrets.token_urlsafe(32)
    with unavailable_as_shelf_error(), conn.transaction():
        changed = conn.execute("UPDATE gates SET token_hash = %s WHERE community_id = %s"
                               " AND id = %s", (token_hash(token), community, gate)).rowcount
        if not changed:
            raise UnknownGate(f"there is no gate {gate!r} in {community!r}")
        centre_event(conn, community, gate, now, "gate_credential_rotated", actor)
    return NewGate(community, gate, token)


def authenticate(conn: psycopg.Connection, header: str) -> GateRef | None:
    """The gate whose token an ``Authorization: Bearer ...`` header carries; None if none."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 200:
        return None
    wanted = token_hash(token)
    with unavailable_as_shelf_error():
        row = conn.execute("SELECT community_id, id, token_hash FROM gates"
                           " WHERE token_hash = %s", (wanted,)).fetchone()
    if row is None or not hmac.compare_digest(row["token_hash"], wanted):
        return None
    return GateRef(row["community_id"], row["id"])


def gates_of(conn: psycopg.Connection, community: str) -> list[dict[str, object]]:
    """The community's gates, by id: their names and health as their last sync said."""
    with unavailable_as_shelf_error():
        return conn.execute(
            "SELECT id, name, epoch, schema_version, last_sync_at, pending, oldest_pending_at,"
            " last_command, commands_applied, status FROM gates WHERE community_id = %s"
            " ORDER BY id", (community,)).fetchall()


def quiet_for(row: dict[str, Any], now: datetime) -> timedelta | None:
    """How long the gate has not been heard from, once that is ``SYNC_QUIET`` or more (a gate
    cut off, or its sync stopped); None while it is heard from, or before it ever synced."""
    synced = row["last_sync_at"]
    if synced is None or now - synced < SYNC_QUIET:
        return None
    return now - synced


def quiet_minutes(row: dict[str, Any], now: datetime) -> int | None:
    """``quiet_for`` in whole minutes, as the pages say it."""
    quiet = quiet_for(row, now)
    return None if quiet is None else int(quiet.total_seconds() // 60)


def gate_health(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """One gate's health as its last sync reported it, ages carried forward to ``now``.

    ``lag_s`` is how far behind the centre's copy of the gate may be: the age of the oldest
    record the gate had not yet sent when last heard from, carried forward; once the gate is
    quiet (``SYNC_QUIET``) with nothing pending then, the time since that sync, since all it
    did after is unknown here. A gate heard from with nothing pending: 0."""
    synced = row["last_sync_at"]
    since = (now - synced).total_seconds() if synced else None
    status = row["status"] or {}
    beat = status.get("kiosk_heartbeat_age_s")
    lag = status.get("lag_s")
    quiet = quiet_for(row, now)
    if since is None:
        behind = None
    elif lag is not None and row["pending"]:
        behind = round(lag + since, 1)
    else:
        behind = round(since, 1) if quiet is not None else 0.0
    return {
        "gate": row["id"], "name": row["name"],
        "last_sync_at": synced.isoformat() if synced else None,
        "pending": row["pending"] if synced else None,
        "lag_s": behind,
        "quiet": synced is None or quiet is not None,
        "kiosk_heartbeat_age_s": round(beat + since, 1) if beat is not None and since is not
        None else None,
        "camera_lost": status.get("camera_lost"),
        "failed_notices": status.get("outbox_failed"),
        "commands_waiting": row["last_command"] - row["commands_applied"],
    }


def resolve_alarm(conn: psycopg.Connection, community: str, alarm_id: int, *, actor: str,
                  now: datetime) -> bool:
    """Mark an alarm of the sync seen and dealt with (it leaves the lists; its row and the
    centre's history keep who did, and when). False: no such open alarm."""
    with unavailable_as_shelf_error(), conn.transaction():
        row = conn.execute("UPDATE sync_alarms SET resolved_at = %s, resolved_by = %s"
                           " WHERE community_id = %s AND id = %s AND resolved_at IS NULL"
                           " RETURNING gate_id, kind", (now, actor[:200], community, alarm_id)
                           ).fetchone()
        if row is not None:
            centre_event(conn, community, row["gate_id"], now, "alarm_resolved", actor,
                         alarm=alarm_id, alarm_kind=row["kind"])
    return row is not None
