"""The day's observation list: read it, show what it would change, apply it whole, compare two.

A list comes as CSV (UTF-8, UTF-8 with a BOM, or GBK: ``kiosk.csvfile``) or as an Excel
workbook (XLSX, its first sheet). Its header, on the first line or below a title, names the
household by a ``户号``/``household`` column (``24-2304``, ``24栋2304室``) or by ``楼栋``/
``building`` and ``房号``/``room``. It is one of two kinds:

- a **status list**: a ``状态``/``status`` column says, per household, ``新增``/``added`` (put
  under observation) or ``解除``/``released`` (and the obvious synonyms, ``STATUS_WORDS``);
- a **full list**: no status column; everyone listed is under observation that day and
  everyone else is released.

``apply_list`` compares the list with the register (``added``, ``released``, ``unchanged``,
``unknown``: rooms not in the household list, with the rooms easily confused with them) and
reports every problem line by line: a malformed file or a wrong encoding, a row without a
household, a room given twice, a household both added and released, a status list row without
a status (a mix of the two kinds), a date that is not the list's. A list with problems applies
nothing unless the operator confirms the rest (``confirm``); a file that cannot be read applies
nothing at all. Applied, the whole list is one transaction: every change goes through
``kiosk.observation.set_observation`` with the register's entry (who applied which file, its
SHA-256, for which day, from which source), and the same list applied again changes nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from kiosk.csvfile import SAVE_AS, CsvError, parse_rows
from kiosk.domain import Household, HouseholdId, confusable_with
from kiosk.errors import UnknownHousehold
from kiosk.observation import set_observation
from kiosk.ports import AppliedList, Clock, UnitOfWork
from kiosk.services import Rules

STATUS, FULL = "status", "full"
# Header names, compared after NFKC, lower case, without spaces and "*:：".
HOUSEHOLD_NAMES = frozenset({"household", "householdid", "户号", "住户", "门牌", "门牌号",
                             "楼栋房号", "栋号房号", "房屋", "地址", "住址"})
BUILDING_NAMES = frozenset({"building", "bldg", "楼栋", "楼栋号", "楼号", "栋", "栋号", "楼",
                            "幢", "幢号"})
ROOM_NAMES = frozenset({"room", "roomno", "flat", "房号", "房间号", "房间", "室", "室号"})
STATUS_NAMES = frozenset({"status", "state", "change", "action", "状态", "变动", "变动类型",
                          "变更", "类型", "情况", "操作"})
DATE_NAMES = frozenset({"date", "day", "日期"})
# Status words, compared after NFKC, lower case, without spaces, "-" and "_".
ADDED_WORDS = frozenset({"added", "add", "new", "in", "under", "underobservation",
                         "observation", "start", "yes", "y", "新增", "新增隔离", "新增观察",
                         "新增居家观察", "隔离", "居家隔离", "居家观察", "观察", "纳入", "加入",
                         "管控", "是"})
RELEASED_WORDS = frozenset({"released", "release", "removed", "remove", "out", "end", "ended",
                            "lifted", "no", "n", "解除", "解除隔离", "解除观察", "解除居家观察",
                            "解封", "移除", "移出", "结束", "期满", "否"})
STATUS_WORDS = {**dict.fromkeys(ADDED_WORDS, True), **dict.fromkeys(RELEASED_WORDS, False)}
TITLE_ROWS = 5  # a header may sit below this many title rows, no lower
FILE_LEVEL = frozenset({"unreadable", "encoding", "no_columns", "empty"})

_HOUSEHOLD_RE = re.compile(r"(\d{1,3})\s*(?:号楼|栋|幢|#|-|/)\s*-?\s*([0-9A-Za-z]{1,6})\s*"
                           r"(?:室|号|房)?$")
_BUILDING_RE = re.compile(r"^(\d{1,3})\s*(?:号楼|栋|幢|#|号)?$")
_ROOM_RE = re.compile(r"^([0-9A-Za-z]{1,6})\s*(?:室|号|房)?$")
_DATE_RE = re.compile(r"^(?:(\d{4})\s*[-/.年]\s*)?(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")


@dataclass(frozen=True)
class Problem:
    """A line (None: the whole file) that keeps the list from applying as it is."""

    line: int | None
    kind: str  # see FILE_LEVEL and the kinds read_list and diff_list give
    message: str  # in English, for the terminal; the site words it from the fields below
    household: str | None = None
    other_line: int | None = None  # the line a duplicate or conflicting row repeats
    text: str = ""  # what the row said (a bad room, status or date), or the rooms near it

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "kind": self.kind, "message": self.message,
                "household": self.household, "other_line": self.other_line}


class _RowProblem(ValueError):
    """One row's problem, raised while reading the row."""

    def __init__(self, kind: str, message: str, text: str = "") -> None:
        super().__init__(message)
        self.kind, self.text = kind, text


