"""A gate and its centre over days and weeks, on a clock moved by hand.

The centre away for three days: the sync backs off, never further than 30 periods, tries on
the whole time, and catches up at its first try once the centre is back. The journal pruned
behind what the centre holds: what it lacks stays, what it has held for `journal_days` goes,
and a store copied back after a prune still tells its old rows from those made since.
"""

from __future__ import annotations

import shutil
import threading
from datetime import UTC, datetime, timedelta

import pytest
from compound import compound
from conftest import check_in, pickup_code

from bench.compound import NOWHERE
from kiosk.centre.db import connect
from kiosk.clock import ManualClock
from kiosk.community import open_store
from kiosk.config import load_config
from kiosk.services import Rules, act_on_code
from kiosk.store import SqliteUnitOfWork, close_store
from kiosk.sync.gate import BACKOFF_LIMIT, run_sync
from kiosk.sync.link import HttpLink

PERIOD = 60  # [centre] sync_seconds of these gates
DAYS = 30  # [centre] journal_days: the default


@pytest.fixture
def north(tmp_path, community_template, centre_url):
    """The gate, the centre's site, the clock (on today: the journal's times are the wall
    clock's), and the centre's database."""
    clock = ManualClock(datetime.now(UTC))
    with compound(tmp_path, community_template, centre_url, ("north",), clock) as (_, url, g):
        gate = g["north"]
        path = gate.config.path
        path.write_text(path.read_text().replace("sync_seconds = 1", f"sync_seconds = {PERIOD}"))
        gate.config = load_config(path)
        yield gate, url, clock


class AwayUntil:
    """The centre's link, cut off until ``back`` on the clock (nothing listens at NOWHERE)."""

    def __init__(self, url: str, token: str, clock: ManualClock, back: datetime) -> None:
        self.away, self.there = HttpLink(NOWHERE, token, 5), HttpLink(url, token, 5)
        self.clock, self.back = clock, back

    def exchange(self, request: dict) -> dict:
        link = self.there if self.clock.now() >= self.back else self.away
        return link.exchange(request)


def centre_refs(database: str) -> list[tuple[str, str, str]]:
    with connect(database) as pg:
        return [(r["origin"], r["ref"], r["status"]) for r in pg.execute(
            "SELECT origin, ref, status FROM parcels ORDER BY ref, origin")]


def test_a_centre_away_for_three_days_is_tried_on_within_30_periods_and_caught_up(
        north, centre_url):
    gate, url, clock = north
    for n in range(5):
        check_in(gate.conn, gate.config, clock, "2-902", f"A{n}")
    back = clock.now() + timedelta(days=3)
    stop = threading.Event()
    waits: list[tuple[datetime, float, int, str | None]] = []

    def wait(seconds: float) -> None:  # the days pass in a moment; stop an hour after
        state = gate.journal().state()
        waits.append((clock.now(), seconds, state.holds - state.acked, state.last_error))
        clock.advance(seconds)
        if clock.now() > back + timedelta(hours=1):
            stop.set()

    run_sync(gate.conn, gate.config, AwayUntil(url, gate.config.centre.token, clock, back),
             clock, stop, wait=wait)

    away = [w for w in waits if w[0] < back]
    assert [w[1] for w in away[:6]] == [2 * PERIOD, 4 * PERIOD, 8 * PERIOD, 16 * PERIOD,
                                        BACKOFF_LIMIT * PERIOD, BACKOFF_LIMIT * PERIOD]
    assert max(w[1] for w in waits) == BACKOFF_LIMIT * PERIOD  # bounded, however long away
    assert len(away) >= 3 * 24 * 3600 // (BACKOFF_LIMIT * PERIOD)  # tried on the whole time
    assert all(w[2] > 0 and "did not answer" in w[3] for w in away)
    first_back = next(w for w in waits if w[0] >= back)
    assert first_back[0] - back <= timedelta(seconds=BACKOFF_LIMIT * PERIOD)
    assert first_back[1:] == (PERIOD, 0, None)  # everything sent at once; the usual pace again
    assert [ref for _, ref, _ in centre_refs(centre_url)] == [f"A{n}" for n in range(5)]


def run_for(gate, url: str, clock: ManualClock, days: float, back: datetime) -> None:
    """``run_sync`` for ``days`` on the clock (the centre away until ``back``)."""
    stop = threading.Event()
    until = clock.now() + timedelta(days=days)

    def wait(seconds: float) -> None:
        clock.advance(seconds)
        if clock.now() >= until:
            stop.set()

    run_sync(gate.conn, gate.config, AwayUntil(url, gate.config.centre.token, clock, back),
             clock, stop, wait=wait)


