"""Staff actions on a parcel (kiosk.staff_actions): each with its actor and reason, each refusal.

Real parts: the sample community's SQLite file, parcels checked in through the real services,
the kiosk's own pickup paths afterwards; the store's rules (bench/proofs/invariants.py) are
checked after every story.
"""

from __future__ import annotations

import json

import pytest
from conftest import check_in, pickup_code

from bench.proofs.invariants import broken_rules
from kiosk import staff_actions
from kiosk.domain import HouseholdId
from kiosk.errors import (
    IdNotChecked,
    ParcelClosed,
    ParcelNotWaiting,
    ReasonMissing,
    RoomSettled,
    SameSlot,
    SlotFull,
    UnknownParcel,
    UnknownSlot,
)
from kiosk.labels import make_label
from kiosk.observation import set_observation
from kiosk.services import act_on_carrier, act_on_code, act_on_payload
from kiosk.store import SqliteUnitOfWork

ACTOR = "li@web"


def events(conn, kind: str) -> list[dict]:
    rows = conn.execute("SELECT * FROM events WHERE kind = ? ORDER BY id", (kind,)).fetchall()
    return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]


def parcel(conn, parcel_id: int) -> dict:
    return dict(conn.execute("SELECT * FROM parcels WHERE id = ?", (parcel_id,)).fetchone())


def notices(conn, kind: str = "parcel_changed") -> list[dict]:
    rows = conn.execute("SELECT * FROM outbox WHERE kind = ? ORDER BY id", (kind,)).fetchall()
    return [{**dict(r), "payload": json.loads(r["payload"])} for r in rows]


@pytest.fixture
def act(community, conn, clock, rules):
    """Run a staff action as ``li@web`` on the test's store."""

    def run(name: str, *args, **kwargs):
        use_case = getattr(staff_actions, name)
        extra = {} if name == "confirm_room" else {"rules": rules}
        return use_case(*args, uow=SqliteUnitOfWork(conn), clock=clock, actor=ACTOR, **extra,
                        **kwargs)

    return run


def test_hand_out_needs_an_id_check_and_a_reason_then_the_code_opens_nothing(
        community, conn, clock, act, rules):
    first = check_in(conn, community, clock, "24-2304", "SF1")
    code = pickup_code(conn, "24-2304")
    with pytest.raises(IdNotChecked):
        act("hand_out", first.parcel, reason="grandmother without a phone", id_checked=False)
    with pytest.raises(ReasonMissing):
        act("hand_out", first.parcel, reason="   ", id_checked=True)
    assert parcel(conn, first.parcel)["status"] == "waiting"  # a refusal changed nothing

    clock.advance(60)
    done = act("hand_out", first.parcel, reason="grandmother without a phone", id_checked=True)
    assert done.code_withdrawn
    assert parcel(conn, first.parcel)["status"] == "collected"
    [event] = events(conn, "handed_out")
    assert (event["actor"], event["parcel_id"]) == (ACTOR, first.parcel)
    assert event["detail"]["reason"] == "grandmother without a phone"
    assert event["detail"]["id_checked"] is True
    [revoked] = events(conn, "pickup_code_revoked")
    assert revoked["detail"]["reason"] == "handed_out"
    # The code the household was sent opens nothing now, and says so.
    refused = act_on_code(code, SqliteUnitOfWork(conn), rules, clock)
    assert refused.error == "unknown_code"
    [told] = notices(conn)
    assert (told["household_id"], told["payload"]["action"]) == ("24-2304", "handed_out")
    assert told["payload"]["code_withdrawn"] is True
    with pytest.raises(ParcelNotWaiting, match="collected"):
        act("hand_out", first.parcel, reason="again", id_checked=True)
    assert broken_rules(conn) == []


def test_a_pass_whose_code_staff_withdrew_says_to_ask_the_staff(community, conn, clock, act,
                                                                 rules):
    first = check_in(conn, community, clock, "24-2304", "SF1")
    mailed = json.loads(conn.execute("SELECT payload FROM outbox WHERE parcel_id = ?",
                                     (first.parcel,)).fetchone()["payload"])
    act("mark_returned", first.parcel, reason="refused by the resident")
    outcome = act_on_payload(mailed["pickup_qr"].encode(), SqliteUnitOfWork(conn), rules, clock)
    assert outcome.error == "unknown_code"
    assert "withdrawn by the staff" in outcome.message