@dataclass(frozen=True)
class Row:
    line: int
    household: HouseholdId
    under: bool  # True: added (or listed, in a full list); False: released


@dataclass(frozen=True)
class DayList:
    """A list as read: its valid rows (each household once) and its problems."""

    name: str
    sha256: str
    format: str  # STATUS or FULL; "" when the file cannot be read
    encoding: str  # utf-8, utf-8-sig, gbk, utf-16 or xlsx
    rows: tuple[Row, ...]
    problems: tuple[Problem, ...]
    lines: int = 0  # rows below the header that carry anything

    @property
    def readable(self) -> bool:
        return not any(p.kind in FILE_LEVEL for p in self.problems)

    def describe(self) -> dict[str, Any]:
        return {"file": self.name, "sha256": self.sha256, "format": self.format or None,
                "encoding": self.encoding or None, "rows": self.lines}


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- reading ---------------------------------------------------------------------------------

def read_list(data: bytes, name: str, day: date | None = None) -> DayList:
    """Read a day's list from its bytes; every problem is reported, nothing is raised.

    ``day`` is the day the list is for: a date column that names another day is a problem.
    """
    digest = sha256_of(data)
    try:
        records, encoding = _records(data, name)
    except CsvError as exc:
        kind = "encoding" if "not UTF-8 or GBK" in str(exc) else "unreadable"
        return DayList(name, digest, "", "", (), (Problem(None, kind, str(exc)),))
    problems: list[Problem] = []
    if encoding == "xlsx":
        problems += _other_sheets(data)
    found = _header(records)
    if found is None:
        first = records[0][1] if records else ()
        names = ", ".join(repr(n) for n in first if n.strip()) or "none"
        message = (f"{name}: no column names the household: give 户号 (household), or 楼栋 "
                   f"and 房号 (building, room), on the first line (found: {names}); if the "
                   f"names look garbled, the file is in another encoding: {SAVE_AS}")
        if not records:
            message = f"{name}: the file is empty"
        kind = "no_columns" if records else "empty"
        return DayList(name, digest, "", encoding, (), (*problems, Problem(None, kind, message)))
    index, columns = found
    body = records[index + 1:]
    if not body:
        problems.append(Problem(None, "empty", f"{name}: the list has a header but no rows"))
    status_given = "status" in columns and any(
        _cell(fields, columns["status"]) for _, fields in body)
    kind = STATUS if status_given else FULL
    rows = _rows(body, columns, kind, day, problems)
    return DayList(name, digest, kind, encoding, tuple(rows), tuple(problems), len(body))


def _records(data: bytes, name: str) -> tuple[list[tuple[int, tuple[str, ...]]], str]:
    """The non-blank rows (line, fields as text) of a CSV file or a workbook's first sheet."""
    if data.startswith(b"PK\x03\x04"):
        return _xlsx_records(data, name), "xlsx"
    records, encoding = parse_rows(data, name)
    return [(line, tuple(_text(f) for f in fields)) for line, fields in records], encoding


def _xlsx_records(data: bytes, name: str) -> list[tuple[int, tuple[str, ...]]]:
    book = _workbook(data, name)
    try:
        sheet = book.worksheets[0]
        records = []
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            fields = tuple(_text(v) for v in values)
            if any(fields):
                records.append((number, fields))
        return records
    finally:
        book.close()


def _workbook(data: bytes, name: str) -> Any:
    from openpyxl import load_workbook  # only a workbook needs it

    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # a damaged zip or XML raises any of a dozen types
        raise CsvError(f"{name}: not an Excel workbook (.xlsx) that can be read ({exc}): "
                       f"{SAVE_AS}, or save it again as .xlsx") from None


