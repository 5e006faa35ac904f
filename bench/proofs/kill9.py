"""Kill -9 a process checking parcels in and out, again and again: nothing confirmed is lost.

The child (``kill9_driver``) says "done" only after each use case returned. At a random moment
the parent kills it with SIGKILL, then checks from a fresh connection (as a restarted kiosk
would) that every confirmed check-in is a parcel, every confirmed pickup and door delivery is
collected, every confirmed change of a household's observation state has its event, and the
store is whole (``invariants``: door tasks too), each check-in and pickup with its camera
still and no still without its event. Then it starts the next child on the same store.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.community import sample_community
from bench.proofs.invariants import broken_rules
from bench.proofs.kill9_driver import STAFF
from bench.proofs.verdict import Verdict
from kiosk.store import UNDONE_MARK, connect

KILLS = 200
LONGEST_LIFE_S = 0.5  # after "ready": long enough for a few actions, short enough for many kills
SEED = 2403


def prove(kills: int = KILLS) -> Verdict:
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory(prefix="shelf-kill9-") as tmp:
        config = sample_community(Path(tmp) / "community", real_hash=False)
        done: Counter[str] = Counter()
        observed: Counter[tuple[str, str]] = Counter()  # (household, 1|0) confirmed, all kills
        for kill in range(kills):
            confirmed = _run_and_kill(config.path, rng.randrange(2**31), rng)
            done.update(kind for kind, _ in confirmed)
            observed.update(tuple(what.split()) for kind, what in confirmed
                            if kind == "observed")
            lost, problems = _check(config.database, confirmed, observed)
            if lost or problems:
                return Verdict(False, f"after kill {kill + 1}: {len(lost)} confirmed actions "
                               f"lost {lost[:3]}; {'; '.join(problems) or 'store consistent'}")
    return Verdict(True, f"{kills} kills during check-ins, pickups, door deliveries, "
                   f"observation changes and staff actions ({done['checkin']} check-ins, "
                   f"{done['pickup']} pickups, {done['delivered']} door deliveries, "
                   f"{done['observed']} observation changes, {done['staff']} staff actions "
                   "confirmed), 0 confirmed lost, database consistent")


def _run_and_kill(config: Path, seed: int, rng: random.Random) -> list[tuple[str, str]]:
    """Start the driver, kill -9 it at a random moment; return what it had confirmed."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen([sys.executable, "-m", "bench.proofs.kill9_driver", str(config),
                              str(seed)], stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    # One kill in ten lands while the child is still starting (open_store syncs the slots).
    if rng.random() < 0.1:
        time.sleep(rng.uniform(0, 0.3))
    else:
        if child.stdout.readline().strip() != "ready":
            child.kill()
            child.wait()
            raise RuntimeError("the kill -9 driver did not start; run it by hand to see why")
        time.sleep(rng.uniform(0, LONGEST_LIFE_S))
    child.send_signal(signal.SIGKILL)
    child.wait()
    confirmed = []
    for line in child.stdout.read().splitlines(keepends=True):
        if not line.endswith("\n"):
            continue  # cut off mid-line by the kill: never shown to anyone
        kind, _, what = line.strip().partition(" ")
        if kind in ("checkin", "pickup", "delivered", "observed", "staff"):
            confirmed.append((kind, what))
    child.stdout.close()
    return confirmed


# What a confirmed staff action leaves: its event by the proof's staff member, and the
# parcel's status (a move: the event alone, since a later move may take it elsewhere).
STAFF_LEFT = {"moved": None, "handed_out": "collected", "returned": "returned",
              "checkin_undone": "withdrawn"}


def _staff_action_kept(conn: sqlite3.Connection, action: str, parcel: str, slot: str) -> bool:
    event = conn.execute("SELECT 1 FROM events WHERE kind = ? AND parcel_id = ? AND actor = ?"
                         " AND (? != 'moved' OR slot_code = ?)",
                         (action, int(parcel), STAFF, action, slot)).fetchone()
    status = conn.execute("SELECT status FROM parcels WHERE id = ?", (int(parcel),)).fetchone()
    wanted = STAFF_LEFT[action]
    return event is not None and (wanted is None or (status and status[0] == wanted))


def _check(database: Path, confirmed: list[tuple[str, str]],
           observed: Counter[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """(confirmed actions the store does not show, broken rules of the store).

    ``observed``: every observation change confirmed so far, each of which left one event.
    """
    conn = connect(database)  # the pragmas and recovery a restarted kiosk gets
    try:
        lost = []
        for kind, what in confirmed:
            if kind == "checkin":
                # A check-in undone later keeps its label with a mark (Parcels.release_label).
                found = conn.execute("SELECT 1 FROM parcels WHERE label = ? OR (label > ?"
                                     " AND label < ?)", (what, what + UNDONE_MARK,
                                                         what + UNDONE_MARK + "~")).fetchone()
                if not found:
                    lost.append(f"check-in {what.split(':')[2]}")
            elif kind == "staff":
                if not _staff_action_kept(conn, *what.split()):
                    lost.append(f"staff action {what}")
            elif kind in ("pickup", "delivered"):
                ids = [int(i) for i in what.split(",")]
                marks = ",".join("?" * len(ids))
                closed = conn.execute(f"SELECT COUNT(*) FROM parcels WHERE id IN ({marks})"
                                      " AND status = 'collected'", ids).fetchone()[0]
                if closed != len(ids):
                    lost.append(f"{kind} of parcels {what}")
        for (household, under), times in observed.items():
            kind = "observation_added" if under == "1" else "observation_released"
            recorded = conn.execute("SELECT COUNT(*) FROM events WHERE kind = ? AND actor = ?"
                                    " AND household_id = ?", (kind, STAFF, household))
            if recorded.fetchone()[0] < times:
                lost.append(f"{kind} of {household}")
        return lost, broken_rules(conn, every_scan_has_a_still=True)
    finally:
        conn.close()
