"""Import the household list from CSV: preview what would change; apply only on request, whole.

The file is read by ``kiosk.csvfile`` (UTF-8, GBK or UTF-16; a malformed file is refused whole).
Buildings and rooms are normalised the way ``HouseholdId.parse`` does it, by parsing the id:
letters upper-cased, leading zeros dropped from both (``024`` is building 24, ``02310`` is room
2310), because a spreadsheet drops leading zeros from numbers anyway and the same flat must come
back as the same household whichever program saved the list.

The report lists what would be added, changed (each field before and after), unchanged and
refused (line and reason), and warnings: a phone or e-mail on two households, a contact moving
between rooms easily confused (2304/2403), a column the import does not know. The phone column
may hold several numbers separated by ``;`` (``13800002304;13900001234``; a full-width ``；``
too): each is a phone of the household, and the gate matches a waybill's last four digits
against all of them. ``apply=True``
writes the whole file in one transaction, and only when no row is refused. A household whose
``under_observation`` changes changes through ``kiosk.observation.set_observation``, as every
such change does (released: its door task is cancelled and it gets its pickup code; put under
observation: its waiting parcels go to the door). Wherever the report is shown, contacts are
masked (``138****1234``, ``c***@example.org``).
"""

from __future__ import annotations

import difflib
import re
import textwrap
from collections.abc import Iterator, Mapping, Set
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from kiosk.clock import ManualClock
from kiosk.csvfile import read_table
from kiosk.domain import (
    Household,
    HouseholdId,
    canonical_room,
    confusable,
    join_phones,
    mask_email,
    mask_phone,
    split_phones,
)
from kiosk.observation import set_observation
from kiosk.ports import UnitOfWork
from kiosk.services import Rules

COLUMNS = ("building", "room", "name", "phone", "email", "under_observation")
REQUIRED = ("building", "room")
FIELDS = COLUMNS[2:]  # what a row may change
CONTACTS = {"phone": "phone", "email": "e-mail"}
TRUE_WORDS = {"yes", "y", "true", "1", "是"}
FALSE_WORDS = {"no", "n", "false", "0", "否", ""}
EMAIL_RE = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")


@dataclass(frozen=True)
class Caution:
    """A row that is valid but may not say what was meant: check it before applying."""

    line: int | None
    kind: str  # shared_contact, confusable_rooms, unknown_column
    message: str


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    warnings: list[Caution] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)  # household -> its line in the file
    diffs: dict[str, dict[str, tuple[Any, Any]]] = field(default_factory=dict)  # before, after
    apply: bool = False  # asked for
    applied: bool = False
    encoding: str = ""

    def counts(self) -> str:
        return (f"added {len(self.added)}, changed {len(self.changed)}, "
                f"unchanged {len(self.unchanged)}, refused {len(self.refused)}, "
                f"warnings {len(self.warnings)}")

    def summary(self) -> str:
        """The report for a terminal, contacts masked."""
        out = [self.counts()]
        if self.added:
            out.append(textwrap.fill("added: " + ", ".join(self.added), 96,
                                     subsequent_indent="  "))
        out += ["changed:"] * bool(self.changed) + [
            f"  line {self.lines[key]}: {key}: " + "; ".join(
                f"{name} {_text(name, before)} -> {_text(name, after)}"
                for name, (before, after) in self.diffs[key].items())
            for key in self.changed]
        out += ["refused:"] * bool(self.refused)
        out += [f"  line {line}: {reason}" for line, reason in self.refused]
        out += ["warnings:"] * bool(self.warnings)
        out += [f"  line {w.line}: {w.message}" if w.line else f"  {w.message}"
                for w in self.warnings]
        out.append(self._verdict())
        return "\n".join(out)

    def _verdict(self) -> str:
        if self.applied:
            return f"applied: {len(self.added)} added, {len(self.changed)} changed"
        if self.apply:
            return "nothing applied: some rows are refused; correct them and run again"
        return "preview only, nothing changed: run again with --apply to apply it"

    def as_json(self) -> dict[str, Any]:
        """The report for tools (``--json``), contacts masked."""
        def rows(keys: list[str]) -> list[dict[str, Any]]:
            return [{"line": self.lines[k], "household": k} for k in keys]

        return {
            "added": rows(self.added),
            "changed": [{**row, "fields": {
                name: {"before": _shown(name, before), "after": _shown(name, after)}
                for name, (before, after) in self.diffs[row["household"]].items()}}
                for row in rows(self.changed)],
            "unchanged": rows(self.unchanged),
            "refused": [{"line": line, "reason": reason} for line, reason in self.refused],
            "warnings": [{"line": w.line, "kind": w.kind, "message": w.message}
                         for w in self.warnings],
            "applied": self.applied,
            "encoding": self.encoding,
        }


