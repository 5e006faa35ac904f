"""Door delivery's edge cases at the gate, on a real SQLite file of the sample community: the
household import changes observation through ``set_observation``; a household put under
observation while its parcels wait gets them carried (its pickup code withdrawn); parcels
collected at the shelf leave their door task; notices state real check-in times; the day's
counts credit the team that did the work, across the committee's handover at 17:30."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import UTC, date, datetime, time

from conftest import pickup_code
from test_cli_tasks import shelf

from kiosk.clock import ManualClock
from kiosk.config import Team, TeamContact
from kiosk.domain import HouseholdId
from kiosk.labels import door_payload, make_label
from kiosk.notices.render import render
from kiosk.observation import set_observation
from kiosk.queries import daily_counts, open_tasks, task_view
from kiosk.services import act_on_code, act_on_payload
from kiosk.store import SqliteUnitOfWork, connect, migrate
from kiosk.tasks import act_on_door, hand_over_due

STAFF = "alice@web"


def shanghai(text: str) -> ManualClock:
    """A clock at a Shanghai wall-clock moment, e.g. '2026-12-03 21:00'."""
    return ManualClock(datetime.fromisoformat(f"{text}+08:00").astimezone(UTC))


def at(clock: ManualClock, text: str) -> ManualClock:
    clock.current = datetime.fromisoformat(f"{text}+08:00").astimezone(UTC)
    return clock


def scan(community, uow, rules, clock, household, ref=None, *, fresh=False):
    label = make_label(community.label_secret, HouseholdId.parse(household), ref, fresh=fresh)
    result = act_on_payload(label.encode(), uow, rules, clock)
    assert result.action == "checkin", result
    return result


def sticker(community, household):
    return door_payload(community.label_secret, HouseholdId.parse(household))


def rows(conn, sql, *params):
    return [dict(r) for r in conn.execute(sql, params).fetchall()]


def events(conn, kind):
    return [{**r, "detail": json.loads(r["detail"])}
            for r in rows(conn, "SELECT * FROM events WHERE kind = ? ORDER BY id", kind)]


def notices(conn, kind, household=None):
    return [{**r, "payload": json.loads(r["payload"])} for r in rows(
        conn, "SELECT * FROM outbox WHERE kind = ? AND (? IS NULL OR household_id = ?)"
        " ORDER BY id", kind, household, household)]


def tasks_of(conn, household):
    return [t for b in open_tasks(conn) for t in b["tasks"] if t["household"] == household]


def waiting(conn, household):
    return [r["id"] for r in rows(conn, "SELECT id FROM parcels WHERE household_id = ?"
                                  " AND status = 'waiting' ORDER BY id", household)]


def behind_its_back(conn, household):
    """Put a household under observation the way the household import did before this fix
    (straight into the row): the state a store from then may be in."""
    conn.execute("UPDATE households SET under_observation = 1 WHERE id = ?", (household,))


def household_list(community, tmp_path, **observed):
    """The sample household list with these flats' under_observation set (``h24_2304=True``)."""
    wanted = {key[1:].replace("_", "-"): flag for key, flag in observed.items()}
    lines = (community.path.parent / "households.csv").read_text(encoding="utf-8").splitlines()
    out = []
    for line in lines:
        cells = line.split(",")
        key = f"{cells[0]}-{cells[1]}"
        if key in wanted:
            cells[-1] = "yes" if wanted[key] else "no"
        out.append(",".join(cells))
    path = tmp_path / "households.csv"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


# --- 1. the household import goes through set_observation ---------------------------------------

def test_the_household_import_releases_and_adds_through_set_observation(community, conn, uow,
                                                                        rules, tmp_path):
    clock = shanghai("2026-12-03 16:00")
    door = scan(community, uow, rules, clock, "29-1004", "A1")  # under observation already
    shelf_parcel = scan(community, uow, rules, clock, "24-2304", "B1")
    code = pickup_code(conn, "24-2304")

    done = shelf(community, "households", "import",
                 household_list(community, tmp_path, h29_1004=False, h24_2304=True),
                 "--apply", "--json", now="2026-12-03T17:00:00+08:00")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["applied"] is True
    assert [(c["household"], c["fields"]) for c in report["changed"]] == [
        ("24-2304", {"under_observation": {"before": False, "after": True}}),
        ("29-1004", {"under_observation": {"before": True, "after": False}})]

    # Released: its door task is called off, and it is told to collect, with a code.
    assert task_view(conn, door.door_task.id)["status"] == "cancelled"
    [ready] = notices(conn, "pickup_ready", "29-1004")
    assert ready["payload"]["pickup_code"] and ready["parcel_id"] == door.parcel
    # Put under observation: its parcel waiting on the shelf is carried to its door.
    [task] = tasks_of(conn, "24-2304")
    assert [p["id"] for p in task["parcels"]] == [shelf_parcel.parcel]
    assert act_on_code(code, uow, rules, clock).error == "unknown_code"
    # Each change is an event naming who ran the import.
    [imported] = events(conn, "households_imported")[-1:]
    assert imported["actor"].endswith("@shell")
    changes = [(e["kind"], e["household_id"], e["actor"]) for e in events(
        conn, "observation_added") + events(conn, "observation_released")
        if e["at"] >= "2026-12-03"]
    assert sorted(changes) == [("observation_added", "24-2304", imported["actor"]),
                               ("observation_released", "29-1004", imported["actor"])]


