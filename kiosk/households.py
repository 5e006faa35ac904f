"""Import the household list from CSV: report what was added, changed and refused, and why."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Set
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from kiosk.domain import ROOM_RE, Household, HouseholdId
from kiosk.ports import UnitOfWork

COLUMNS = ("building", "room", "name", "phone", "email", "under_observation")
REQUIRED = ("building", "room")
TRUE_WORDS = {"yes", "y", "true", "1", "是"}
FALSE_WORDS = {"no", "n", "false", "0", "否", ""}
EMAIL_RE = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)

    def summary(self) -> str:
        lines = [f"added {len(self.added)}, changed {len(self.changed)}, "
                 f"unchanged {len(self.unchanged)}, refused {len(self.refused)}"]
        lines += [f"  line {line}: {reason}" for line, reason in self.refused]
        return "\n".join(lines)


def parse_row(row: dict[str, str], buildings: Set[int]) -> Household:
    """Turn one CSV row into a Household, or raise ValueError naming the bad field."""
    building_text = (row.get("building") or "").strip()
    if not building_text.isdigit():
        raise ValueError(f"building {building_text!r} is not a number")
    building = int(building_text)
    if building not in buildings:
        raise ValueError(f"building {building} is not in [community] buildings")
    room = (row.get("room") or "").strip().upper()
    if not ROOM_RE.match(room):
        raise ValueError(f"room {room!r}: use 1-6 letters or digits, e.g. 2304")
    email = (row.get("email") or "").strip()
    if email and not EMAIL_RE.match(email):
        raise ValueError(f"email {email!r} is not an e-mail address")
    flag = (row.get("under_observation") or "").strip().lower()
    if flag not in TRUE_WORDS | FALSE_WORDS:
        raise ValueError(f"under_observation {flag!r}: use yes or no")
    return Household(
        id=HouseholdId(building, room),
        name=(row.get("name") or "").strip(),
        phone=(row.get("phone") or "").strip(),
        email=email,
        under_observation=flag in TRUE_WORDS,
    )


def import_households(uow: UnitOfWork, buildings: Set[int], source: Path | str,
                      now: datetime, actor: str = "admin") -> ImportReport:
    """Load a CSV (UTF-8, header row) into the store in one transaction."""
    text = Path(source).read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown:
        raise ValueError(f"{source}: the header must name columns from {', '.join(COLUMNS)} "
                         f"(missing: {', '.join(missing) or 'none'}; "
                         f"unknown: {', '.join(unknown) or 'none'})")
    report = ImportReport()
    seen: dict[str, int] = {}
    with uow:
        for row in reader:
            line = reader.line_num
            try:
                household = parse_row(row, buildings)
            except ValueError as exc:
                report.refused.append((line, str(exc)))
                continue
            key = str(household.id)
            if key in seen:
                report.refused.append((line, f"{key} already given on line {seen[key]}"))
                continue
            seen[key] = line
            old = uow.households.get(household.id)
            if old is not None:  # a column the file leaves out keeps what we had
                kept = {c: getattr(old, c) for c in COLUMNS[2:] if c not in header}
                household = replace(household, **kept)
            outcome = uow.households.upsert(household, now)
            getattr(report, outcome if outcome != "same" else "unchanged").append(key)
        uow.events.add("households_imported", actor, now, source=Path(source).name,
                       added=len(report.added), changed=len(report.changed),
                       refused=len(report.refused))
    return report
