"""The household list: import it (preview what would change; apply only on request, whole), and
edit one household's name, phones and e-mail.

The file is CSV (UTF-8 with or without a BOM, GBK, UTF-16) or an Excel workbook (XLSX, its first
sheet), read by ``kiosk.csvfile``; a malformed file is refused whole. Its header names the
columns in English or Chinese (``COLUMN_NAMES``: 楼栋, 房号, 姓名, 电话, 邮箱, 居家观察).
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
writes the whole file in one transaction, and only when no row is refused, nor (with
``expected_diff``) when the difference is no longer the one shown (``diff_key``). A household whose
``under_observation`` changes changes through ``kiosk.observation.set_observation``, as every
such change does (released: its door task is cancelled and it gets its pickup code; put under
observation: its waiting parcels go to the door). Wherever the report is shown, contacts are
masked (``138****1234``, ``c***@example.org``).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterator, Mapping, Set
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from kiosk.clock import ManualClock
from kiosk.csvfile import column_key, parse_table, reading_of
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
from kiosk.errors import (
    HouseholdChanged,
    InvalidContact,
    InvalidEmail,
    InvalidName,
    InvalidPhone,
    UnknownHousehold,
)
from kiosk.observation import set_observation
from kiosk.observation_lists import BUILDING_NAMES, ROOM_NAMES
from kiosk.ports import UnitOfWork
from kiosk.services import Rules
from kiosk.sheets import CsvError

COLUMNS = ("building", "room", "name", "phone", "email", "under_observation")
REQUIRED = ("building", "room")
FIELDS = COLUMNS[2:]  # what a row may change
CONTACTS = {"phone": "phone", "email": "e-mail"}
TRUE_WORDS = {"yes", "y", "true", "1", "是"}
FALSE_WORDS = {"no", "n", "false", "0", "否", ""}
EMAIL_RE = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
# What a header may call each column, compared by ``column_key`` (NFKC, lower case, no spaces).
COLUMN_NAMES: dict[str, frozenset[str]] = {
    "building": BUILDING_NAMES,
    "room": ROOM_NAMES,
    "name": frozenset({"name", "姓名", "户主", "户主姓名", "住户姓名", "联系人"}),
    "phone": frozenset({"phone", "phones", "tel", "mobile", "电话", "手机", "手机号",
                        "手机号码", "电话号码", "联系电话"}),
    "email": frozenset({"email", "e-mail", "mail", "邮箱", "电子邮箱", "电子邮件", "邮件"}),
    "under_observation": frozenset({"under_observation", "observation", "居家观察",
                                    "是否居家观察", "隔离", "是否隔离"}),
}
PHONE_DIGITS = (7, 15)  # a landline without its area code .. the longest international number
PHONE_FILLERS = re.compile(r"[\s\-().]")  # what people type between a number's digits
MAX_PHONES = 8
MAX_NAME = 100
MAX_EMAIL = 254


REFUSALS = ("bad_building", "bad_room", "unknown_building", "bad_flag", "bad_phone", "bad_email",
            "bad_name", "duplicate")  # a refused row's kinds (each worded in kiosk.report_words)
CAUTIONS = ("shared_contact", "confusable_rooms", "unknown_column", "other_sheets")


@dataclass(frozen=True)
class Caution:
    """A row that is valid but may not say what was meant: check it before applying."""

    line: int | None
    kind: str  # one of CAUTIONS
    message: str  # in English, for --json; the command and the site word it from the fields
    household: str = ""  # the household the row gives the contact
    other: str = ""  # the household(s) that have it too; for a column, the one it may mean
    column: str = ""  # phone or email
    text: str = ""  # the contact, masked; or the column's name, or the other sheets


@dataclass(frozen=True)
class Refusal:
    """A row the import refuses, and why."""

    line: int
    kind: str  # one of REFUSALS
    message: str  # in English, for --json; the command and the site word it from the fields
    text: str = ""  # what the row said (a contact masked); for a duplicate, its household
    other: str = ""  # for a duplicate, the line that gave the household first


class RowRefused(ValueError):
    """A row that cannot be imported: ``kind`` and ``text`` word the reason (a Refusal)."""

    def __init__(self, kind: str, message: str, text: str = "") -> None:
        super().__init__(message)
        self.kind, self.text = kind, text


@dataclass
class ImportReport:
    """What a household list changes (or changed), row by row, contacts masked where shown."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    warnings: list[Caution] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)  # household -> its line in the file
    diffs: dict[str, dict[str, tuple[Any, Any]]] = field(default_factory=dict)  # before, after
    apply: bool = False  # asked for
    applied: bool = False
    encoding: str = ""
    name: str = ""  # the file's
    sha256: str = ""  # of the file's bytes
    stale: bool = False  # not applied: the difference is not the one that was shown
    planned: dict[str, Household] = field(default_factory=dict, repr=False)  # as it would be

    @property
    def diff_key(self) -> str:
        """A short fingerprint of this difference: what the operator saw is what applies."""
        seen = [self.sha256, self.added, [(r.line, r.message) for r in self.refused],
                self.diffs, [asdict(self.planned[k]) for k in self.added if k in self.planned]]
        return hashlib.sha256(json.dumps(seen, sort_keys=True, default=str).encode()
                              ).hexdigest()[:16]

    @property
    def verdict(self) -> str:
        """What became of the list: ``applied``; ``stale`` (it changed since the preview
        shown), ``refused`` (rows refused: nothing applied), or ``preview`` (not asked to)."""
        if self.applied:
            return "applied"
        if self.stale:
            return "stale"
        return "refused" if self.apply else "preview"

    def shown(self, key: str) -> dict[str, dict[str, Any]]:
        """A changed household's fields, before and after, contacts masked."""
        return {name: {"before": _shown(name, before), "after": _shown(name, after)}
                for name, (before, after) in self.diffs[key].items()}

    def as_json(self) -> dict[str, Any]:
        """The report for tools (``--json``), contacts masked."""
        def rows(keys: list[str]) -> list[dict[str, Any]]:
            return [{"line": self.lines[k], "household": k} for k in keys]

        return {
            "added": rows(self.added),
            "changed": [{**row, "fields": self.shown(row["household"])}
                        for row in rows(self.changed)],
            "unchanged": rows(self.unchanged),
            "refused": [{"line": r.line, "reason": r.message, "kind": r.kind}
                        for r in self.refused],
            "warnings": [{"line": w.line, "kind": w.kind, "message": w.message}
                         for w in self.warnings],
            "applied": self.applied,
            "encoding": self.encoding,
            "sha256": self.sha256,
            "diff_key": self.diff_key,
        }