def _other_sheets(data: bytes) -> list[Problem]:
    """A workbook whose later sheets hold anything: only the first is read, so say so."""
    book = _workbook(data, "")
    try:
        names = [s.title for s in book.worksheets[1:]
                 if any(v not in (None, "") for row in s.iter_rows(values_only=True)
                        for v in row)]
    finally:
        book.close()
    shown = ", ".join(names)
    return [Problem(None, "other_sheets", f"the workbook has more sheets ({shown}): only the "
                    "first is read; put the whole list on the first sheet", text=shown)
            ] * bool(names)


def _text(value: object) -> str:
    """A cell as text: full-width digits and letters made plain, numbers without '.0'."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    return unicodedata.normalize("NFKC", str(value)).strip()


def _name(text: str) -> str:
    return re.sub(r"[\s*:]", "", text.lower())


def _header(records: Sequence[tuple[int, tuple[str, ...]]]) -> tuple[int, dict[str, int]] | None:
    """(index of the header row, canonical column -> position) for the first row naming a
    household or a building and a room, among the first few (titles may stand above it)."""
    for index, (_, fields) in enumerate(records[:TITLE_ROWS + 1]):
        columns: dict[str, int] = {}
        for position, text in enumerate(fields):
            for column, names in (("household", HOUSEHOLD_NAMES), ("building", BUILDING_NAMES),
                                  ("room", ROOM_NAMES), ("status", STATUS_NAMES),
                                  ("date", DATE_NAMES)):
                if _name(text) in names:
                    columns.setdefault(column, position)
        if "household" in columns or {"building", "room"} <= columns.keys():
            return index, columns
    return None


def _cell(fields: tuple[str, ...], position: int | None) -> str:
    return fields[position] if position is not None and position < len(fields) else ""


def _rows(body: Iterable[tuple[int, tuple[str, ...]]], columns: dict[str, int], kind: str,
          day: date | None, problems: list[Problem]) -> list[Row]:
    """The valid rows, each household once; every other row becomes a problem."""
    rows: dict[str, Row] = {}
    conflicted: dict[str, int] = {}  # household -> the first line that named it
    for line, fields in body:
        key = None
        try:
            household = _household(fields, columns)
            key = str(household)
            under = _status(fields, columns, kind)
            _check_date(fields, columns, day)
        except _RowProblem as exc:
            problems.append(Problem(line, exc.kind, f"line {line}: {exc}", key, text=exc.text))
            continue
        first = rows.get(key)
        if key in conflicted:
            problems.append(Problem(line, "conflict", f"line {line}: {key} is added and released "
                                    f"(from line {conflicted[key]} on): neither applies", key,
                                    conflicted[key]))
        elif first is None:
            rows[key] = Row(line, household, under)
        elif first.under == under:
            problems.append(Problem(line, "duplicate", f"line {line}: {key} is on line "
                                    f"{first.line} already", key, first.line))
        else:
            del rows[key]
            conflicted[key] = first.line
            problems.append(Problem(line, "conflict", f"line {line}: {key} is "
                                    f"{_word(under)} here but {_word(first.under)} on line "
                                    f"{first.line}: neither applies; correct one of them", key,
                                    first.line))
    return list(rows.values())


def _word(under: bool) -> str:
    return "added" if under else "released"


def _household(fields: tuple[str, ...], columns: dict[str, int]) -> HouseholdId:
    """The row's household, from its household column or its building and room."""
    whole = _cell(fields, columns.get("household"))
    building, room = _cell(fields, columns.get("building")), _cell(fields, columns.get("room"))
    parts = _HOUSEHOLD_RE.search(whole) or _HOUSEHOLD_RE.fullmatch(room)
    if parts:
        if building and _BUILDING_RE.match(building) and (
                int(_BUILDING_RE.match(building)[1]) != int(parts[1])):
            raise _RowProblem("bad_room", f"building {building!r} and {whole or room!r} differ",
                              f"{building} / {whole or room}")
        building_text, room_text = parts[1], parts[2]
    elif whole and not (building or room):
        raise _RowProblem("bad_room", f"{whole!r} is not building-room, e.g. 24-2304", whole)
    else:
        b, r = _BUILDING_RE.match(building), _ROOM_RE.match(room)
        if not (b and r):
            given = f"building {building!r}, room {room!r}"
            raise _RowProblem("bad_room", f"{given} is not a building number and a room, "
                              "e.g. 24 and 2304", f"{building} / {room}")
        building_text, room_text = b[1], r[1]
    try:
        return HouseholdId.parse(f"{building_text}-{room_text}")
    except UnknownHousehold:
        raise _RowProblem("bad_room", f"{building_text}-{room_text} is not a room",
                          f"{building_text}-{room_text}") from None


