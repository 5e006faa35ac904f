"""The observation register: what a day's list changes, and applying it whole.

``apply_list`` compares a list (``kiosk.observation_lists``) with the households as stored
(``added``, ``released``, ``unchanged``, ``unknown``: rooms not in the household list, with the
rooms easily confused with them) and its problems line by line. A list with problems applies
nothing unless the operator confirms the rest (``confirm``); a file that cannot be read applies
nothing at all. Applied, the whole list is one transaction: every change goes through
``kiosk.observation.set_observation`` with the register's entry (who applied which file, its
SHA-256, for which day, from which source), and the same list applied again changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from kiosk.csvfile import reading_of
from kiosk.domain import Household, confusable_with
from kiosk.observation import set_observation
from kiosk.observation_lists import FULL, DayList, Problem, read_list, sha256_of
from kiosk.ports import AppliedList, Clock, UnitOfWork
from kiosk.services import Rules


@dataclass(frozen=True)
class Entry:
    household: str
    line: int | None  # None: released because a full list does not name it
    near: tuple[str, ...] = ()  # for an unknown room: the rooms easily confused with it

    def as_json(self) -> dict[str, Any]:
        return {"household": self.household, "line": self.line}


@dataclass
class ListReport:
    """What a list would change (or changed), and why it did or did not apply."""

    day_list: DayList
    list_date: date
    source: str
    added: list[Entry] = field(default_factory=list)
    released: list[Entry] = field(default_factory=list)
    unchanged: list[Entry] = field(default_factory=list)
    unknown: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    dry_run: bool = False
    confirm: bool = False
    applied: bool = False
    register_id: int | None = None
    already: AppliedList | None = None  # these bytes were applied before, and change nothing
    stale: bool = False  # the difference is not the one the operator confirmed

    @property
    def readable(self) -> bool:
        return self.day_list.readable

    @property
    def needs_confirmation(self) -> bool:
        """Problems stand in the way, and the operator may still apply the rest."""
        return self.readable and bool(self.problems) and not self.confirm

    @property
    def diff_key(self) -> str:
        """A short fingerprint of this difference: what the operator saw is what applies."""
        seen = [self.day_list.sha256, self.list_date.isoformat(), self.source,
                [[e.household, e.line] for e in self.added],
                [[e.household, e.line] for e in self.released],
                [[p.line, p.kind, p.household] for p in self.problems]]
        return hashlib.sha256(json.dumps(seen).encode()).hexdigest()[:16]

    def as_json(self) -> dict[str, Any]:
        """The shape of ``shelf observation apply --json``."""
        already = self.already
        return {
            **self.day_list.describe(),
            "date": self.list_date.isoformat(), "source": self.source,
            "added": [e.as_json() for e in self.added],
            "released": [e.as_json() for e in self.released],
            "unchanged": [e.as_json() for e in self.unchanged],
            "unknown": [{"household": e.household, "line": e.line, "near": list(e.near)}
                        for e in self.unknown],
            "problems": [p.as_json() for p in self.problems],
            "applied": self.applied,
            "dry_run": self.dry_run,
            "needs_confirmation": self.needs_confirmation,
            "register_id": self.register_id,
            "already_applied": already and {"id": already.id, "actor": already.actor,
                                            "at": already.applied_at.isoformat()},
            "diff_key": self.diff_key,
        }

    @property
    def verdict(self) -> str:
        """What became of the list: ``applied``; ``already`` (these bytes were applied before
        and change nothing); ``unreadable``; ``stale`` (the difference changed since it was
        shown); ``dry_run``; or ``needs_confirmation`` (problems kept it from applying)."""
        if self.applied:
            return "applied"
        if self.already is not None:
            return "already"
        if not self.readable:
            return "unreadable"
        if self.stale:
            return "stale"
        return "dry_run" if self.dry_run else "needs_confirmation"


def diff_list(day_list: DayList, households: Iterable[Household], report: ListReport) -> None:
    """Fill ``report`` with what the list would change in the register's ``households``."""
    known = {str(h.id): h for h in households}
    ids = [h.id for h in known.values()]
    report.problems += day_list.problems
    listed: set[str] = set()
    for row in day_list.rows:
        key = str(row.household)
        listed.add(key)
        household = known.get(key)
        if household is None:
            near = tuple(map(str, confusable_with(row.household, ids)))
            report.unknown.append(Entry(key, row.line, near))
            hint = f": did you mean {' or '.join(near)}?" if near else ""
            report.problems.append(Problem(row.line, "unknown_room", f"line {row.line}: {key} "
                                           f"is not in the household list{hint}", key,
                                           text=" / ".join(near)))
        elif household.under_observation == row.under:
            report.unchanged.append(Entry(key, row.line))
        else:
            (report.added if row.under else report.released).append(Entry(key, row.line))
    if day_list.format == FULL and day_list.readable:
        _release_the_unlisted(known, listed | _named_in_problems(day_list), report)
    report.problems.sort(key=lambda p: (p.line is not None, p.line or 0))  # line by line