# --- 2. under observation while its parcels wait ------------------------------------------------

def test_put_under_observation_its_waiting_parcels_go_to_the_door_and_its_code_opens_nothing(
        community, conn, uow, rules):
    clock = shanghai("2026-12-03 20:00")
    first = scan(community, uow, rules, clock, "24-2304", "SF1")
    clock.advance(600)
    fresh = scan(community, uow, rules, clock, "24-2304", "TG1", fresh=True)
    code = pickup_code(conn, "24-2304")
    pickup_pass = notices(conn, "pickup_ready", "24-2304")[0]["payload"]["pickup_qr"]

    at(clock, "2026-12-03 21:00")
    assert set_observation("24-2304", True, uow, rules, clock, actor="chen@shell")

    # A door task for the team on duty now, with every waiting parcel, fresh food first.
    [task] = tasks_of(conn, "24-2304")
    assert (task["team"], task["fresh"], [p["id"] for p in task["parcels"]]) == (
        "property", True, [first.parcel, fresh.parcel])
    [opened] = events(conn, "task_opened")
    [joined] = events(conn, "task_joined")
    assert (opened["actor"], joined["actor"]) == ("chen@shell", "chen@shell")
    # The team is told as for a new task of fresh food: at once, once.
    told = [json.loads(r["payload"]) for r in rows(
        conn, "SELECT payload FROM outbox WHERE kind = 'team_tasks'")]
    assert [(t["team"], t["reason"], [x["id"] for x in t["tasks"]]) for t in told] == [
        ("property", "fresh", [task["id"]])]

    # The code sent before opens nothing now, typed or scanned: nobody else takes them.
    typed = act_on_code(code, uow, rules, clock)
    scanned = act_on_payload(pickup_pass.encode(), uow, rules, clock)
    assert (typed.action, typed.error) == ("rejected", "unknown_code")
    assert (scanned.action, scanned.error) == ("rejected", "unknown_code")
    assert "door" in scanned.message
    assert waiting(conn, "24-2304") == [first.parcel, fresh.parcel]
    [revoked] = events(conn, "pickup_code_revoked")
    assert (revoked["actor"], revoked["household_id"]) == ("chen@shell", "24-2304")

    # The household is told staff will bring them, each with the time it arrived.
    door = notices(conn, "door_delivery", "24-2304")
    assert [(n["parcel_id"], n["payload"]["parcel_ref"]) for n in door] == [
        (first.parcel, "SF1"), (fresh.parcel, "TG1")]
    words = render("door_delivery", door[0]["payload"], "x@y.z", rules.timezone)
    assert "2026-12-03 20:00" in words.body and "21:00" not in words.body

    done = act_on_door(task["id"], sticker(community, "24-2304"), uow, rules, clock,
                       actor=STAFF)
    assert (done.action, done.parcels) == ("delivered", (first.parcel, fresh.parcel))


def test_the_team_on_duty_gets_it_and_nothing_waiting_opens_nothing(community, conn, uow,
                                                                    rules):
    clock = shanghai("2026-12-03 16:00")
    assert set_observation("30-1301", True, uow, rules, clock, actor="chen@shell")
    assert tasks_of(conn, "30-1301") == []  # nothing on the shelf: nothing to carry
    scan(community, uow, rules, clock, "30-1904", "C1")
    assert set_observation("30-1904", True, uow, rules, clock, actor="chen@shell")
    [task] = tasks_of(conn, "30-1904")
    assert (task["team"], task["fresh"]) == ("committee", False)
    assert rows(conn, "SELECT * FROM outbox WHERE kind = 'team_tasks'") == []  # on its list