def _status(fields: tuple[str, ...], columns: dict[str, int], kind: str) -> bool:
    if kind == FULL:
        return True
    text = _cell(fields, columns["status"])
    if not text:
        raise _RowProblem("mixed_format", "no status, but other rows have one: in a status list "
                         "every row says 新增 (added) or 解除 (released); a full list has no "
                         "status column")
    under = STATUS_WORDS.get(re.sub(r"[\s_-]", "", text.lower()))
    if under is None:
        raise _RowProblem("bad_status", f"status {text!r}: use 新增 (added) or 解除 (released)",
                          text)
    return under


def _check_date(fields: tuple[str, ...], columns: dict[str, int], day: date | None) -> None:
    text = _cell(fields, columns.get("date"))
    if not text or day is None:
        return
    match = _DATE_RE.match(text.removesuffix("T00:00:00"))
    try:
        given = date(int(match[1] or day.year), int(match[2]), int(match[3])) if match else None
    except ValueError:
        given = None
    if given is None:
        raise _RowProblem("wrong_date", f"date {text!r} is not a date like {day.isoformat()}",
                          text)
    if given != day:
        raise _RowProblem("wrong_date", f"date {given.isoformat()} is not the list's day, "
                          f"{day.isoformat()}", given.isoformat())


# --- the difference and applying it ----------------------------------------------------------

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

    def summary(self) -> str:
        """The report for a terminal."""
        d = self.day_list
        what = {STATUS: "status list", FULL: "full list"}.get(d.format, "unreadable")
        out = [f"{d.name} ({what}, {d.encoding or '?'}, {d.lines} rows, sha256 "
               f"{d.sha256[:12]}) for {self.list_date.isoformat()}"
               + (f" from {self.source}" if self.source else "")]
        for label, entries in (("added", self.added), ("released", self.released)):
            out.append(f"{label} {len(entries)}" + (": " if entries else "") + ", ".join(
                e.household + (f" (line {e.line})" if e.line else " (not listed)")
                for e in entries))
        out.append(f"unchanged {len(self.unchanged)}")
        out.append(f"unknown {len(self.unknown)}" + (": " if self.unknown else "") + ", ".join(
            f"{e.household} (line {e.line})" for e in self.unknown))
        out += [f"problems {len(self.problems)}:"] * bool(self.problems)
        out += [f"  {p.message}" for p in self.problems]
        out.append(self._verdict())
        return "\n".join(out)

    def _verdict(self) -> str:
        changes = f"{len(self.added)} added, {len(self.released)} released"
        if self.applied:
            return f"applied as register entry {self.register_id}: {changes}"
        if self.already is not None:
            return (f"nothing to change: this list was applied by {self.already.actor} as "
                    f"register entry {self.already.id}")
        if not self.readable:
            return "nothing applied: the file cannot be read as a list"
        if self.stale:
            return "nothing applied: the register changed since this difference was shown"
        if self.dry_run:
            return "dry run, nothing changed" + (
                "; the list has problems: correct them, or apply the other rows with "
                "--apply-valid-rows" if self.problems else "")
        return ("nothing applied: the list has problems; correct them, or apply the other "
                "rows with --apply-valid-rows")


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
               confirm: bool = False, expected_diff: str | None = None) -> ListReport:
    """Show what a day's list changes; unless ``dry_run``, apply it in one transaction.

    Nothing applies from a file that cannot be read, nor, unless ``confirm``, from a list with
    problems (then the valid rows apply: the unknown, duplicate and conflicting ones do not).
    ``expected_diff`` (the ``diff_key`` the operator was shown) refuses to apply a difference
    that changed since. Bytes applied before as this day's list from this source that change
    nothing now are not recorded again.
    """
    day_list = read_list(data, name, list_date)
    report = ListReport(day_list, list_date, source.strip(), dry_run=dry_run, confirm=confirm)
    now = clock.now()
    with uow:
        diff_list(day_list, uow.households.all(), report)
        if dry_run or not report.readable or report.needs_confirmation:
            return report
        if not (report.added or report.released):
            report.already = uow.observation.last_applied(day_list.sha256, list_date,
                                                          report.source)
            if report.already is not None:  # a second click, or the same file again
                return report
        if expected_diff is not None and expected_diff != report.diff_key:
            report.stale = True
            return report
        uow.observation.keep_file(day_list.sha256, name, data, now, actor)
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
    """Keep a list's bytes for a later look and confirmation; return their SHA-256."""
    digest = sha256_of(data)
    with uow:
        uow.observation.keep_file(digest, name, data, clock.now(), actor)
    return digest


