"""A district on one machine: one centre database (real PostgreSQL) holding several compounds,
each with its gates (real copies of the sample community: config and SQLite), each compound's
site built from its own centre config, and the gates syncing over HTTP through one of them."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from compound import Gate, centre_config, gate_config
from conftest import ADMIN_PASSWORD, CHEAP_HASHER

from kiosk.centre.db import connect
from kiosk.centre.gates import add_gate
from kiosk.centre.store import CentreUnitOfWork
from kiosk.community import open_store
from kiosk.config import Config
from kiosk.passwords import hash_password
from kiosk.staff import add_staff

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
COMPOUNDS = ("east-garden", "west-court", "river-view")
GATES = ("north", "south")


@dataclass
class District:
    """The compounds' centre configs and sites, and every gate by (compound, gate)."""

    url: str  # where the gates sync (any compound's site answers every gate by its token)
    configs: dict[str, Config]
    sites: dict[str, object]
    gates: dict[tuple[str, str], Gate]


def staff_of(community: str) -> str:
    """The username of a compound's own committee member in these tests."""
    return f"li.{community.split('-')[0]}"


def sign_in(app, username: str):
    """A test client of ``app`` after signing in as ``username``, and the sign-in's answer."""
    client = app.test_client()
    token = CSRF_RE.search(client.get("/login").text)[1]
    return client, client.post("/login", data={"csrf_token": token, "username": username,
                                               "password": ADMIN_PASSWORD})


@contextlib.contextmanager
def district(tmp_path: Path, template: Path, database: str, clock,
             compounds: tuple[str, ...] = COMPOUNDS,
             gates: tuple[str, ...] = GATES) -> Iterator[District]:
    """Every compound registered with its gates (each its own token) and one committee account
    (``staff_of``), all in one database."""
    from conftest import served

    from web.centre import create_centre_app

    configs = {c: centre_config(tmp_path / f"centre-{c}", template, database, c)
               for c in compounds}
    sites = {c: create_centre_app(configs[c], clock=clock) for c in compounds}
    for app in sites.values():
        app.config["TESTING"] = True
    opened: dict[tuple[str, str], Gate] = {}
    with served(sites[compounds[0]]) as url, connect(database) as pg:
        try:
            for community in compounds:
                add_staff(CentreUnitOfWork(pg, community), clock.now(),
                          username=staff_of(community), name="Li", role="committee",
                          team="committee", actor="tests", teams=["committee", "property"],
                          password_hash=hash_password(ADMIN_PASSWORD, hasher=CHEAP_HASHER))
                for gate in gates:
                    new = add_gate(pg, community, gate, datetime.now(UTC), actor="tests")
                    config = gate_config(tmp_path / f"{community}-{gate}", template, gate, url,
                                         new.token, community)
                    opened[(community, gate)] = Gate(gate, config, open_store(config))
            yield District(url, configs, sites, opened)
        finally:
            for gate in opened.values():
                gate.conn.close()