def _shown(name: str, value: Any) -> Any:
    if name == "phone":
        return mask_phone(value)
    return mask_email(value) if name == "email" else value


def parse_row(row: Mapping[str, str], buildings: Set[int]) -> Household:
    """Turn one row into a Household, or raise RowRefused naming the bad field."""
    building_text = (row.get("building") or "").strip()
    if not building_text.isdigit():
        raise RowRefused("bad_building", f"building {building_text!r} is not a number",
                         building_text)
    room_text = (row.get("room") or "").strip()
    room = canonical_room(room_text)
    if room is None:
        raise RowRefused("bad_room", f"room {room_text!r}: use 1-6 letters or digits, e.g. 2304",
                         room_text)
    household = HouseholdId.parse(f"{building_text}-{room}")  # the one rule for ids
    if household.building not in buildings:
        raise RowRefused("unknown_building", f"building {household.building} is not in "
                         "[community] buildings", str(household.building))
    flag = (row.get("under_observation") or "").strip().lower()
    if flag not in TRUE_WORDS | FALSE_WORDS:
        raise RowRefused("bad_flag", f"under_observation {flag!r}: use yes or no", flag)
    try:
        return Household(id=household, name=checked_name(row.get("name") or ""),
                         phone=checked_phones(row.get("phone") or ""),
                         email=checked_email(row.get("email") or ""),
                         under_observation=flag in TRUE_WORDS)
    except InvalidContact as exc:
        raise RowRefused(exc.code, str(exc), exc.shown) from None


