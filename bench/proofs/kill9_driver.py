"""The kill -9 proof's child: check parcels in and pick them up until killed.

``python -m bench.proofs.kill9_driver CONFIG SEED`` prints ``ready`` once the store is open,
then one line per action the service confirmed, written (and flushed) only AFTER the use case
returned, exactly when a courier or a resident would be told "done":

    checkin <label>
    pickup <parcel id>,<parcel id>...
"""

from __future__ import annotations

import random
import sys

from kiosk.clock import SystemClock
from kiosk.community import open_store
from kiosk.config import load_config
from kiosk.domain import HouseholdId
from kiosk.labels import make_label
from kiosk.queries import household_ids, slots_view
from kiosk.services import Rules, act_on_code, act_on_payload
from kiosk.store import SqliteUnitOfWork

CHECKIN_SHARE = 0.6  # the rest are pickups: the shelf neither empties nor only fills
# Every action carries a camera still, as a scan does, so a kill can land while one is written.
STILL = bytes(range(256)) * 32  # 8 KB, a typical still's size


def main(config_path: str, seed: int) -> None:
    config = load_config(config_path)
    conn = open_store(config)
    uow, rules, clock = SqliteUnitOfWork(conn), Rules.from_config(config), SystemClock()
    households = household_ids(conn)
    rng = random.Random(seed)
    print("ready", flush=True)
    while True:
        if rng.random() < CHECKIN_SHARE:
            household = HouseholdId.parse(rng.choice(households))
            label = make_label(config.label_secret, household)
            with uow.stills.attached(STILL):
                outcome = act_on_payload(label.encode(), uow, rules, clock)
            if outcome.action == "checkin":
                print(f"checkin {label}", flush=True)
            continue
        waiting = sorted({p["household"] for slot in slots_view(conn, clock.now())
                          for p in slot["parcels"] if not p["door_delivery"]})
        if not waiting:
            continue
        household = rng.choice(waiting)
        with uow:
            code = uow.codes.active_for(household)
        if code is None:
            continue
        with uow.stills.attached(STILL):
            outcome = act_on_code(code.code, uow, rules, clock)
        if outcome.action == "pickup":
            print(f"pickup {','.join(map(str, outcome.parcels))}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
