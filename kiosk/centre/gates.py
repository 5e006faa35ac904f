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
from datetime import datetime

import psycopg

from kiosk.centre.db import centre_event, unavailable_as_shelf_error
from kiosk.config import SLUG
from kiosk.errors import ShelfError


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