def checked_phones(text: str) -> str:
    """A phone column as stored (``join_phones``), or InvalidPhone naming the number, masked."""
    phones = split_phones(text)
    if len(phones) > MAX_PHONES:
        raise InvalidPhone(f"{len(phones)} phone numbers: at most {MAX_PHONES}",
                           shown=str(len(phones)))
    low, high = PHONE_DIGITS
    for phone in phones:
        digits = PHONE_FILLERS.sub("", phone).removeprefix("+")
        if not (digits.isascii() and digits.isdigit() and low <= len(digits) <= high):
            shown = mask_phone(phone)
            raise InvalidPhone(f"phone {shown!r} is not a phone number: use {low} to {high} "
                               "digits (spaces, '-' and a leading '+' may stay); separate "
                               "several numbers with ';'", shown=shown)
    return join_phones(text)


def checked_email(text: str) -> str:
    """An e-mail address as stored (trimmed; empty: none), or InvalidEmail."""
    email = text.strip()
    if email and (len(email) > MAX_EMAIL or not EMAIL_RE.match(email)):
        shown = mask_email(email)
        raise InvalidEmail(f"e-mail {shown!r} is not an e-mail address like "
                           "chen@example.org", shown=shown)
    return email


def checked_name(text: str) -> str:
    """A name as stored (trimmed), or InvalidName: too long, or with control characters."""
    name = text.strip()
    if len(name) > MAX_NAME:
        raise InvalidName(f"the name has {len(name)} characters: at most {MAX_NAME}",
                          shown=str(len(name)))
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise InvalidName("the name has a line break or another control character: "
                          "type it on one line", shown="")
    return name


def import_households(uow: UnitOfWork, buildings: Set[int], source: Path | str,
                      now: datetime, actor: str = "admin", *, apply: bool,
                      rules: Rules, data: bytes | None = None, reading: str | None = None,
                      expected_diff: str | None = None) -> ImportReport:
    """Compare a list with the stored households; with ``apply``, store it in one transaction.

    ``source`` is the file (read here), or its name when its bytes are given in ``data`` (an
    upload; ``reading``: what they read as when uploaded). Nothing is stored when any row is
    refused, nor when ``expected_diff`` is given and is not this difference's ``diff_key`` (the
    list or the households changed since the preview).
    A column the file leaves out keeps what was known. ``rules`` are what a change of
    observation state needs (``set_observation``), recorded as ``actor``'s.
    """
    name = Path(source).name
    if data is None:
        data = Path(source).read_bytes()
    table = parse_table(data, name, reading)
    header = _canonical_header(table.header, name)
    report = ImportReport(apply=apply, encoding=table.encoding, name=name,
                          sha256=hashlib.sha256(data).hexdigest())
    report.warnings += _header_cautions(header, table.rows, name)
    if table.other_sheets:
        sheets = ", ".join(table.other_sheets)
        report.warnings.append(Caution(None, "other_sheets", f"the workbook has more sheets "
                                       f"({sheets}): only the first is read; put the whole "
                                       "list on the first sheet", text=sheets))
    with uow:
        known = {str(h.id): h for h in uow.households.all()}
        for line, fields in table.rows:
            row = dict(zip(header, fields, strict=True))
            try:
                household = parse_row(row, buildings)
            except RowRefused as exc:
                report.refused.append(Refusal(line, exc.kind, str(exc), exc.text))
                continue
            key = str(household.id)
            if key in report.lines:
                first = report.lines[key]
                report.refused.append(Refusal(line, "duplicate", f"{key} already given on line "
                                              f"{first}", key, str(first)))
                continue
            report.lines[key] = line
            old = known.get(key)
            if old is not None:
                household = replace(household, **{c: getattr(old, c) for c in FIELDS
                                                  if c not in header})
            report.planned[key] = household
            _classify(report, key, old, household)
        report.warnings += _contact_cautions(known, report.planned, report.lines)
        if expected_diff is not None and expected_diff != report.diff_key:
            report.stale = True
        elif apply and not report.refused:
            for key in report.added + report.changed:
                _store(uow, known.get(key), report.planned[key], now, actor, rules)
            uow.events.add("households_imported", actor, now, source=name,
                           sha256=report.sha256, added=len(report.added),
                           changed=len(report.changed), unchanged=len(report.unchanged))
            report.applied = True
    return report