def test_released_then_under_observation_again_the_parcel_goes_into_a_new_task(community, conn,
                                                                             uow, rules):
    clock = shanghai("2026-12-03 21:00")
    assert set_observation("24-2304", True, uow, rules, clock, actor="chen@shell")
    parcel = scan(community, uow, rules, clock, "24-2304", "SF1")
    first = parcel.door_task.id
    clock.advance(600)
    assert set_observation("24-2304", False, uow, rules, clock, actor="li@web")  # by mistake
    code = pickup_code(conn, "24-2304")
    clock.advance(600)
    assert set_observation("24-2304", True, uow, rules, clock, actor="li@web")

    [task] = tasks_of(conn, "24-2304")
    assert task["id"] != first and [p["id"] for p in task["parcels"]] == [parcel.parcel]
    assert task_view(conn, first)["status"] == "cancelled"
    assert act_on_code(code, uow, rules, clock).error == "unknown_code"
    done = act_on_door(task["id"], "24-2304", uow, rules, clock, actor=STAFF)
    assert (done.action, done.parcels) == ("delivered", (parcel.parcel,))


# --- 3. collected at the shelf while in a door task ---------------------------------------------

def test_parcels_collected_at_the_shelf_call_their_door_task_off(community, conn, uow, rules):
    clock = shanghai("2026-12-03 20:00")
    before = scan(community, uow, rules, clock, "24-2304", "B1")
    code = pickup_code(conn, "24-2304")  # sent before the household was under observation
    behind_its_back(conn, "24-2304")
    at(clock, "2026-12-03 21:00")
    joined = scan(community, uow, rules, clock, "24-2304", "SF2")
    task = joined.door_task.id

    at(clock, "2026-12-03 21:30")
    collected = act_on_code(code, uow, rules, clock)
    assert collected.parcels == (before.parcel, joined.parcel)
    view = task_view(conn, task)
    assert (view["status"], view["closed_by"]) == ("cancelled", "resident@kiosk")
    assert view["reason"] == "collected at the shelf"
    [cancelled] = events(conn, "task_cancelled")
    assert (cancelled["actor"], cancelled["detail"]["reason"], cancelled["detail"]["parcels"]) == (
        "resident@kiosk", "collected at the shelf", [joined.parcel])
    assert tasks_of(conn, "24-2304") == []

    refused = act_on_door(task, sticker(community, "24-2304"), uow, rules, clock, actor=STAFF)
    assert (refused.action, refused.error) == ("rejected", "task_cancelled")
    assert "collected at the shelf" in refused.message
    assert events(conn, "delivered") == [] and notices(conn, "door_delivered") == []


def test_a_task_whose_parcels_are_all_gone_is_refused_at_the_door(community, conn, uow, rules):
    clock = shanghai("2026-12-03 21:00")
    assert set_observation("24-2304", True, uow, rules, clock, actor="chen@shell")
    parcel = scan(community, uow, rules, clock, "24-2304", "SF1")
    # A store from before this fix: the parcel went at the shelf and its task stayed open.
    conn.execute("UPDATE parcels SET status = 'collected', closed_at = ? WHERE id = ?",
                 ("2026-12-03T13:10:00.000+00:00", parcel.parcel))

    clock.advance(1800)
    refused = act_on_door(parcel.door_task.id, "24-2304", uow, rules, clock, actor=STAFF)
    assert (refused.action, refused.error, refused.parcels) == ("rejected", "task_cancelled", ())
    assert "nothing left to carry" in refused.message
    view = task_view(conn, parcel.door_task.id)
    assert (view["status"], view["closed_by"], view["reason"]) == (
        "cancelled", STAFF, "collected at the shelf")
    assert events(conn, "delivered") == events(conn, "task_delivered") == []
    assert notices(conn, "door_delivered") == []


# --- 4. the release notice states when the parcels came ----------------------------------------

def test_released_the_pickup_notice_states_when_each_parcel_checked_in(community, conn, uow,
                                                                       rules):
    clock = shanghai("2026-12-03 08:00")
    assert set_observation("24-2304", True, uow, rules, clock, actor="chen@shell")
    at(clock, "2026-12-03 09:15")
    scan(community, uow, rules, clock, "24-2304", "SF1")
    at(clock, "2026-12-03 21:00")
    scan(community, uow, rules, clock, "24-2304", "SF2")
    at(clock, "2026-12-03 23:30")
    assert set_observation("24-2304", False, uow, rules, clock, actor="li@web")

    ready = notices(conn, "pickup_ready", "24-2304")
    bodies = [render("pickup_ready", n["payload"], "x@y.z", rules.timezone).body for n in ready]
    assert len(bodies) == 2
    assert "2026-12-03 09:15" in bodies[0] and "2026-12-03 21:00" in bodies[1]
    assert not any("23:30" in body for body in bodies)