def _named_in_problems(day_list: DayList) -> set[str]:
    return {p.household for p in day_list.problems if p.household}


def _release_the_unlisted(known: dict[str, Household], listed: set[str],
                          report: ListReport) -> None:
    """A full list releases everyone it does not name, except a flat an unknown row may mean.

    A list that names 24-2403, not in the household list, may have meant 24-2304 (the
    incident): 24-2304 then stays under observation, and the list says why.
    """
    unknown = {e.household: e for e in report.unknown}
    for key, household in known.items():
        if not household.under_observation or key in listed:
            continue
        meant = [e for e in unknown.values() if key in e.near]
        if meant:
            lines = ", ".join(str(e.line) for e in meant)
            report.problems.append(Problem(
                meant[0].line, "held", f"{key} is not listed, but line {lines} "
                f"({', '.join(e.household for e in meant)}, not in the household list) may "
                "mean it: it stays under observation", key, meant[0].line,
                text=", ".join(e.household for e in meant)))
        else:
            report.released.append(Entry(key, None))


def apply_list(data: bytes, name: str, uow: UnitOfWork, rules: Rules, clock: Clock, *,
               list_date: date, source: str = "", actor: str, dry_run: bool = False,
               confirm: bool = False, expected_diff: str | None = None,
               reading: str | None = None) -> ListReport:
    """Show what a day's list changes; unless ``dry_run``, apply it in one transaction.

    Nothing applies from a file that cannot be read, nor, unless ``confirm``, from a list with
    problems (then the valid rows apply: the unknown, duplicate and conflicting ones do not).
    ``expected_diff`` (the ``diff_key`` the operator was shown) refuses to apply a difference
    that changed since. Bytes applied before as this day's list from this source that change
    nothing now are not recorded again. ``reading`` is what the bytes read as when uploaded
    (``upload``): given, they are not read again.
    """
    day_list = read_list(data, name, list_date, reading)
    report = ListReport(day_list, list_date, source.strip(), dry_run=dry_run, confirm=confirm)
    if dry_run:  # one read, no transaction: a look takes no write lock from the kiosk
        diff_list(day_list, uow.households.all(), report)
        return report
    now = clock.now()
    with uow:
        diff_list(day_list, uow.households.all(), report)
        if not report.readable or report.needs_confirmation:
            return report
        if not (report.added or report.released):
            report.already = uow.observation.last_applied(day_list.sha256, list_date,
                                                          report.source)
            if report.already is not None:  # a second click, or the same file again
                return report
        if expected_diff is not None and expected_diff != report.diff_key:
            report.stale = True
            return report
        uow.observation.files.keep(day_list.sha256, name, data, reading, now, actor)
        report.register_id = uow.observation.add(AppliedList(
            0, now, actor, list_date, report.source, name, day_list.sha256, day_list.format,
            len(report.added), len(report.released), len(report.unchanged),
            len(report.unknown), len(report.problems)))
        for entry, under in [(e, True) for e in report.added] + [
                (e, False) for e in report.released]:
            set_observation(entry.household, under, uow, rules, clock, actor=actor,
                            list_id=report.register_id)
        uow.events.add("observation_list_applied", actor, now, list=report.register_id,
                       file=name, sha256=day_list.sha256, date=list_date.isoformat(),
                       source=report.source, added=len(report.added),
                       released=len(report.released), problems=len(report.problems))
        report.applied = True
    return report


def upload(data: bytes, name: str, uow: UnitOfWork, clock: Clock, *, actor: str) -> str:
    """Keep a list's bytes, and what they read as, for a later look and confirmation; return
    their SHA-256. ListTooLarge (nothing kept) for a file larger than any list."""
    reading = reading_of(data, name)
    digest = sha256_of(data)
    with uow:
        uow.observation.files.keep(digest, name, data, reading, clock.now(), actor)
    return digest