def journal_refs(gate) -> list[str]:
    return sorted({r["ref"] for r in gate.conn.execute(
        "SELECT json_extract(data, '$.ref') AS ref FROM sync_journal WHERE kind = 'parcels'")})


def test_the_journal_keeps_what_the_centre_lacks_and_prunes_what_it_held_for_30_days(
        north, centre_url):
    gate, url, clock = north
    for n in range(4):
        check_in(gate.conn, gate.config, clock, "2-902", f"A{n}")
    run_for(gate, url, clock, 0.01, back=clock.now())  # sent; young: all kept
    assert journal_refs(gate) == ["A0", "A1", "A2", "A3"]

    clock.advance(DAYS * 24 * 3600)  # a month on, the centre away since
    for n in range(2):
        check_in(gate.conn, gate.config, clock, "2-902", f"B{n}")
    run_for(gate, url, clock, 0.1, back=clock.now() + timedelta(days=2))
    # A's records went, but the one that names the newest parcel the centre held (A3); the
    # records the centre has not acknowledged stay however old they are.
    assert journal_refs(gate) == ["A3", "B0", "B1"]
    state = gate.journal().state()
    assert state.acked < state.holds

    run_for(gate, url, clock, 0.01, back=clock.now())
    assert [ref for _, ref, _ in centre_refs(centre_url)] == ["A0", "A1", "A2", "A3", "B0",
                                                              "B1"]
    assert gate.journal().state().acked == gate.journal().state().holds


def test_a_store_copied_back_after_a_prune_keeps_its_old_parcels_under_their_keys(
        north, centre_url, tmp_path):
    gate, url, clock = north
    rules = Rules.from_config(gate.config)
    for n in range(3):
        check_in(gate.conn, gate.config, clock, "2-902", f"A{n}")
    assert gate.sync(clock).pending == 0
    assert gate.journal().prune(datetime.now(UTC) + timedelta(seconds=1)) > 0
    close_store(gate.conn)
    card = tmp_path / "card.db"
    shutil.copyfile(gate.config.database, card)  # the whole card, copied aside
    gate.conn = open_store(gate.config)
    for n in range(2):
        check_in(gate.conn, gate.config, clock, "3-301", f"B{n}")
    gate.sync(clock)
    close_store(gate.conn)

    shutil.copyfile(card, gate.config.database)  # ... and copied back after the prune
    gate.conn = open_store(gate.config)
    old = gate.journal().state().epoch
    act_on_code(pickup_code(gate.conn, "2-902"), SqliteUnitOfWork(gate.conn), rules, clock)
    check_in(gate.conn, gate.config, clock, "3-310", "C0")  # reuses B0's numbers
    report = gate.sync(clock)
    assert report.rewound and (report.centre, report.pending) == ("reachable", 0)

    new = gate.journal().state().epoch
    # A's parcels, collected now, are the centre's A parcels (their own keys); C0 is new.
    assert centre_refs(centre_url) == sorted(
        [(old, f"A{n}", "collected") for n in range(3)]
        + [(old, f"B{n}", "waiting") for n in range(2)] + [(new, "C0", "waiting")],
        key=lambda r: (r[1], r[0]))


def test_a_centre_that_lost_records_the_gate_pruned_is_told_so_not_left_silent(
        north, centre_url):
    gate, url, clock = north
    for n in range(3):
        check_in(gate.conn, gate.config, clock, "2-902", f"A{n}")
    assert gate.sync(clock).pending == 0
    assert gate.journal().prune(datetime.now(UTC) + timedelta(seconds=1)) > 0
    epoch = gate.journal().state().epoch
    with connect(centre_url) as pg:  # the centre restored from a backup made before A1
        first = pg.execute("SELECT min(seq) AS s FROM sync_records WHERE kind = 'events'"
                           " AND data->>'kind' = 'checked_in' AND data->'detail'->>'ref' = 'A1'"
                           ).fetchone()["s"]
        pg.execute("DELETE FROM sync_records WHERE seq >= %s", (first,))
        pg.execute("UPDATE gate_epochs SET applied = %s WHERE epoch = %s", (first - 1, epoch))
    check_in(gate.conn, gate.config, clock, "2-902", "B0")

    report = gate.sync(clock)
    assert report.centre == "refused" and report.error.startswith(
        f"the centre lacks this gate's records from seq {first} on (epoch {epoch})")
    assert "journal_days" in report.error and report.pending > 0
    assert gate.journal().state().last_error == report.error
