"""The one way a household's observation state changes: ``kiosk.observation.set_observation``."""

from __future__ import annotations

import json

import pytest

from kiosk.errors import UnknownHousehold
from kiosk.observation import set_observation


def under(conn, household: str) -> bool:
    row = conn.execute("SELECT under_observation FROM households WHERE id = ?", (household,))
    return bool(row.fetchone()[0])


def observation_events(conn, household: str) -> list[tuple[str, str, dict]]:
    rows = conn.execute("SELECT kind, actor, detail FROM events WHERE household_id = ?"
                        " AND kind LIKE 'observation_%' ORDER BY id", (household,))
    return [(r["kind"], r["actor"], json.loads(r["detail"])) for r in rows]


def test_a_change_is_stored_with_an_event_naming_its_actor_and_list(conn, uow, rules, clock):
    assert set_observation("24-2304", True, uow, rules, clock, actor="chen@shell", list_id=7)
    assert under(conn, "24-2304")
    assert set_observation("24-2304", False, uow, rules, clock, actor="li@web")
    assert not under(conn, "24-2304")
    assert observation_events(conn, "24-2304") == [
        ("observation_added", "chen@shell", {"list": 7}),
        ("observation_released", "li@web", {"list": None})]


def test_asking_for_the_state_a_household_is_in_changes_nothing(conn, uow, rules, clock):
    imported = observation_events(conn, "29-1004")  # the sample's import put it under
    assert not set_observation("24-2304", False, uow, rules, clock, actor="chen@shell")
    assert under(conn, "29-1004")  # under observation in the sample list
    assert not set_observation("29-1004", True, uow, rules, clock, actor="chen@shell")
    assert observation_events(conn, "24-2304") == []
    assert observation_events(conn, "29-1004") == imported


def test_a_household_not_in_the_list_is_refused_with_the_rooms_it_may_be(conn, uow, rules,
                                                                          clock):
    conn.execute("DELETE FROM households WHERE id = '24-2403'")
    with pytest.raises(UnknownHousehold) as refused:
        set_observation("24-2403", True, uow, rules, clock, actor="chen@shell")
    assert refused.value.suggestions == ("24-2003", "24-2304")
    assert "24-2403" not in str(refused.value)  # masked: 24-24**
