"""The kill -9 proof's child: check parcels in, pick them up, carry them to doors, put
households under observation and release them, until killed.

``python -m bench.proofs.kill9_driver CONFIG SEED`` prints ``ready`` once the store is open,
then one line per action the service confirmed, written (and flushed) only AFTER the use case
returned, exactly when a courier, a resident or a staff member would be told "done":

    checkin <label>
    pickup <parcel id>,<parcel id>...
    delivered <parcel id>,<parcel id>...
    observed <household> <1|0>
    staff <action> <parcel id> [<slot>]   (moved, handed_out, returned, checkin_undone)

``... CONFIG SEED --gate PACE_S``: the gate of a compound (the sync proof's): no observation
changes and no door deliveries (its centre decides those, by commands: the lists, the team's
phone), and an action every PACE_S seconds at most.
"""

from __future__ import annotations

import random
import sqlite3
import sys
import time

from kiosk import staff_actions
from kiosk.clock import SystemClock
from kiosk.community import open_store
from kiosk.config import load_config
from kiosk.domain import HouseholdId
from kiosk.errors import ShelfError
from kiosk.labels import make_label
from kiosk.observation import set_observation
from kiosk.queries import household_ids, open_tasks, slots_view, under_observation
from kiosk.services import Rules, act_on_code, act_on_payload
from kiosk.store import SqliteUnitOfWork
from kiosk.tasks import act_on_door

# The shares of the actions (the rest are pickups): the shelf neither empties nor only fills,
# and door tasks open, join, close, and are called off on release or at the shelf.
CHECKIN_SHARE = 0.6
DELIVER_SHARE = 0.08
OBSERVE_SHARE = 0.04
STAFF_SHARE = 0.04  # a staff member moves, hands out, returns or undoes a waiting parcel
STAFF = "kill9@proof"
# Every action carries a camera still, as a scan does, so a kill can land while one is written.
STILL = bytes(range(256)) * 32  # 8 KB, a typical still's size


def main(config_path: str, seed: int, *, alone: bool = True, pace_s: float = 0.0) -> None:
    config = load_config(config_path)
    conn = open_store(config)
    uow, rules, clock = SqliteUnitOfWork(conn), Rules.from_config(config), SystemClock()
    households = household_ids(conn)
    rng = random.Random(seed)
    print("ready", flush=True)
    while True:
        roll = rng.random()
        if roll < CHECKIN_SHARE:
            household = HouseholdId.parse(rng.choice(households))
            label = make_label(config.label_secret, household)
            with uow.stills.attached(STILL):
                outcome = act_on_payload(label.encode(), uow, rules, clock)
            if outcome.action == "checkin":
                print(f"checkin {label}", flush=True)
        elif roll < CHECKIN_SHARE + DELIVER_SHARE + OBSERVE_SHARE and not alone:
            continue  # the centre decides: its commands come in beside this child
        elif roll < CHECKIN_SHARE + DELIVER_SHARE:
            deliver(conn, uow, rules, clock, rng)
        elif roll < CHECKIN_SHARE + DELIVER_SHARE + OBSERVE_SHARE:
            household = rng.choice(households)
            under = household not in under_observation(conn)
            if set_observation(household, under, uow, rules, clock, actor=STAFF):
                print(f"observed {household} {int(under)}", flush=True)
        elif roll < CHECKIN_SHARE + DELIVER_SHARE + OBSERVE_SHARE + STAFF_SHARE:
            staff_action(conn, uow, rules, clock, rng)
        else:
            pick_up(conn, uow, rules, clock, rng)
        if pace_s:
            time.sleep(pace_s)


def pick_up(conn: sqlite3.Connection, uow: SqliteUnitOfWork, rules: Rules, clock: SystemClock,
            rng: random.Random) -> None:
    """Collect a household's parcels with its pickup code, as a resident at the keypad."""
    waiting = sorted({p["household"] for slot in slots_view(conn, clock.now())
                      for p in slot["parcels"] if not p["door_delivery"]})
    if not waiting:
        return
    household = rng.choice(waiting)
    with uow:
        code = uow.codes.active_for(household)
    if code is None:
        return
    with uow.stills.attached(STILL):
        outcome = act_on_code(code.code, uow, rules, clock, room=household)
    if outcome.action == "pickup":
        print(f"pickup {','.join(map(str, outcome.parcels))}", flush=True)


def deliver(conn: sqlite3.Connection, uow: SqliteUnitOfWork, rules: Rules, clock: SystemClock,
            rng: random.Random) -> None:
    """Carry an open door task's parcels to its door, confirmed by the typed room."""
    tasks = [t for b in open_tasks(conn) for t in b["tasks"]]
    if not tasks:
        return
    task = rng.choice(tasks)
    outcome = act_on_door(task["id"], task["household"], uow, rules, clock, actor=STAFF)
    if outcome.action == "delivered":
        print(f"delivered {','.join(map(str, outcome.parcels))}", flush=True)


def staff_action(conn: sqlite3.Connection, uow: SqliteUnitOfWork, rules: Rules,
                 clock: SystemClock, rng: random.Random) -> None:
    """Act on a waiting parcel as a staff member at the site does (kiosk.staff_actions)."""
    slots = slots_view(conn, clock.now())
    waiting = [p["id"] for slot in slots for p in slot["parcels"]]
    if not waiting:
        return
    parcel = rng.choice(waiting)
    action = rng.choice(("moved", "handed_out", "returned", "checkin_undone"))
    kwargs = {"uow": uow, "rules": rules, "clock": clock, "actor": STAFF, "reason": "proof"}
    try:
        if action == "moved":
            target = rng.choice([s["code"] for s in slots])
            done = staff_actions.move(parcel, target, **kwargs)
        elif action == "handed_out":
            done = staff_actions.hand_out(parcel, id_checked=True, **kwargs)
        elif action == "returned":
            done = staff_actions.mark_returned(parcel, **kwargs)
        else:
            done = staff_actions.undo_check_in(parcel, **kwargs)
    except ShelfError:  # a full slot, the same slot: refused, nothing to confirm
        return
    print(f"staff {done.action} {done.parcel} {done.slot}", flush=True)


if __name__ == "__main__":
    gate = sys.argv[3:4] == ["--gate"]
    main(sys.argv[1], int(sys.argv[2]), alone=not gate,
         pace_s=float(sys.argv[4]) if gate else 0.0)
