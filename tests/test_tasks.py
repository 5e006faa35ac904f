"""Door tasks on a real SQLite file of the sample community: opened at check-in for the team on
duty, handed over at the end of its hours, fresh food first and escalated, delivered only at
the right door, cancelled when the household is released."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from kiosk.clock import ManualClock
from kiosk.domain import HouseholdId
from kiosk.labels import door_payload, make_label
from kiosk.queries import daily_counts, open_tasks, task_view
from kiosk.services import (
    act_on_carrier,
    act_on_code,
    act_on_payload,
    expect,
    release_from_observation,
)
from kiosk.store import SqliteUnitOfWork
from kiosk.tasks import act_on_door, hand_over_due

STAFF = "alice@web"


def shanghai(text: str) -> ManualClock:
    """A clock at a Shanghai wall-clock moment, e.g. '2026-12-03 21:00'."""
    return ManualClock(datetime.fromisoformat(f"{text}+08:00").astimezone(UTC))


def observe(conn, household: str, under: bool = True) -> None:
    uow = SqliteUnitOfWork(conn)
    with uow:
        found = uow.households.get(HouseholdId.parse(household))
        uow.households.upsert(replace(found, under_observation=under),
                              datetime(2026, 12, 1, tzinfo=UTC))


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


def team_notices(conn):
    return [(r["recipient"], json.loads(r["payload"])) for r in rows(
        conn, "SELECT * FROM outbox WHERE kind = 'team_tasks' ORDER BY id")]


def test_a_parcel_at_21_00_for_a_household_under_observation_becomes_a_property_task(
        conn, uow, rules, community):
    observe(conn, "24-2304")
    clock = shanghai("2026-12-03 21:00")
    result = scan(community, uow, rules, clock, "24-2304", "SF1")
    assert result.door_delivery and result.door_task is not None
    assert result.as_json()["door_task"] == {"id": result.door_task.id, "team": "property",
                                             "fresh": False}
    [task] = rows(conn, "SELECT * FROM door_tasks")
    assert (task["household_id"], task["team"], task["status"]) == ("24-2304", "property",
                                                                    "open")
    assert rows(conn, "SELECT task_id, parcel_id FROM door_task_parcels") == [
        {"task_id": task["id"], "parcel_id": result.parcel}]
    [opened] = events(conn, "task_opened")
    assert (opened["actor"], opened["parcel_id"], opened["detail"]["team"]) == (
        "courier@kiosk", result.parcel, "property")
    # The household hears that staff will bring it; there is no pickup code to guess.
    kinds = [r["kind"] for r in rows(conn, "SELECT kind FROM outbox WHERE household_id = ?",
                                     "24-2304")]
    assert kinds == ["door_delivery"]
    assert rows(conn, "SELECT * FROM pickup_codes") == []
    assert team_notices(conn) == []  # an ordinary task waits on the team's list


def test_a_household_not_under_observation_gets_no_task(conn, uow, rules, community):
    result = scan(community, uow, rules, shanghai("2026-12-03 21:00"), "24-2403")
    assert result.door_task is None and result.as_json()["door_task"] is None
    assert rows(conn, "SELECT * FROM door_tasks") == []


def test_the_committee_serves_its_buildings_until_17_30(conn, uow, rules, community):
    # 29-1004 is under observation in the sample list.
    early = scan(community, uow, rules, shanghai("2026-12-03 17:29"), "29-1004", "A1")
    late = scan(community, uow, rules, shanghai("2026-12-03 17:30"), "29-2603", "B1")
    assert (early.door_task.team, late.door_task.team) == ("committee", "property")


def test_parcels_arriving_while_a_task_is_open_join_it_and_close_together(conn, uow, rules,
                                                                          community):
    observe(conn, "24-2304")
    clock = shanghai("2026-12-03 21:00")
    first = scan(community, uow, rules, clock, "24-2304", "SF1")
    clock.advance(600)
    second = act_on_carrier("JD0001234567890", uow, rules, clock, room="24-2304",
                            phone_tail="2304")  # a carrier's waybill, typed at the gate
    assert second.action == "checkin" and second.door_task == first.door_task
    assert len(events(conn, "task_joined")) == 1
    done = act_on_door(first.door_task.id, sticker(community, "24-2304"), uow, rules, clock,
                       actor=STAFF)
    assert (done.action, done.parcels) == ("delivered", (first.parcel, second.parcel))
    statuses = {r["status"] for r in rows(conn, "SELECT status FROM parcels")}
    assert statuses == {"collected"}
    # The next parcel opens a new task.
    third = scan(community, uow, rules, clock, "24-2304", "SF3")
    assert third.door_task.id != first.door_task.id


def test_the_wrong_door_is_refused_and_the_right_one_closes_the_task(conn, uow, rules,
                                                                     community):
    observe(conn, "24-2304")
    clock = shanghai("2026-12-03 21:00")
    parcel = scan(community, uow, rules, clock, "24-2304", "SF1")
    task = parcel.door_task.id
    clock.advance(1200)

    wrong = act_on_door(task, sticker(community, "24-2403"), uow, rules, clock, actor=STAFF)
    assert (wrong.action, wrong.error, wrong.expected, wrong.given) == (
        "rejected", "wrong_door", "24-2304", "24-2403")
    assert "24-2304" not in wrong.message and "24-2403" not in wrong.message  # it is logged
    [refused] = events(conn, "door_refused")
    assert (refused["actor"], refused["household_id"], refused["detail"]["given"],
            refused["detail"]["via"]) == (STAFF, "24-2304", "24-2403", "sticker")
    assert events(conn, "scan_refused") == []  # not shown on the gate's screen
    assert task_view(conn, task)["status"] == "open"

    typed = act_on_door(task, "24-2403", uow, rules, clock, actor=STAFF)
    assert (typed.error, typed.given) == ("wrong_door", "24-2403")

    done = act_on_door(task, sticker(community, "24-2304"), uow, rules, clock, actor=STAFF)
    assert (done.action, done.household, done.parcels, done.error) == (
        "delivered", "24-2304", (parcel.parcel,), None)
    assert done.as_json()["door_task"] == {"id": task, "team": "property", "fresh": False}
    view = task_view(conn, task)
    assert (view["status"], view["closed_by"], view["parcels"][0]["status"]) == (
        "delivered", STAFF, "collected")
    [delivered] = events(conn, "delivered")
    assert (delivered["actor"], delivered["parcel_id"], delivered["detail"]["team"]) == (
        STAFF, parcel.parcel, "property")
    [notice] = rows(conn, "SELECT * FROM outbox WHERE kind = 'door_delivered'")
    assert (notice["household_id"], notice["recipient"]) == (
        "24-2304", "r24-2304@sample-garden.example")
    assert json.loads(notice["payload"])["parcel_refs"] == ["SF1"]

    again = act_on_door(task, sticker(community, "24-2304"), uow, rules, clock, actor=STAFF)
    assert (again.action, again.error) == ("rejected", "task_closed")
    assert "delivered already" in again.message


@pytest.mark.parametrize(("door", "error"), [
    ("DD1:24-2304:AAAAAAAAAAAA", "forged"),  # a sticker not signed by this community
    ("DS1:24-2304:SF1:KX3M7Q2B9HZA", "garbage"),  # a parcel label, not a door
    ("2304", "unknown_household"),  # a room without its building
])
def test_what_is_no_door_of_this_community_is_refused(conn, uow, rules, community, door,
                                                      error):
    observe(conn, "24-2304")
    clock = shanghai("2026-12-03 21:00")
    task = scan(community, uow, rules, clock, "24-2304").door_task.id
    result = act_on_door(task, door, uow, rules, clock, actor=STAFF)
    assert (result.action, result.error) == ("rejected", error)
    assert task_view(conn, task)["status"] == "open"
    assert act_on_door(999, "24-2304", uow, rules, clock, actor=STAFF).error == "unknown_task"


def test_at_17_30_the_committee_s_tasks_pass_to_the_property_company_once(conn, uow, rules,
                                                                          community):
    clock = shanghai("2026-12-03 16:00")
    task = scan(community, uow, rules, clock, "29-1004", "A1").door_task
    assert task.team == "committee"
    clock.current = datetime.fromisoformat("2026-12-03T17:29:59+08:00")
    assert hand_over_due(uow, rules, clock).handed_over == ()
    clock.current = datetime.fromisoformat("2026-12-03T17:30:00+08:00")
    rounds = hand_over_due(uow, rules, clock)
    assert rounds.handed_over == ((task.id, "committee", "property"),)
    assert hand_over_due(uow, rules, clock).handed_over == ()  # idempotent
    assert task_view(conn, task.id)["team"] == "property"
    [moved] = events(conn, "task_handed_over")
    assert (moved["actor"], moved["detail"]["from"], moved["detail"]["to"]) == (
        "system", "committee", "property")
    [(recipient, told)] = team_notices(conn)
    assert recipient == "property@sample-garden.example"
    assert (told["reason"], [t["id"] for t in told["tasks"]]) == ("handover", [task.id])
    # The night team keeps what it was handed; the committee is back at 08:30 for new parcels.
    clock.current = datetime.fromisoformat("2026-12-04T08:30:00+08:00")
    assert hand_over_due(uow, rules, clock).handed_over == ()
    assert scan(community, uow, rules, clock, "29-2603").door_task.team == "committee"


def test_a_parcel_joining_a_task_after_its_team_s_hours_hands_it_over(conn, uow, rules,
                                                                      community):
    first = scan(community, uow, rules, shanghai("2026-12-03 17:00"), "29-1004", "A1")
    later = scan(community, uow, rules, shanghai("2026-12-03 18:10"), "29-1004", "A2")
    assert later.door_task == replace(first.door_task, team="property")
    assert len(events(conn, "task_handed_over")) == 1


def test_fresh_food_goes_first_its_team_is_told_and_then_escalated(conn, uow, rules,
                                                                   community):
    observe(conn, "24-2304")
    clock = shanghai("2026-12-03 21:00")
    older = scan(community, uow, rules, clock, "29-1004", "A1")
    clock.advance(60)
    fresh = scan(community, uow, rules, clock, "24-2304", "TG1", fresh=True)
    assert fresh.door_task.fresh
    [(recipient, told)] = team_notices(conn)
    assert (recipient, told["reason"], told["tasks"][0]["household"]) == (
        "property@sample-garden.example", "fresh", "24-2304")
    listed = [t["id"] for b in open_tasks(conn) for t in b["tasks"]]
    assert listed == [fresh.door_task.id, older.door_task.id]  # fresh first, then oldest
    assert [b["building"] for b in open_tasks(conn)] == [24, 29]

    clock.advance(3599)
    assert hand_over_due(uow, rules, clock).escalated == ()
    clock.advance(1)  # an hour after it came
    assert hand_over_due(uow, rules, clock).escalated == ((fresh.door_task.id, 1),)
    assert hand_over_due(uow, rules, clock).escalated == ()
    assert [r for r, p in team_notices(conn) if p["reason"] == "escalation"] == [
        "property@sample-garden.example"]
    clock.advance(3600)  # another hour: the other team too (off duty at 23:01, told anyway)
    assert hand_over_due(uow, rules, clock).escalated == ((fresh.door_task.id, 2),)
    assert [r for r, p in team_notices(conn) if p["reason"] == "escalation"] == [
        "property@sample-garden.example", "committee@sample-garden.example"]
    [first, second] = events(conn, "task_escalated")
    assert (first["detail"]["told"], second["detail"]["told"]) == (["property"], ["committee"])
    clock.advance(36000)
    assert hand_over_due(uow, rules, clock).escalated == ()  # two escalations, then the list


def test_fresh_from_an_announcement_and_from_the_gate(conn, uow, rules, community):
    observe(conn, "24-2304")
    clock = shanghai("2026-12-03 21:00")
    expect("24-2304", "SF1234567890", uow, clock, actor=STAFF, fresh=True)
    assert act_on_carrier("SF1234567890", uow, rules, clock).action == "needs_room"
    announced = act_on_carrier("SF1234567890", uow, rules, clock, phone_tail="2304")  # waybill's
    assert announced.door_task.fresh
    typed = act_on_carrier("JD0001234567890", uow, rules, clock, room="29-1004", fresh=True)
    assert typed.door_task.fresh
    fresh = rows(conn, "SELECT label FROM parcels WHERE fresh = 1 ORDER BY id")
    assert [r["label"] for r in fresh] == ["SF1234567890", "JD0001234567890"]


def test_a_household_released_while_its_task_is_open_collects_with_a_code(conn, uow, rules,
                                                                          community):
    observe(conn, "24-2304")
    clock = shanghai("2026-12-03 21:00")
    parcel = scan(community, uow, rules, clock, "24-2304", "SF1")
    task = parcel.door_task.id
    observe(conn, "24-2304", under=False)
    assert release_from_observation("24-2304", uow, rules, clock.now(), actor=STAFF) == (task,)
    assert release_from_observation("24-2304", uow, rules, clock.now(), actor=STAFF) == ()
    view = task_view(conn, task)
    assert (view["status"], view["closed_by"], view["parcels"][0]["status"]) == (
        "cancelled", STAFF, "waiting")
    [notice] = rows(conn, "SELECT * FROM outbox WHERE kind = 'pickup_ready'")
    payload = json.loads(notice["payload"])
    assert (notice["household_id"], payload["slot"], payload["parcel_ref"]) == (
        "24-2304", parcel.slot, "SF1")
    assert act_on_door(task, sticker(community, "24-2304"), uow, rules, clock,
                       actor=STAFF).error == "task_cancelled"
    collected = act_on_code(payload["pickup_code"], uow, rules, clock)
    assert (collected.action, collected.parcels) == ("pickup", (parcel.parcel,))


def test_a_failure_inside_check_in_leaves_neither_parcel_nor_task(conn, uow, rules, community):
    observe(conn, "24-2304")
    conn.execute("CREATE TEMP TRIGGER break_tasks BEFORE INSERT ON door_task_parcels "
                 "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END")
    label = make_label(community.label_secret, HouseholdId.parse("24-2304"))
    result = act_on_payload(label.encode(), uow, rules, shanghai("2026-12-03 21:00"))
    assert (result.action, result.error) == ("rejected", "internal")
    for table in ("parcels", "door_tasks", "door_task_parcels", "outbox", "signals"):
        assert rows(conn, f"SELECT * FROM {table}") == [], table
    assert events(conn, "checked_in") == events(conn, "task_opened") == []


def test_the_day_s_counts_per_team_and_person(conn, uow, rules, community):
    observe(conn, "24-2304")
    clock = shanghai("2026-12-03 16:00")
    committee = scan(community, uow, rules, clock, "29-1004", "A1")
    ordinary = scan(community, uow, rules, clock, "24-2403", "B1")
    clock.current = datetime.fromisoformat("2026-12-03T21:00:00+08:00")
    door = scan(community, uow, rules, clock, "24-2304", "C1", fresh=True)
    code = rows(conn, "SELECT code FROM pickup_codes WHERE household_id = '24-2403'")[0]["code"]
    assert act_on_code(code, uow, rules, clock).parcels == (ordinary.parcel,)
    clock.advance(3600)
    hand_over_due(uow, rules, clock)  # the fresh task escalated once
    assert act_on_door(door.door_task.id, "24-2304", uow, rules, clock,
                       actor=STAFF).action == "delivered"
    clock.current = datetime.fromisoformat("2026-12-04T00:30:00+08:00")  # the next day
    scan(community, uow, rules, clock, "24-2304", "D1")

    counts = daily_counts(conn, date(2026, 12, 3), rules.timezone, ["committee", "property"])
    assert counts["totals"] == {"checked_in": 3, "door_tasks": 2, "delivered": 1,
                                "handed_out": 1, "waiting": 1, "escalated": 1}
    assert counts["teams"] == [
        {"team": "committee", "door_tasks": 1, "checked_in": 1, "delivered": 0, "waiting": 0,
         "escalated": 0},
        # the committee's task passed to the property company at 17:30: it waits there now
        {"team": "property", "door_tasks": 1, "checked_in": 1, "delivered": 1, "waiting": 1,
         "escalated": 1}]
    assert counts["people"] == [
        {"person": STAFF, "team": "property", "checked_in": 0, "delivered": 1, "handed_out": 0},
        {"person": "courier@kiosk", "team": None, "checked_in": 3, "delivered": 0,
         "handed_out": 0},
        {"person": "resident@kiosk", "team": None, "checked_in": 0, "delivered": 0,
         "handed_out": 1}]
    assert committee.door_task.team == "committee"
    next_day = daily_counts(conn, date(2026, 12, 4), rules.timezone, ["committee", "property"])
    assert next_day["totals"]["checked_in"] == 1 and next_day["totals"]["waiting"] == 2


def test_released_through_the_observation_register_the_task_is_cancelled_in_its_transaction(
        conn, uow, rules, community):
    from kiosk.observation import set_observation

    clock = shanghai("2026-12-03 21:00")
    assert set_observation("24-2304", True, uow, rules, clock, actor=STAFF)
    task = scan(community, uow, rules, clock, "24-2304", "SF1").door_task.id
    clock.advance(600)
    assert set_observation("24-2304", False, uow, rules, clock, actor="li@web")
    assert task_view(conn, task)["status"] == "cancelled"
    [cancelled] = events(conn, "task_cancelled")
    assert (cancelled["actor"], cancelled["detail"]["reason"]) == ("li@web", "released")
    [notice] = rows(conn, "SELECT * FROM outbox WHERE kind = 'pickup_ready'")
    assert json.loads(notice["payload"])["pickup_code"]


def test_every_door_notice_queued_renders_in_both_languages(conn, uow, rules, community):
    from kiosk.notices.render import render

    observe(conn, "24-2304")
    clock = shanghai("2026-12-03 17:00")
    scan(community, uow, rules, clock, "29-1004", "A1")
    scan(community, uow, rules, clock, "24-2304", "TG1", fresh=True)
    clock.current = datetime.fromisoformat("2026-12-03T19:00:00+08:00")
    hand_over_due(uow, rules, clock)  # handover at 17:30 and both escalations, at once
    [task] = [t for b in open_tasks(conn) for t in b["tasks"] if t["household"] == "24-2304"]
    act_on_door(task["id"], "24-2304", uow, rules, clock, actor=STAFF)
    notices = rows(conn, "SELECT kind, recipient, payload FROM outbox WHERE kind IN "
                   "('team_tasks', 'door_delivered') ORDER BY id")
    reasons = [json.loads(n["payload"]).get("reason") for n in notices]
    assert reasons == ["fresh", "handover", "escalation", "escalation", None]
    for notice in notices:
        words = render(notice["kind"], json.loads(notice["payload"]), notice["recipient"],
                       rules.timezone)
        assert words.subject and ("19:00" in words.body or "17:00" in words.body)
    delivered = render(notices[-1]["kind"], json.loads(notices[-1]["payload"]), "x@y.z",
                       rules.timezone)
    assert "送到您家门口" in delivered.body and "brought 1 parcel(s) to your door" in delivered.body
    handover = render("team_tasks", json.loads(notices[1]["payload"]), "x@y.z", rules.timezone)
    assert "#" in handover.body and "29-1004" in handover.body