def keep_upload(data: bytes, name: str, uow: UnitOfWork, now: datetime, *, actor: str) -> str:
    """Keep an uploaded list's bytes, and what they read as, for its preview and confirmation;
    return their SHA-256. ListTooLarge (nothing kept) for a file larger than any list."""
    reading = reading_of(data, name)
    digest = hashlib.sha256(data).hexdigest()
    with uow:
        uow.households.files.keep(digest, name, data, reading, now, actor)
    return digest


def _canonical_header(header: tuple[str, ...], name: str) -> tuple[str, ...]:
    """The header with each column the import knows under its English name (``COLUMNS``)."""
    canonical = tuple(next((column for column, names in COLUMN_NAMES.items()
                            if column_key(text) in names), text) for text in header)
    for column in COLUMNS:
        given = [text for text, c in zip(header, canonical, strict=True) if c == column]
        if len(given) > 1:
            raise CsvError(f"{name}: the columns {' and '.join(map(repr, given))} both give "
                           f"{column}: keep one")
    return canonical


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
                                f"({', '.join(COLUMNS)}): its values are ignored{hint}",
                                other=near[0] if near else "",
                                text=column or f"#{index + 1}"))
    return cautions


def _contact_cautions(known: Mapping[str, Household], planned: Mapping[str, Household],
                      lines: Mapping[str, int | None]) -> list[Caution]:
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
                cautions.append(Caution(lines[key], "confusable_rooms", message, key, near[0],
                                        column, shown))
            elif holders := [k for k in others if k in has.get(value, [])]:
                message = f"the {label} {shown} would be on {key} and {', '.join(holders)}"
                cautions.append(Caution(lines[key], "shared_contact", message, key,
                                        ", ".join(holders), column, shown))
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


# --- one household, edited on the staff site ---------------------------------------------------

EDITABLE = ("name", "phone", "email")


@dataclass(frozen=True)
class Edit:
    """A household after an edit: the fields changed (contacts masked) and what to check."""

    household: Household
    changed: dict[str, tuple[str, str]]  # field -> (before, after), contacts masked
    cautions: list[Caution]


def contact_version(household: Household) -> str:
    """A fingerprint of a household's name, phones and e-mail, carried by the edit form."""
    values = [getattr(household, c) for c in EDITABLE]
    return hashlib.sha256(json.dumps(values).encode()).hexdigest()[:16]


def edit_household(uow: UnitOfWork, household: HouseholdId | str, *, name: str, phone: str,
                   email: str, now: datetime, actor: str, seen: str | None = None) -> Edit:
    """Store a household's name, phones (``;``-separated) and e-mail as staff typed them.

    Each is checked first: InvalidName, InvalidPhone or InvalidEmail, and nothing is stored.
    UnknownHousehold for a flat not in the list; HouseholdChanged when ``seen`` (its
    ``contact_version`` when the form was shown) is not its version any more: someone else
    edited it meanwhile. The observation state is not edited here: it changes through
    ``kiosk.observation.set_observation`` alone. A change is an event, ``household_edited``,
    naming ``actor`` and the fields changed (contacts masked). A contact that another household
    has too is a caution, as in the import (a room easily confused: most likely a typo).
    """
    target = household if isinstance(household, HouseholdId) else HouseholdId.parse(household)
    values = {"name": checked_name(name), "phone": checked_phones(phone),
              "email": checked_email(email)}
    key = str(target)
    with uow:
        old = uow.households.get(target)
        if old is None:
            raise UnknownHousehold(f"{target.masked()} is not in the household list",
                                   given=str(target))
        if seen is not None and seen != contact_version(old):
            raise HouseholdChanged(f"{target.masked()} was changed by someone else since this "
                                   "form was shown: look at it again, then edit")
        new = replace(old, **values)
        changed = {c: (_shown(c, getattr(old, c)), _shown(c, getattr(new, c)))
                   for c in EDITABLE if getattr(old, c) != getattr(new, c)}
        known = {str(h.id): h for h in uow.households.all()}
        if changed:
            uow.households.upsert(new, now)
            masked = {c: list(changed[c]) for c in CONTACTS if c in changed}
            uow.events.add("household_edited", actor, now, household=key,
                           fields=list(changed), **masked)
    cautions = _contact_cautions(known, {key: new}, {key: None}) if changed else []
    return Edit(new, changed, cautions)