def _shown(name: str, value: Any) -> Any:
    if name == "phone":
        return mask_phone(value)
    return mask_email(value) if name == "email" else value


def _text(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return repr(_shown(name, value))


def parse_row(row: Mapping[str, str], buildings: Set[int]) -> Household:
    """Turn one CSV row into a Household, or raise ValueError naming the bad field."""
    building_text = (row.get("building") or "").strip()
    if not building_text.isdigit():
        raise ValueError(f"building {building_text!r} is not a number")
    room_text = (row.get("room") or "").strip()
    room = canonical_room(room_text)
    if room is None:
        raise ValueError(f"room {room_text!r}: use 1-6 letters or digits, e.g. 2304")
    household = HouseholdId.parse(f"{building_text}-{room}")  # the one rule for ids
    if household.building not in buildings:
        raise ValueError(f"building {household.building} is not in [community] buildings")
    email = (row.get("email") or "").strip()
    if email and not EMAIL_RE.match(email):
        raise ValueError(f"email {email!r} is not an e-mail address")
    flag = (row.get("under_observation") or "").strip().lower()
    if flag not in TRUE_WORDS | FALSE_WORDS:
        raise ValueError(f"under_observation {flag!r}: use yes or no")
    return Household(id=household, name=(row.get("name") or "").strip(),
                     phone=join_phones(row.get("phone") or ""), email=email,
                     under_observation=flag in TRUE_WORDS)


def import_households(uow: UnitOfWork, buildings: Set[int], source: Path | str,
                      now: datetime, actor: str = "admin", *, apply: bool,
                      rules: Rules) -> ImportReport:
    """Compare a CSV with the stored households; with ``apply``, store it in one transaction.

    Nothing is stored when any row is refused. A column the file leaves out keeps what was known.
    ``rules`` are what a change of observation state needs (``set_observation``), recorded as
    ``actor``'s.
    """
    table = read_table(source)
    report = ImportReport(apply=apply, encoding=table.encoding)
    report.warnings += _header_cautions(table.header, table.rows, Path(source).name)
    with uow:
        known = {str(h.id): h for h in uow.households.all()}
        planned: dict[str, Household] = {}
        for line, fields in table.rows:
            row = dict(zip(table.header, fields, strict=True))
            try:
                household = parse_row(row, buildings)
            except ValueError as exc:
                report.refused.append((line, str(exc)))
                continue
            key = str(household.id)
            if key in report.lines:
                report.refused.append((line, f"{key} already given on line {report.lines[key]}"))
                continue
            report.lines[key] = line
            old = known.get(key)
            if old is not None:
                household = replace(household, **{c: getattr(old, c) for c in FIELDS
                                                  if c not in table.header})
            planned[key] = household
            _classify(report, key, old, household)
        report.warnings += _contact_cautions(known, planned, report)
        if apply and not report.refused:
            for key in report.added + report.changed:
                _store(uow, known.get(key), planned[key], now, actor, rules)
            uow.events.add("households_imported", actor, now, source=Path(source).name,
                           added=len(report.added), changed=len(report.changed),
                           unchanged=len(report.unchanged))
            report.applied = True
    return report


def _store(uow: UnitOfWork, old: Household | None, new: Household, now: datetime, actor: str,
           rules: Rules) -> None:
    """Store a row; a change of its observation state goes through ``set_observation``."""
    was = old.under_observation if old else False
    uow.households.upsert(replace(new, under_observation=was), now)
    if new.under_observation != was:
        set_observation(new.id, new.under_observation, uow, rules, ManualClock(now),
                        actor=actor)


def _classify(report: ImportReport, key: str, old: Household | None, new: Household) -> None:
    if old is None:
        report.added.append(key)
        return
    diff = {c: (getattr(old, c), getattr(new, c)) for c in FIELDS
            if getattr(old, c) != getattr(new, c)}
    if diff:
        report.changed.append(key)
        report.diffs[key] = diff
    else:
        report.unchanged.append(key)


def _header_cautions(header: tuple[str, ...], rows: tuple[tuple[int, tuple[str, ...]], ...],
                     name: str) -> list[Caution]:
    """Refuse a header without building and room; warn of each column that will be ignored."""
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing:
        raise ValueError(f"{name}: the header must name columns from {', '.join(COLUMNS)} "
                         f"(missing: {', '.join(missing)}; "
                         f"unknown: {', '.join(c for c in unknown if c) or 'none'})")
    cautions = []
    for index, column in enumerate(header):
        if column in COLUMNS or not (column or any(f[index].strip() for _, f in rows)):
            continue  # a known column, or an empty one without a name (Excel leaves those)
        near = difflib.get_close_matches(column, [c for c in COLUMNS if c not in header], 1)
        what = f"the column {column!r}" if column else f"column {index + 1} (no name)"
        hint = f"; is it a typo for {near[0]!r}?" if near else ""
        cautions.append(Caution(None, "unknown_column", f"{what} is not one the import knows "
                                f"({', '.join(COLUMNS)}): its values are ignored{hint}"))
    return cautions


def _contact_cautions(known: Mapping[str, Household], planned: Mapping[str, Household],
                      report: ImportReport) -> list[Caution]:
    """Warn where the file gives a household a phone or e-mail another household has (or had).

    Between rooms easily confused (2304/2403) that is most likely a mistyped room: the notices
    (and pickup codes) for one flat would go to the other.
    """
    after = {**known, **planned}
    cautions: list[Caution] = []
    for column, label in CONTACTS.items():
        had = _holders(known, column)
        has = _holders(after, column)
        warned: set[str] = set()
        for key, household, value in _each_contact(planned, column):
            old = known.get(key)
            if value in warned or (old and value in _contacts(column, getattr(old, column))):
                continue  # only what this file gives a household anew, once per contact
            others = [k for k in dict.fromkeys(has.get(value, []) + had.get(value, []))
                      if k != key]
            if not others:
                continue
            warned.add(value)
            shown = _shown(column, _one_contact(column, getattr(household, column), value))
            near = [k for k in others if confusable(k, key)]
            if near:
                verb = "has" if near[0] in has.get(value, []) else "had"
                message = (f"{key} gets the {label} {shown} that {near[0]} {verb}: "
                           f"{near[0]} and {key} are easily confused; check the room")
                cautions.append(Caution(report.lines[key], "confusable_rooms", message))
            elif holders := [k for k in others if k in has.get(value, [])]:
                message = f"the {label} {shown} would be on {key} and {', '.join(holders)}"
                cautions.append(Caution(report.lines[key], "shared_contact", message))
    return cautions


def _holders(households: Mapping[str, Household], column: str) -> dict[str, list[str]]:
    holders: dict[str, list[str]] = {}
    for key, _, value in _each_contact(households, column):
        holders.setdefault(value, []).append(key)
    return holders


def _each_contact(households: Mapping[str, Household],
                  column: str) -> Iterator[tuple[str, Household, str]]:
    """(household, Household, contact as compared) for each phone or e-mail of each household."""
    for key, household in households.items():
        for value in _contacts(column, getattr(household, column)):
            yield key, household, value


def _contacts(column: str, value: str) -> list[str]:
    """The contacts of a field as compared: each phone's digits only, an e-mail in lower case."""
    if column == "phone":
        return [d for d in (re.sub(r"\D", "", p) for p in split_phones(value)) if d]
    return [value.strip().lower()] if value.strip() else []


def _one_contact(column: str, value: str, compared: str) -> str:
    """The phone (as written) among a field's phones that compares as ``compared``."""
    if column != "phone":
        return value
    return next(p for p in split_phones(value) if re.sub(r"\D", "", p) == compared)
