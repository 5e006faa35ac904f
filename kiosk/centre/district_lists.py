"""The district's observation list: one file for every compound, each compound given its rows.

The sub-district's list is a compound's list (楼栋/房号 or 户号, 状态, 日期) with one more
column naming the compound, by its id or its name (小区, 名称 ...). It is split by that
column into one list per compound, in the file's own order, and each is applied by the very
path a compound's list takes (``kiosk.centre.lists.apply_observation_at_centre``: the same
register, the same commands to the gates, ``set_observation`` at each gate). A room unknown in
its compound is a problem of that compound's list, named by the line of the district's file.
A name two compounds share names neither (use the id). A compound named by no row is left
alone (a list of those under observation would otherwise release everyone there); a row
naming no known compound is a problem of the district's file, and nothing applies while there
is one, unless ``confirm`` (then the others apply).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import psycopg

from kiosk.centre.district import compounds
from kiosk.centre.lists import apply_observation_at_centre
from kiosk.csvfile import column_key
from kiosk.observation_lists import cell_text, header_row, sheet_records
from kiosk.services import Rules
from kiosk.sheets import CsvError

COMPOUND_NAMES = frozenset({"compound", "community", "estate", "小区", "小区名称", "小区名",
                            "名称", "社区", "居住区"})


@dataclass
class CompoundPart:
    """One compound's rows of the district's list, as a list of its own."""

    community: str
    data: bytes
    lines: dict[int, int]  # the part's line -> the district file's line
    report: Any = None  # its ListReport, once compared or applied
    issued: list[Any] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        shown = _relined(self.report.as_json(), self.lines)
        return {"community": self.community, "rows": len(self.lines), **shown,
                "commands": [i.as_json() for i in self.issued]}


@dataclass
class DistrictListReport:
    """What a district's list does in each compound, and the rows that name no compound."""

    name: str
    list_date: date
    dry_run: bool
    parts: list[CompoundPart]
    problems: list[dict[str, Any]]  # {"line", "kind", "text"}: the district file's own

    @property
    def ok(self) -> bool:
        """Nothing left undone: every part applied (or, dry, would apply) as it is."""
        if self.dry_run:
            return not self.problems and all(p.report.readable and not p.report.problems
                                             for p in self.parts)
        return bool(self.parts) and all(p.report.applied or p.report.already
                                        for p in self.parts)

    def as_json(self) -> dict[str, Any]:
        return {"file": self.name, "date": self.list_date.isoformat(), "dry_run": self.dry_run,
                "problems": self.problems, "compounds": [p.as_json() for p in self.parts]}


def _relined(value: Any, lines: dict[int, int]) -> Any:
    """A report's JSON with each ``line``/``other_line`` turned into the district file's."""
    if isinstance(value, list):
        return [_relined(v, lines) for v in value]
    if isinstance(value, dict):
        return {k: lines.get(v, v) if k in ("line", "other_line") and isinstance(v, int)
                else _relined(v, lines) for k, v in value.items()}
    return value


def split_list(data: bytes, name: str, known: list[dict[str, Any]]
               ) -> tuple[list[CompoundPart], list[dict[str, Any]]]:
    """The district's list as one CSV per compound it names (header and rows kept, the
    compound column left out), and the rows that name no known compound."""
    try:
        records, _, _ = sheet_records(data, name, None)
    except CsvError as exc:
        return [], [{"line": None, "kind": "unreadable", "text": str(exc)}]
    found = header_row(records)
    column = None if found is None else next(
        (i for i, text in enumerate(records[found[0]][1]) if column_key(text) in COMPOUND_NAMES),
        None)
    if found is None or column is None:
        return [], [{"line": None, "kind": "no_compound_column",
                     "text": "name the compound in a column (小区 or compound: its id or name)"}]
    names: dict[str, set[str]] = {}
    for c in known:
        names.setdefault(cell_text(c["name"]), set()).add(c["id"])
    # An id names its compound; a name only when no other compound has it too.
    by_name = {n: ids.pop() for n, ids in names.items() if n and len(ids) == 1} | {
        c["id"]: c["id"] for c in known}
    shared = {n for n, ids in names.items() if len(ids) > 1}
    header = [f for i, f in enumerate(records[found[0]][1]) if i != column]
    rows: dict[str, list[tuple[int, list[str]]]] = {}
    problems = []
    for line, fields in records[found[0] + 1:]:
        if not any(fields):
            continue
        said = fields[column] if column < len(fields) else ""
        community = by_name.get(said) or by_name.get(said.lower())
        if community is None:
            problems.append({"line": line, "kind": "ambiguous_compound" if said in shared
                             else "unknown_compound", "text": said})
            continue
        rows.setdefault(community, []).append(
            (line, [f for i, f in enumerate(fields) if i != column]))
    parts = []
    for community in sorted(rows):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(header)
        lines = {}
        for number, (line, fields) in enumerate(rows[community], start=2):
            writer.writerow(fields)
            lines[number] = line
        parts.append(CompoundPart(community, out.getvalue().encode("utf-8"), lines))
    return parts, problems


def apply_district_list(conn: psycopg.Connection, name: str, data: bytes, now: datetime, *,
                        list_date: date, source: str, actor: str, rules: Rules,
                        confirm: bool = False, dry_run: bool = False) -> DistrictListReport:
    """Compare (``dry_run``) or apply a district's list, compound by compound; with a problem
    anywhere nothing applies unless ``confirm`` (then each compound's valid rows do)."""
    parts, problems = split_list(data, name, compounds(conn))
    report = DistrictListReport(name, list_date, dry_run, parts, problems)
    for part in parts:  # first every compound's difference, nothing applied
        part.report, _ = apply_observation_at_centre(
            conn, part.community, name, part.data, now, list_date=list_date, source=source,
            actor=actor, rules=rules, dry_run=True)
    if dry_run or ((problems or any(p.report.problems for p in parts)) and not confirm):
        return report
    for part in parts:
        part.report, part.issued = apply_observation_at_centre(
            conn, part.community, name, part.data, now, list_date=list_date, source=source,
            actor=actor, rules=rules, confirm=confirm)
    return report