# --- 5. the day's counts credit the team that did the work --------------------------------------

NIGHT = Team("night", "夜班 Night patrol", frozenset(), time(17, 30), time(8, 30),
             ("committee",), (TeamContact("email", "night@sample-garden.example"),))


def with_a_night_team(rules):
    """The committee by day; a night patrol takes its buildings 17:30-08:30 and hands back."""
    committee, property_ = rules.teams
    return replace(rules, teams=(committee, NIGHT, replace(property_, after_hours_for=())))


def test_the_day_s_counts_credit_the_team_at_the_time_across_the_17_30_handover(community, conn,
                                                                                uow, rules):
    rules = with_a_night_team(rules)
    clock = shanghai("2026-12-03 16:00")
    kept = scan(community, uow, rules, clock, "29-1004", "A1")
    at(clock, "2026-12-03 16:30")
    carried = scan(community, uow, rules, clock, "29-2603", "B1")
    at(clock, "2026-12-03 17:00")
    fresh = scan(community, uow, rules, clock, "31-2302", "C1", fresh=True)
    assert {kept.door_task.team, carried.door_task.team, fresh.door_task.team} == {"committee"}

    # No worker pass since 17:30: a parcel joining at 17:45 is the night's check-in, and the
    # night patrol's delivery at 17:50 the night's delivery.
    at(clock, "2026-12-03 17:45")
    scan(community, uow, rules, clock, "29-1004", "A2")
    at(clock, "2026-12-03 17:50")
    done = act_on_door(carried.door_task.id, "29-2603", uow, rules, clock, actor="wang@web")
    assert done.action == "delivered"
    at(clock, "2026-12-03 18:00")
    hand_over_due(uow, rules, clock)  # the fresh task passes to the night, then escalates
    # The next morning the night patrol hands what is left back to the committee.
    at(clock, "2026-12-04 08:30")
    handed = hand_over_due(uow, rules, clock).handed_over
    assert {(before, after) for _, before, after in handed} == {("night", "committee")}

    counts = daily_counts(conn, date(2026, 12, 3), rules.timezone,
                          [t.id for t in rules.teams])
    teams = {t.pop("team"): t for t in counts["teams"]}
    assert teams["committee"] == {"door_tasks": 3, "checked_in": 3, "delivered": 0,
                                  "waiting": 0, "escalated": 0}
    assert teams["night"] == {"door_tasks": 0, "checked_in": 1, "delivered": 1, "waiting": 3,
                              "escalated": 1}
    assert [(p["person"], p["team"], p["delivered"]) for p in counts["people"]
            if p["delivered"]] == [("wang@web", "night", 1)]
    assert counts["totals"]["waiting"] == 3


# --- the store: migration 11 keeps the door tasks it finds ---------------------------------------

def test_door_tasks_stored_before_keep_their_parcels_and_may_be_carried_again(tmp_path):
    old = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    migrate(old, target=10)  # the store before 11
    old.executescript("""
        INSERT INTO households (id, building, room, updated_at, under_observation)
            VALUES ('24-2304', 24, '2304', '2026-12-01T00:00:00.000+00:00', 1);
        INSERT INTO slots (code, shelf, position, capacity) VALUES ('A-12', 'A', 12, 4);
        INSERT INTO parcels (label, ref, household_id, slot_code, status, checked_in_at)
            VALUES ('DS1:24-2304:SF1:KX3M7Q2B9HZA', 'SF1', '24-2304', 'A-12', 'waiting',
                    '2026-12-03T13:00:00.000+00:00');
        INSERT INTO door_tasks (household_id, team, status, created_at, assigned_at, closed_at,
                                closed_by)
            VALUES ('24-2304', 'property', 'cancelled', '2026-12-03T13:00:00.000+00:00',
                    '2026-12-03T13:00:00.000+00:00', '2026-12-03T14:00:00.000+00:00', 'li@web');
        INSERT INTO door_task_parcels (task_id, parcel_id) VALUES (1, 1);
    """)
    old.close()
    uow = SqliteUnitOfWork(connect(tmp_path / "old.db"))
    with uow:
        assert uow.tasks.get(1).closed_reason == "released"  # the only reason there was
        assert [p.ref for p in uow.tasks.parcels(1)] == ["SF1"]
        again = uow.tasks.add("24-2304", "property", datetime(2026, 12, 3, 15, tzinfo=UTC))
        uow.tasks.link(again, 1)  # under observation again: the same parcel, a new task
        assert [p.id for p in uow.tasks.parcels(again)] == [1]
