"""Say the core's import reports in a language: each refused row, warning and problem by its
kind, for `shelf` and the staff site alike.

The reports (``kiosk.households``, ``kiosk.observation_lists``, ``kiosk.observation_register``)
carry each one as data, a stable ``kind`` and its fields, with an English ``message`` for
``--json``. The words are the catalogue's ``core`` domain (``report_households_*``,
``report_observation_*``): one sentence per kind, whoever shows it. A kind without words
(added to the core but not yet to the catalogue) is said by its English message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kiosk.catalogue import catalogue

if TYPE_CHECKING:
    from kiosk.households import Caution, Refusal
    from kiosk.observation_lists import Problem


def refusal_text(refusal: Refusal, language: str) -> str:
    """``Line 5: room “01 01”: use 1-6 letters or digits``: a row the household import refuses."""
    why = _said(language, f"report_households_refused_{refusal.kind}", refusal.message,
                text=refusal.text, other=refusal.other)
    return line_text(refusal.line, language) + why


def caution_text(caution: Caution, language: str) -> str:
    """A warning of the household import (or of an edit: no line), from its fields."""
    near = "_near" if caution.kind == "unknown_column" and caution.other else ""
    column = field_name(caution.column, language) if caution.column else ""
    said = _said(language, f"report_households_warn_{caution.kind}{near}", caution.message,
                 household=caution.household, other=caution.other, text=caution.text,
                 column=column)
    return (line_text(caution.line, language) if caution.line else "") + said


def field_name(name: str, language: str) -> str:
    """A household's field as said in a sentence: ``phone``, 电话."""
    return _said(language, f"report_households_field_{name}", name)


def problem_text(problem: Problem, language: str, day: str = "") -> str:
    """A day list's problem (``day``: the list's, for a date that is not it)."""
    return _said(language, f"report_observation_problem_{problem.kind}", problem.message,
                 line=problem.line, household=problem.household, other=problem.other_line,
                 text=problem.text, date=day)


def near_text(rooms: str, language: str) -> str:
    """``Easily confused with: 24-2304``: the rooms an unknown one may mean."""
    return _said(language, "report_observation_near", rooms, rooms=rooms)


def line_text(line: int, language: str) -> str:
    return _said(language, "report_line", f"line {line}: ", line=line)


def _said(language: str, key: str, otherwise: str, **values: Any) -> str:
    words = catalogue("core")
    return words.say(language, key, **values) if key in words else otherwise
