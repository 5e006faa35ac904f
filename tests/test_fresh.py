"""Fresh food marked after check-in (the key at the gate), on a real SQLite file: the parcel's
door task goes first, its team is told at once and once, every change names its actor."""

from __future__ import annotations

from test_tasks import events, observe, rows, scan, shanghai, team_notices

from kiosk.app.sim.mailcatcher import MailCatcher
from kiosk.config import load_config
from kiosk.notices.delivery import build_channels, deliver_due
from kiosk.queries import open_tasks
from kiosk.services import Rules, act_on_code
from kiosk.store import SqliteUnitOfWork
from kiosk.tasks import act_on_fresh, hand_over_due

COURIER = "courier@kiosk"
GATE = "gate-keypad"


def fresh(parcel, uow, rules, clock):
    return act_on_fresh(parcel, uow, rules, clock, actor=COURIER, source=GATE)


def listed(conn) -> list[int]:
    """The open tasks' ids in the order the team's list shows them."""
    return [t["id"] for b in open_tasks(conn) for t in b["tasks"]]


def test_a_parcel_marked_fresh_puts_its_task_first_and_tells_its_team_once(conn, uow, rules,
                                                                           community):
    observe(conn, "24-2304")
    clock = shanghai("2026-12-03 21:00")
    older = scan(community, uow, rules, clock, "29-1004", "A1")
    clock.advance(60)
    parcel = scan(community, uow, rules, clock, "24-2304", "TG1")  # the label does not say
    task = parcel.door_task.id
    assert listed(conn) == [older.door_task.id, task] and team_notices(conn) == []

    clock.advance(5)
    done = fresh(parcel.parcel, uow, rules, clock)
    assert (done.action, done.error, done.repeat, done.door_delivery) == ("fresh", None, False,
                                                                         True)
    assert done.as_json()["door_task"] == {"id": task, "team": "property", "fresh": True}
    assert listed(conn) == [task, older.door_task.id]  # fresh food first
    assert rows(conn, "SELECT fresh FROM parcels WHERE id = ?", parcel.parcel) == [{"fresh": 1}]
    [(recipient, told)] = team_notices(conn)
    assert (recipient, told["reason"]) == ("property@sample-garden.example", "fresh")
    assert told["tasks"] == [{"id": task, "household": "24-2304", "parcels": 1,
                              "slots": [parcel.slot], "fresh": True}]
    [marked] = events(conn, "parcel_fresh")
    assert (marked["actor"], marked["parcel_id"], marked["household_id"]) == (
        COURIER, parcel.parcel, "24-2304")
    assert (marked["detail"]["source"], marked["detail"]["task"]) == (GATE, task)
    [task_fresh] = events(conn, "task_fresh")
    assert (task_fresh["actor"], task_fresh["detail"]["task"]) == (COURIER, task)

    # Pressed again: the same answer, nothing new, nobody told twice.
    again = fresh(parcel.parcel, uow, rules, clock)
    assert (again.action, again.repeat, again.door_task) == ("fresh", True, done.door_task)
    assert len(team_notices(conn)) == 1
    assert len(events(conn, "parcel_fresh")) == len(events(conn, "task_fresh")) == 1

    # Still open an hour after it was marked: escalated, as fresh food checked in fresh is.
    clock.advance(3599)
    assert hand_over_due(uow, rules, clock).escalated == ()
    clock.advance(1)
    assert hand_over_due(uow, rules, clock).escalated == ((task, 1),)


def test_the_team_hears_of_it_by_mail_at_once(community):
    with MailCatcher() as mail:
        text = community.path.read_text(encoding="utf-8")
        community.path.write_text(text.replace("port = 8025", f"port = {mail.port}"),
                                  encoding="utf-8")
        config = load_config(community.path)
        from kiosk.community import open_store

        conn = open_store(config)
        try:
            uow, rules = SqliteUnitOfWork(conn), Rules.from_config(config)
            observe(conn, "24-2304")
            clock = shanghai("2026-12-03 21:00")
            parcel = scan(config, uow, rules, clock, "24-2304", "TG1")
            fresh(parcel.parcel, uow, rules, clock)
            fresh(parcel.parcel, uow, rules, clock)
            report = deliver_due(uow, build_channels(config.channels), clock,
                                 timezone=rules.timezone)
            assert report.failed == 0 and report.retried == 0
            messages = mail.wait_for(report.sent)
        finally:
            conn.close()
    [to_team] = [m for m in messages if m["To"] == "property@sample-garden.example"]
    assert "Fresh food first" in to_team["Subject"]
    assert "24-2304" in to_team.get_content() and parcel.slot in to_team.get_content()


def test_a_task_whose_team_went_off_duty_passes_on_and_the_new_team_is_told(conn, uow, rules,
                                                                            community):
    parcel = scan(community, uow, rules, shanghai("2026-12-03 17:20"), "29-1004", "A1")
    assert parcel.door_task.team == "committee"
    done = fresh(parcel.parcel, uow, rules, shanghai("2026-12-03 17:40"))
    assert done.door_task.team == "property" and done.door_task.fresh
    [(recipient, told)] = team_notices(conn)
    assert (recipient, told["reason"]) == ("property@sample-garden.example", "fresh")
    assert len(events(conn, "task_handed_over")) == 1


def test_a_parcel_collected_at_the_shelf_is_only_marked(conn, uow, rules, community):
    clock = shanghai("2026-12-03 21:00")
    parcel = scan(community, uow, rules, clock, "24-2403", "TG1")  # not under observation
    done = fresh(parcel.parcel, uow, rules, clock)
    assert (done.action, done.door_delivery, done.door_task) == ("fresh", False, None)
    assert rows(conn, "SELECT fresh FROM parcels") == [{"fresh": 1}]
    assert team_notices(conn) == [] and events(conn, "task_fresh") == []
    [marked] = events(conn, "parcel_fresh")
    assert (marked["actor"], marked["detail"]["task"]) == (COURIER, None)


def test_a_parcel_not_on_the_shelf_or_unknown_is_refused_and_nothing_changes(conn, uow, rules,
                                                                             community):
    clock = shanghai("2026-12-03 21:00")
    parcel = scan(community, uow, rules, clock, "24-2403", "TG1")
    code = rows(conn, "SELECT code FROM pickup_codes")[0]["code"]
    assert act_on_code(code, uow, rules, clock).action == "pickup"
    before = rows(conn, "SELECT COUNT(*) AS n FROM events")

    gone = fresh(parcel.parcel, uow, rules, clock)
    assert (gone.action, gone.error) == ("rejected", "already_collected")
    assert "24-2403" not in gone.message  # logged: the household masked
    unknown = fresh(parcel.parcel + 100, uow, rules, clock)
    assert (unknown.action, unknown.error) == ("rejected", "unknown_parcel")
    assert rows(conn, "SELECT fresh FROM parcels") == [{"fresh": 0}]
    # Not a gate refusal to show (scan_refused): the screen keeps the check-in it shows.
    assert rows(conn, "SELECT COUNT(*) AS n FROM events") == before
