"""The day's observation list: read it (CSV or XLSX), report its problems, compare two lists.

A list comes as CSV (UTF-8, UTF-8 with a BOM, or GBK: ``kiosk.csvfile``) or as an Excel
workbook (XLSX, its first sheet). Its header, on the first line or below a title, names the
household by a ``户号``/``household`` column (``24-2304``, ``24栋2304室``) or by ``楼栋``/
``building`` and ``房号``/``room``. It is one of two kinds:

- a **status list**: a ``状态``/``status`` column says, per household, ``新增``/``added`` (put
  under observation) or ``解除``/``released`` (and the obvious synonyms, ``STATUS_WORDS``);
- a **full list**: no status column; everyone listed is under observation that day and
  everyone else is released.

``read_list`` never raises: every problem is reported with its line (None: the whole file), a
malformed file or a wrong encoding, no household column, a room given twice, a household both
added and released (neither counts), a bad room or status, a status list row without a status
(a mix of the two kinds), a date that is not the list's, more sheets in a workbook. What a list
changes, and applying it, is ``kiosk.observation_register``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from kiosk.csvfile import column_key, read_sheet
from kiosk.domain import HouseholdId
from kiosk.errors import UnknownHousehold
from kiosk.sheets import SAVE_AS, CsvError, ListTooLarge

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
FILE_LEVEL = frozenset({"unreadable", "encoding", "too_large", "no_columns", "empty"})
# Every kind of problem a list can have (each worded in kiosk.report_words): the whole file's,
# a row's, and those the register finds comparing a list with the households.
PROBLEMS = ("unreadable", "encoding", "too_large", "no_columns", "empty", "other_sheets",
            "bad_room", "bad_status", "mixed_format", "wrong_date", "duplicate", "conflict",
            "unknown_room", "held")

_HOUSEHOLD_RE = re.compile(r"(\d{1,3})\s*(?:号楼|栋|幢|#|-|/)\s*-?\s*([0-9A-Za-z]{1,6})\s*"
                           r"(?:室|号|房)?$")
_BUILDING_RE = re.compile(r"^(\d{1,3})\s*(?:号楼|栋|幢|#|号)?$")
_ROOM_RE = re.compile(r"^([0-9A-Za-z]{1,6})\s*(?:室|号|房)?$")
_DATE_RE = re.compile(r"^(?:(\d{4})\s*[-/.年]\s*)?(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")


@dataclass(frozen=True)
class Problem:
    """A line (None: the whole file) that keeps the list from applying as it is."""

    line: int | None
    kind: str  # one of PROBLEMS
    message: str  # in English, for --json; the command and the site word it from the fields
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

def read_list(data: bytes, name: str, day: date | None = None,
              reading: str | None = None) -> DayList:
    """Read a day's list from its bytes; every problem is reported, nothing is raised.

    ``day`` is the day the list is for: a date column that names another day is a problem.
    ``reading`` is what the bytes read as when uploaded (``kiosk.csvfile.reading_of``).
    """
    digest = sha256_of(data)
    try:
        records, encoding, other_sheets = sheet_records(data, name, reading)
    except ListTooLarge as exc:
        return DayList(name, digest, "", "", (), (Problem(None, "too_large", str(exc),
                                                          text=exc.kind),))
    except CsvError as exc:
        kind = "encoding" if "not UTF-8 or GBK" in str(exc) else "unreadable"
        return DayList(name, digest, "", "", (), (Problem(None, kind, str(exc)),))
    problems: list[Problem] = []
    if other_sheets:
        shown = ", ".join(other_sheets)
        problems.append(Problem(None, "other_sheets", f"the workbook has more sheets ({shown}): "
                                "only the first is read; put the whole list on the first sheet",
                                text=shown))
    found = header_row(records)
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


def sheet_records(data: bytes, name: str, reading: str | None
             ) -> tuple[list[tuple[int, tuple[str, ...]]], str, list[str]]:
    """The non-blank rows (line, fields as text) of a CSV file or a workbook's first sheet, its
    encoding, and the names of any later sheets that hold something (they are not read)."""
    sheet = read_sheet(data, name, reading)
    records = [(line, tuple(cell_text(f) for f in fields)) for line, fields in sheet.records]
    return records, sheet.encoding, list(sheet.other_sheets)


def cell_text(value: str) -> str:
    """A cell as compared: full-width digits and letters made plain, spaces trimmed."""
    return unicodedata.normalize("NFKC", value).strip()


def header_row(records: Sequence[tuple[int, tuple[str, ...]]]
               ) -> tuple[int, dict[str, int]] | None:
    """(index of the header row, canonical column -> position) for the first row naming a
    household or a building and a room, among the first few (titles may stand above it)."""
    for index, (_, fields) in enumerate(records[:TITLE_ROWS + 1]):
        columns: dict[str, int] = {}
        for position, text in enumerate(fields):
            for column, names in (("household", HOUSEHOLD_NAMES), ("building", BUILDING_NAMES),
                                  ("room", ROOM_NAMES), ("status", STATUS_NAMES),
                                  ("date", DATE_NAMES)):
                if column_key(text) in names:
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
