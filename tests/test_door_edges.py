"""Door delivery's edge cases at the gate, on a real SQLite file of the sample community: the
household import changes observation through ``set_observation``; a household put under
observation while its parcels wait gets them carried (its pickup code withdrawn); parcels
collected at the shelf leave their door task; notices state real check-in times; the day's
counts credit the team that did the work, across the committee's handover at 17:30."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from kiosk.clock import ManualClock
from kiosk.domain import HouseholdId
from kiosk.labels import door_payload, make_label
from kiosk.notices.render import render
from kiosk.observation import set_observation
from kiosk.queries import open_tasks
from kiosk.services import act_on_payload

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