def test_hand_out_keeps_the_code_while_another_parcel_waits(community, conn, clock, act, rules):
    first = check_in(conn, community, clock, "24-2304", "SF1")
    second = check_in(conn, community, clock, "24-2304", "SF2")
    code = pickup_code(conn, "24-2304")
    done = act("hand_out", first.parcel, reason="ID card shown", id_checked=True)
    assert not done.code_withdrawn and events(conn, "pickup_code_revoked") == []
    picked = act_on_code(code, SqliteUnitOfWork(conn), rules, clock)
    assert picked.action == "pickup" and picked.parcels == (second.parcel,)


def test_move_refuses_unknown_same_and_full_slots_and_the_light_follows(
        community, conn, clock, act, rules):
    # Four parcels fill 24-2304's zoned slot A-12 (capacity 4); 24-2403's goes to B-12.
    mine = [check_in(conn, community, clock, "24-2304", f"SF{n}") for n in range(4)]
    assert {r.slot for r in mine} == {"A-12"}
    other = check_in(conn, community, clock, "24-2403", "JD1")
    assert other.slot != "A-12"
    for slot, error in (("Z-99", UnknownSlot), (other.slot, SameSlot), ("A-12", SlotFull)):
        with pytest.raises(error):
            act("move", other.parcel, slot, reason="tidying up")
    with pytest.raises(ReasonMissing):
        act("move", other.parcel, "B-14", reason="")

    clock.advance(120)  # the check-in's light is out
    done = act("move", other.parcel, "b-14", reason="B-12 is wet")
    assert done.slot == "B-14" and parcel(conn, other.parcel)["slot_code"] == "B-14"
    with SqliteUnitOfWork(conn) as uow:
        assert uow.signals.active(clock.now()) == {"B-14": "on"}
    [moved] = events(conn, "moved")
    assert moved["detail"] | {"reason": "B-12 is wet", "from": other.slot, "to": "B-14"} \
        == moved["detail"]
    [told] = notices(conn)
    assert (told["household_id"], told["payload"]["slot"]) == ("24-2403", "B-14")
    # The resident's code now blinks the slot the parcel is in.
    clock.advance(120)
    picked = act_on_code(pickup_code(conn, "24-2403"), SqliteUnitOfWork(conn), rules, clock)
    assert picked.slots == ("B-14",)
    with SqliteUnitOfWork(conn) as uow:
        assert uow.signals.active(clock.now()) == {"B-14": "blink"}
    assert broken_rules(conn) == []


def test_moving_to_the_overflow_place_and_back(community, conn, clock, act):
    result = check_in(conn, community, clock, "24-2304", "SF1")
    act("move", result.parcel, community.layout.overflow.code, reason="shelf cleaned")
    act("move", result.parcel, "A-12", reason="shelf dry again")
    assert parcel(conn, result.parcel)["slot_code"] == "A-12"


def test_returned_parcel_leaves_the_shelf_its_door_task_and_a_rescan_says_so(
        community, conn, clock, act, rules):
    set_observation("24-2304", True, SqliteUnitOfWork(conn), rules, clock, actor="test")
    label = make_label(community.label_secret, HouseholdId.parse("24-2304"), "SF9")
    result = act_on_payload(label.encode(), SqliteUnitOfWork(conn), rules, clock)
    assert result.door_task is not None
    clock.advance(8 * 86400)
    done = act("mark_returned", result.parcel, reason="waited 8 days")
    assert parcel(conn, result.parcel)["status"] == "returned"
    [returned] = events(conn, "returned")
    assert returned["detail"]["days"] == 8 and returned["actor"] == ACTOR
    task = conn.execute("SELECT status, closed_reason FROM door_tasks WHERE id = ?",
                        (result.door_task.id,)).fetchone()
    assert tuple(task) == ("cancelled", "returned to the courier")
    assert done.slot == result.slot
    again = act_on_payload(label.encode(), SqliteUnitOfWork(conn), rules, clock)
    assert again.error == ParcelClosed.code and "returned to the courier" in again.message
    assert broken_rules(conn) == []


def test_undo_withdraws_the_parcel_frees_its_label_and_tells_the_household(
        community, conn, clock, act, rules):
    # The waybill typed to 24-2403 at the gate, the courier insisting: the mistake of the story.
    wrong = act_on_carrier("SF1234567890", SqliteUnitOfWork(conn), rules, clock,
                           room="24-2403", keep_room=True)
    assert wrong.action == "checkin" and wrong.household == "24-2403"
    assert wrong.room_confirmed is False
    done = act("undo_check_in", wrong.parcel, reason="waybill says 24-2304")
    assert done.code_withdrawn
    row = parcel(conn, wrong.parcel)
    assert row["status"] == "withdrawn" and row["closed_at"]
    assert row["label"] != "SF1234567890"
    [undone] = events(conn, "checkin_undone")
    assert undone["detail"]["label"] == "SF1234567890"
    [told] = notices(conn)
    assert (told["household_id"], told["payload"]["action"]) == ("24-2403", "withdrawn")
    # The same waybill checks in again, for the right room, as a new parcel.
    right = act_on_carrier("SF1234567890", SqliteUnitOfWork(conn), rules, clock,
                           room="24-2304", phone_tail="2304")
    assert (right.action, right.household, right.repeat) == ("checkin", "24-2304", False)
    assert right.parcel != wrong.parcel
    with pytest.raises(ParcelNotWaiting, match="withdrawn"):
        act("undo_check_in", wrong.parcel, reason="twice")
    assert broken_rules(conn) == []