# --- comparing two lists ---------------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    """Where two lists for the same day disagree (a full list's rows count as added)."""

    a: DayList
    b: DayList
    only_in_a: tuple[Row, ...]
    only_in_b: tuple[Row, ...]
    differs: tuple[tuple[Row, Row], ...]
    agreed: int

    @property
    def same(self) -> bool:
        """The lists agree row for row, and neither has a problem that may hide a row."""
        return not (self.only_in_a or self.only_in_b or self.differs
                    or self.a.problems or self.b.problems)

    def as_json(self) -> dict[str, Any]:
        """The shape of ``shelf observation compare --json``."""
        def rows(found: Iterable[Row]) -> list[dict[str, Any]]:
            return [{"household": str(r.household), "status": _word(r.under), "line": r.line}
                    for r in found]

        return {
            "a": self.a.describe(), "b": self.b.describe(),
            "only_in_a": rows(self.only_in_a), "only_in_b": rows(self.only_in_b),
            "status_differs": [{"household": str(x.household), "a": _word(x.under),
                                "b": _word(y.under), "line_a": x.line, "line_b": y.line}
                               for x, y in self.differs],
            "agreed": self.agreed,
            "problems": {"a": [p.as_json() for p in self.a.problems],
                         "b": [p.as_json() for p in self.b.problems]},
            "same": self.same,
        }

    def summary(self) -> str:
        out = [f"A: {self.a.name} ({self.a.format or 'unreadable'}, {self.a.lines} rows)",
               f"B: {self.b.name} ({self.b.format or 'unreadable'}, {self.b.lines} rows)"]
        if self.a.format and self.b.format and self.a.format != self.b.format:
            out.append("the lists are of different kinds (status and full): rows are compared "
                       "as they stand, a full list's as added")
        out += [f"only in A: {r.household} {_word(r.under)} (line {r.line})"
                for r in self.only_in_a]
        out += [f"only in B: {r.household} {_word(r.under)} (line {r.line})"
                for r in self.only_in_b]
        out += [f"differs: {x.household}: A {_word(x.under)} (line {x.line}), B "
                f"{_word(y.under)} (line {y.line})" for x, y in self.differs]
        for label, day_list in (("A", self.a), ("B", self.b)):
            out += [f"problem in {label}: {p.message}" for p in day_list.problems]
        out.append(f"agreed on {self.agreed} households: "
                   + ("the lists agree" if self.same else "the lists disagree"))
        return "\n".join(out)


def compare_lists(a: DayList, b: DayList) -> Comparison:
    """Compare two lists for the same day, household by household."""
    in_a = {str(r.household): r for r in a.rows}
    in_b = {str(r.household): r for r in b.rows}
    both = [k for k in in_a if k in in_b]
    return Comparison(
        a, b,
        only_in_a=tuple(r for k, r in in_a.items() if k not in in_b),
        only_in_b=tuple(r for k, r in in_b.items() if k not in in_a),
        differs=tuple((in_a[k], in_b[k]) for k in both if in_a[k].under != in_b[k].under),
        agreed=sum(in_a[k].under == in_b[k].under for k in both))
