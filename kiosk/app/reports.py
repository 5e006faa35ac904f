"""How the `shelf` command says the core's reports, in the operator's language.

The core returns data (counts, rows, refusals and problems by kind); these put it in lines:
the framing is the catalogue's ``shelf`` domain (``report_*``), each refused row, warning and
problem the ``core`` domain's, said the same on the staff site (``kiosk.report_words``).
``--json`` prints the reports' ``as_json`` instead, the same in every language.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

from kiosk.app.words import language, say
from kiosk.config import roles_allowed
from kiosk.report_words import (
    caution_text,
    field_name,
    line_text,
    near_text,
    problem_text,
    refusal_text,
)
from kiosk.staff import ROLES

if TYPE_CHECKING:
    from kiosk.households import ImportReport
    from kiosk.notices.delivery import DeliveryReport
    from kiosk.observation_lists import Comparison, DayList, Problem
    from kiosk.observation_register import Entry, ListReport
    from kiosk.staff import ConfigImport

WIDTH = 96  # a long list of households wraps, its next lines indented


def household_counts(report: ImportReport) -> str:
    """``added 3, changed 1, unchanged 40, refused 0, warnings 0``."""
    return say("report_households_counts", added=len(report.added),
               changed=len(report.changed), unchanged=len(report.unchanged),
               refused=len(report.refused), warnings=len(report.warnings))


def household_import(report: ImportReport) -> str:
    """`shelf households import`: counts, then what it adds, changes and refuses, and why."""
    out = [household_counts(report)]
    if report.added:
        out.append(textwrap.fill(say("report_households_added", households=_listed(
            report.added)), WIDTH, subsequent_indent="  "))
    if report.changed:
        out.append(say("report_households_changed"))
        out += ["  " + line_text(report.lines[key], language()) + say(
            "report_households_change", household=key, fields=say(
                "report_households_fields_sep").join(
                    say("report_households_field_change", field=field_name(name, language()),
                        before=_value(v["before"]), after=_value(v["after"]))
                    for name, v in report.shown(key).items()))
            for key in report.changed]
    if report.refused:
        out.append(say("report_households_refused"))
        out += ["  " + refusal_text(r, language()) for r in report.refused]
    if report.warnings:
        out.append(say("report_households_warnings"))
        out += ["  " + caution_text(w, language()) for w in report.warnings]
    out.append(say(f"report_households_verdict_{report.verdict}", added=len(report.added),
                   changed=len(report.changed)))
    return "\n".join(out)


def observation_list(report: ListReport) -> str:
    """`shelf observation apply`: the list, what it changes, its problems, what was done."""
    d = report.day_list
    source = say("report_observation_source", source=report.source) if report.source else ""
    out = [say("report_observation_file", file=d.name, format=_format(d),
               encoding=d.encoding or "?", rows=d.lines, sha256=d.sha256[:12],
               date=report.list_date.isoformat()) + source]
    for what, entries, named in (("added", report.added, True),
                                 ("released", report.released, True),
                                 ("unchanged", report.unchanged, False),  # only counted
                                 ("unknown", report.unknown, True)):
        said = say(f"report_observation_{what}", count=len(entries))
        out.append(say("report_observation_entries", what=said, entries=_listed(
            map(_entry, entries))) if named and entries else said)
    if report.problems:
        out.append(say("report_observation_problems", count=len(report.problems)))
        out += ["  " + _problem(p, report.list_date.isoformat()) for p in report.problems]
    verdict = report.verdict
    if verdict == "dry_run" and report.problems:
        verdict = "dry_run_problems"
    already = report.already
    out.append(say(f"report_observation_verdict_{verdict}", added=len(report.added),
                   released=len(report.released),
                   id=already.id if already else report.register_id,
                   actor=already.actor if already else ""))
    return "\n".join(out)


def comparison(found: Comparison) -> str:
    """`shelf observation compare`: where lists A and B disagree, and their problems."""
    a, b = found.a, found.b
    out = [say("report_compare_list", label=label, file=d.name, format=_format(d), rows=d.lines)
           for label, d in (("A", a), ("B", b))]
    if a.format and b.format and a.format != b.format:
        out.append(say("report_compare_kinds"))
    out += [say("report_compare_only", label=label, household=r.household,
                status=_status(r.under), line=r.line)
            for label, rows in (("A", found.only_in_a), ("B", found.only_in_b)) for r in rows]
    out += [say("report_compare_differs", household=x.household, a=_status(x.under),
                line_a=x.line, b=_status(y.under), line_b=y.line) for x, y in found.differs]
    out += [say("report_compare_problem", label=label, problem=_problem(p))
            for label, d in (("A", a), ("B", b)) for p in d.problems]
    out.append(say("report_compare_same" if found.same else "report_compare_differ",
                   agreed=found.agreed))
    return "\n".join(out)


def staff_import(report: ConfigImport) -> str:
    """`shelf users import-config`: which of the config's accounts were copied, which not."""
    added = (say("report_staff_added_names", count=len(report.added),
                 names=_listed(report.added)) if report.added
             else say("report_staff_added", count=0))
    parts = [added, say("report_staff_kept", count=len(report.kept))]
    parts += [say("report_staff_refused", username=r.username,
                  why=say(f"report_staff_refused_{r.kind}", text=r.text,
                          roles=roles_allowed(ROLES)))
              for r in report.refused]
    return say("report_staff_line", parts=say("report_staff_sep").join(parts))


def notices_pass(report: DeliveryReport) -> str:
    """`shelf notices --once`: sent, to retry, given up."""
    return say("report_notices_pass", sent=report.sent, retried=report.retried,
               failed=report.failed)


def _listed(items: Any) -> str:
    return say("report_list_sep").join(map(str, items))


def _value(value: Any) -> str:
    """A field's value as shown: yes or no, quoted text, or that it is empty."""
    if isinstance(value, bool):
        return say("report_households_yes" if value else "report_households_no")
    return say("report_households_value", value=value) if value else say(
        "report_households_empty")


def _format(day_list: DayList) -> str:
    return say(f"report_observation_format_{day_list.format or 'none'}")


def _status(under: bool) -> str:
    return say("report_observation_status_added" if under else
               "report_observation_status_released")


def _entry(entry: Entry) -> str:
    if entry.line is None:  # released because a full list does not name it
        return say("report_observation_unlisted", household=entry.household)
    return say("report_observation_entry", household=entry.household, line=entry.line)


def _problem(problem: Problem, day: str = "") -> str:
    """A problem's words; an unknown room with the rooms it may mean, an unreadable file with
    what the reader said."""
    said = problem_text(problem, language(), day)
    if problem.kind == "unknown_room" and problem.text:
        said = say("report_observation_near", problem=said,
                   near=near_text(problem.text, language()))
    if problem.kind == "unreadable":
        said = say("report_observation_detail", problem=said, detail=problem.message)
    return said


def counted_line(counts: dict[str, object]) -> str:
    """`checked in 3, delivered 1`: a row of `shelf counts`, names (person, team) left out."""
    return say("count_sep").join(say("count_pair", what=say(f"count_{k}"), n=v)
                                 for k, v in counts.items() if k not in ("person", "team", "gate"))
