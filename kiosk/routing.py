"""Which team carries a building's parcels to the door at a given moment: pure rules, no I/O.

A team (``[[teams]]``) serves its own buildings during its hours; outside them, the teams that
name it in ``after_hours_for`` take its buildings over while they are on duty themselves. Hours
are the community's wall-clock (its time zone), ``opens`` included and ``closes`` excluded:
the committee's 08:30-17:30 serves at 17:29:59 and not at 17:30. Hours may cross midnight
(``22:00-06:00``: a night shift); ``00:00-24:00`` is all day.

The configuration is refused at load when some building has no team at some hour
(``coverage_gaps``), so ``team_for`` always finds one for a known building.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, tzinfo
from typing import Protocol

DAY_S = 24 * 3600


class TeamHours(Protocol):
    """What routing needs of a team (``kiosk.config.Team`` is one)."""

    id: str
    buildings: frozenset[int]
    opens: time
    closes: time
    after_hours_for: tuple[str, ...]


def seconds(moment: time) -> int:
    """Seconds since midnight; ``time.max`` (how 24:00 is read) is the end of the day."""
    if moment == time.max:
        return DAY_S
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def on_duty(team: TeamHours, at: time) -> bool:
    """True when ``at`` (local wall-clock) is within the team's hours."""
    now, start, end = seconds(at) % DAY_S, seconds(team.opens), seconds(team.closes)
    if start < end:
        return start <= now < end
    return now >= start or now < end  # the hours cross midnight


def serving_team(teams: Sequence[TeamHours], building: int, at: time) -> TeamHours | None:
    """The team that serves ``building`` at local time ``at``, or None when none does.

    In order: the first team (in configuration order) whose own building it is and that is on
    duty; else the first team on duty that covers, after hours, a team owning the building.
    """
    for team in teams:
        if building in team.buildings and on_duty(team, at):
            return team
    owners = {t.id for t in teams if building in t.buildings}
    for team in teams:
        if on_duty(team, at) and owners & set(team.after_hours_for):
            return team
    return None


def local_time(moment: datetime, timezone: tzinfo) -> time:
    """The community's wall-clock time at an aware ``moment``."""
    return moment.astimezone(timezone).time().replace(tzinfo=None)


def team_for(teams: Sequence[TeamHours], building: int, moment: datetime,
             timezone: tzinfo) -> TeamHours:
    """The team that serves ``building`` at ``moment`` in the community's ``timezone``.

    Raises LookupError for a building no team serves then; a loaded configuration has none
    (``coverage_gaps``), so that means a building outside ``[community] buildings``.
    """
    at = local_time(moment, timezone)
    team = serving_team(teams, building, at)
    if team is None:
        raise LookupError(f"no team serves building {building} at {at:%H:%M}")
    return team


@dataclass(frozen=True)
class Gap:
    """Hours (local, seconds since midnight; ``end`` may pass midnight) a building lacks a team."""

    start: int
    end: int

    def __str__(self) -> str:
        end = "24:00" if self.end == DAY_S else _clock(self.end)
        return f"{_clock(self.start)}-{end}"


def _clock(at: int) -> str:
    at %= DAY_S
    return f"{at // 3600:02d}:{at % 3600 // 60:02d}"


def coverage_gaps(teams: Sequence[TeamHours],
                  buildings: Iterable[int]) -> dict[int, tuple[Gap, ...]]:
    """Every building that some hours of the day have no team, with those hours.

    Who serves changes only where a team's hours open or close, so checking each stretch
    between those moments at its start checks the whole day. A gap running into midnight and
    one running out of it are one gap (``17:30-08:30``).
    """
    marks = sorted({0} | {seconds(t.opens) % DAY_S for t in teams}
                   | {seconds(t.closes) % DAY_S for t in teams})
    stretches = list(zip(marks, [*marks[1:], DAY_S], strict=True))
    found: dict[int, tuple[Gap, ...]] = {}
    for building in sorted(buildings):
        gaps: list[Gap] = []
        for start, end in stretches:
            if serving_team(teams, building, _at(start)) is not None:
                continue
            if gaps and gaps[-1].end == start:
                gaps[-1] = Gap(gaps[-1].start, end)
            else:
                gaps.append(Gap(start, end))
        if len(gaps) > 1 and gaps[0].start == 0 and gaps[-1].end == DAY_S:
            gaps = [Gap(gaps[-1].start, DAY_S + gaps[0].end), *gaps[1:-1]]
        if gaps:
            found[building] = tuple(gaps)
    return found


def _at(second: int) -> time:
    return time(second // 3600, second % 3600 // 60, second % 60)