def test_confirm_room_settles_a_typed_room_once(community, conn, clock, act, rules):
    typed = act_on_carrier("JD0000002403", SqliteUnitOfWork(conn), rules, clock,
                           room="24-2403", keep_room=True)
    with pytest.raises(ReasonMissing):
        act("confirm_room", typed.parcel, reason="")
    act("confirm_room", typed.parcel, reason="waybill checked: 24-2403, phone 2403")
    assert parcel(conn, typed.parcel)["room_confirmed"] == 1
    with pytest.raises(RoomSettled):
        act("confirm_room", typed.parcel, reason="again")


@pytest.mark.parametrize("name, args", [
    ("hand_out", {"id_checked": True}), ("move", {"slot_code": "A-01"}),
    ("mark_returned", {}), ("undo_check_in", {}), ("confirm_room", {})])
def test_every_action_refuses_a_parcel_that_does_not_exist(act, name, args):
    with pytest.raises(UnknownParcel):
        act(name, 999, reason="a reason", **args)


def test_migration_13_keeps_every_parcel_and_what_refers_to_it(tmp_path):
    """A store from before (schema 11, foreign keys on): the parcels table is rebuilt to take
    the new statuses; every row and every reference to it survives."""
    import sqlite3

    from kiosk.store import connect, migrate

    old = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    old.execute("PRAGMA foreign_keys = ON")
    migrate(old, target=11)
    old.executescript("""
        INSERT INTO households (id, building, room, updated_at)
            VALUES ('24-2304', 24, '2304', '2026-12-01T00:00:00.000+00:00');
        INSERT INTO slots (code, shelf, position, capacity) VALUES ('A-12', 'A', 12, 4);
        INSERT INTO pickup_codes (household_id, code, created_at)
            VALUES ('24-2304', '123456', '2026-12-03T13:00:00.000+00:00');
        INSERT INTO parcels (label, ref, household_id, slot_code, status, pickup_code_id,
                             checked_in_at, kind, room_confirmed, fresh)
            VALUES ('SF1234567890', 'SF1234567890', '24-2304', 'A-12', 'waiting', 1,
                    '2026-12-03T13:00:00.000+00:00', 'carrier', 0, 1);
        INSERT INTO events (at, kind, actor, parcel_id, household_id, slot_code)
            VALUES ('2026-12-03T13:00:00.000+00:00', 'checked_in', 'courier@kiosk', 1,
                    '24-2304', 'A-12');
        INSERT INTO outbox (created_at, kind, channel, recipient, household_id, parcel_id,
                            payload, next_attempt_at)
            VALUES ('2026-12-03T13:00:00.000+00:00', 'pickup_ready', 'email', 'a@b.example',
                    '24-2304', 1, '{}', '2026-12-03T13:00:00.000+00:00');
        INSERT INTO door_tasks (household_id, team, created_at, assigned_at)
            VALUES ('24-2304', 'property', '2026-12-03T13:00:00.000+00:00',
                    '2026-12-03T13:00:00.000+00:00');
        INSERT INTO door_task_parcels (task_id, parcel_id) VALUES (1, 1);
    """)
    old.close()

    conn = connect(tmp_path / "old.db")
    row = dict(conn.execute("SELECT * FROM parcels").fetchone())
    assert row | {"label": "SF1234567890", "status": "waiting", "kind": "carrier",
                  "room_confirmed": 0, "fresh": 1, "pickup_code_id": 1} == row
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1  # back on after migrating
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'"
                                          " AND tbl_name = 'parcels'")}
    assert {"parcels_waiting", "parcels_waiting_household", "parcels_waiting_in_order",
            "parcels_waiting_in_slot", "parcels_room_unconfirmed", "parcels_household_closed",
            "parcels_ref", "parcels_pickup_code"} <= indexes
    conn.execute("UPDATE parcels SET status = 'returned', closed_at = '2026-12-10' WHERE id = 1")
    with pytest.raises(sqlite3.IntegrityError):  # the references still hold
        conn.execute("DELETE FROM parcels WHERE id = 1")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE parcels SET status = 'lost' WHERE id = 1")
    conn.close()
