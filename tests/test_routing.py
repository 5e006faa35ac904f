"""Which team carries a building's parcels to the door, at the edges of its hours; and the
configuration that would leave a building without a team refused at load."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from kiosk.community import write_sample
from kiosk.config import Team, load_config
from kiosk.errors import ConfigError
from kiosk.routing import coverage_gaps, on_duty, team_for

SHANGHAI = ZoneInfo("Asia/Shanghai")  # no daylight saving time
UTC = ZoneInfo("UTC")
COMMITTEE = Team("committee", "Committee", frozenset(range(29, 36)), time(8, 30), time(17, 30))
PROPERTY = Team("property", "Property", frozenset(range(1, 29)), time(0, 0), time.max,
                ("committee",))
TEAMS = (COMMITTEE, PROPERTY)  # the compound of the brief


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(("moment", "building", "team"), [
    ("2026-12-03T08:29:59+08:00", 30, "property"),  # before the committee's office opens
    ("2026-12-03T08:30:00+08:00", 30, "committee"),
    ("2026-12-03T17:29:00+08:00", 30, "committee"),
    ("2026-12-03T17:29:59+08:00", 30, "committee"),
    ("2026-12-03T17:30:00+08:00", 30, "property"),  # closes at 17:30: the property takes over
    ("2026-12-03T21:00:00+08:00", 30, "property"),
    ("2026-12-03T23:59:59+08:00", 35, "property"),
    ("2026-12-04T00:00:00+08:00", 29, "property"),  # midnight
    ("2026-12-03T12:00:00+08:00", 24, "property"),  # 1-28 are the property's all day
    ("2026-12-04T00:00:00+08:00", 24, "property"),
    ("2026-12-03T09:29:00+00:00", 30, "committee"),  # 17:29 in Shanghai, given in UTC
    ("2026-12-03T09:30:00+00:00", 30, "property"),  # 17:30 in Shanghai
])
def test_the_team_serving_a_building_at_the_edges_of_the_hours(moment, building, team):
    assert team_for(TEAMS, building, at(moment), SHANGHAI).id == team


def test_hours_are_the_community_s_wall_clock_not_utc():
    moment = at("2026-12-03T10:00:00+00:00")  # 18:00 in Shanghai, 10:00 in a UTC community
    assert team_for(TEAMS, 30, moment, SHANGHAI).id == "property"
    assert team_for(TEAMS, 30, moment, UTC).id == "committee"


def test_a_zone_with_summer_time_follows_its_wall_clock():
    berlin = ZoneInfo("Europe/Berlin")  # summer time from 2026-03-29 02:00
    assert team_for(TEAMS, 30, at("2026-03-28T07:29:00+00:00"), berlin).id == "property"  # 08:29
    assert team_for(TEAMS, 30, at("2026-03-29T07:29:00+00:00"), berlin).id == "committee"  # 09:29


def test_hours_that_cross_midnight_are_a_night_shift():
    day = Team("day", "Day", frozenset(range(1, 36)), time(6, 0), time(22, 0))
    night = Team("night", "Night", frozenset(range(1, 36)), time(22, 0), time(6, 0))
    teams = (day, night)
    for clock, team in (("21:59", "day"), ("22:00", "night"), ("00:00", "night"),
                        ("05:59", "night"), ("06:00", "day")):
        moment = at(f"2026-12-03T{clock}:00+08:00")
        assert team_for(teams, 7, moment, SHANGHAI).id == team, clock
    assert on_duty(night, time(23, 0)) and not on_duty(night, time(12, 0))
    assert coverage_gaps(teams, range(1, 36)) == {}


def test_an_uncovered_building_and_its_hours_are_found():
    alone = (COMMITTEE, Team("property", "Property", frozenset(range(1, 29)), time(0, 0),
                             time.max))  # no after_hours_for: 29-35 have nobody at night
    gaps = coverage_gaps(alone, range(1, 36))
    assert sorted(gaps) == list(range(29, 36))
    assert [str(g) for g in gaps[30]] == ["17:30-08:30"]  # one gap, across midnight
    assert coverage_gaps(TEAMS, range(1, 36)) == {}
    assert team_for(TEAMS, 30, at("2026-12-03T20:00:00+08:00"), SHANGHAI).id == "property"
    with pytest.raises(LookupError, match="no team serves building 30 at 20:00"):
        team_for(alone, 30, at("2026-12-03T20:00:00+08:00"), SHANGHAI)


@pytest.fixture
def sample(tmp_path):
    path, _ = write_sample(tmp_path / "c", "a password")
    return path


def edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, f"the sample no longer contains {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(("old", "new", "message"), [
    ('after_hours_for = ["committee"]', "",
     r"no team serves building\(s\) 29-35 at 17:30-08:30"),
    ('hours = "00:00-24:00"', 'hours = "06:00-23:00"',
     r"no team serves building\(s\) 1-35 at 23:00-06:00: give a team those buildings"),
    ('buildings = "1-28"', 'buildings = "1-27"', r"no team serves building\(s\) 28 at 00:00-24:00"),
    ('after_hours_for = ["committee"]', 'after_hours_for = ["comittee"]',
     r"after_hours_for names 'comittee', which is not a team; teams are committee, property"),
    ('after_hours_for = ["committee"]', 'after_hours_for = ["property"]',
     r"after_hours_for: 'property' must name another team's id"),
    ('hours = "08:30-17:30"', 'hours = "08:30-08:30"', r"a shift must open before 24:00"),
    ('hours = "08:30-17:30"', 'hours = "08:30-24:30"', r"expected HH:MM-HH:MM"),
    ('channel = "email", to = "property@', 'channel = "wecom", to = "property@',
     r"notify channel 'wecom' is not a \[\[channels\]\] id; channels are email"),
    ('to = "property@sample-garden.example"', 'to = "property desk"',
     r"to = 'property desk': an address without spaces"),
    ('to = "property@sample-garden.example"', 'to = "property-desk"',
     r"notify to = 'property-desk' is not an e-mail address"),
    ('to = "property@sample-garden.example"', 'address = "p@x.org"',
     r"\[teams #2 notify #1\] is missing the key 'to'"),
])
def test_teams_that_leave_a_building_without_a_team_are_refused_at_load(sample, old, new,
                                                                         message):
    edit(sample, old, new)
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(sample)
    assert str(sample) in str(caught.value)


def test_a_night_shift_and_team_contacts_load(sample):
    edit(sample, 'hours = "00:00-24:00"', 'hours = "17:00-09:00"')
    edit(sample, 'hours = "08:30-17:30"', 'hours = "08:00-18:00"')
    edit(sample, 'buildings = "1-28"', 'buildings = "1-35"')  # by day the committee serves all
    edit(sample, 'buildings = "29-35"', 'buildings = "1-35"')
    config = load_config(sample)
    night = config.teams[1]
    assert (night.opens, night.closes) == (time(17, 0), time(9, 0))
    assert [(c.channel, c.to) for c in night.notify] == [
        ("email", "property@sample-garden.example")]
    assert config.pickup.fresh_escalate_s == 3600  # the default: an hour
