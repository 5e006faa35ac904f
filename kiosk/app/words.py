"""The `shelf` command's words for people, in Chinese and English: the catalogue's ``shelf``
domain (``kiosk/locale/shelf.pot`` and ``zh/LC_MESSAGES/shelf.po``, see ``kiosk.catalogue``),
and the ``core`` domain for what the core refuses (``why_<code>``) and for what the command
and the site both say of an import. Every key exists in both languages, with the same
``{name}`` placeholders (tests/test_catalogue.py checks).

The language is the operator's, not the residents': ``--lang``, else ``SHELF_LANG``, else the
terminal's locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG`` starting with ``zh``), else English.
``[community] language`` is left out on purpose: it is what residents' screens, labels and
notices start in, and scripts reading a command's lines must not change language because the
compound's config did. Scripts should read ``--json`` anyway: those outputs are contracts and
are the same in every language.

``--help`` and argparse's own usage errors are said in it too: the language is chosen before
the parser is built (``early_language``), and argparse's messages are answered through its
gettext hook (``speak_argparse``, the ``argparse_*`` keys).

What stays English: the log lines (for journals and grep), and in English the text of the
core's errors (``kiosk.errors``, with its details). Those carry a stable ``code``; in Chinese
a refusal is said from its code (the core domain's ``why_<code>``, every code has one), and
`shelf backup`/`restore` word theirs from the ``words`` key the core attaches. `shelf doctor`'s
findings are keys too: their English is the ``--json`` ``detail``. Role names are the core
domain's ``role_<id>`` (accepted as typed in Chinese: ``--role 居委会``). What a driver, the OS
or SQLite says inside a line (an errno, "file is not a database") is kept as it said it.

The reports of imports and passes (`shelf init`'s counts, `households import`, `observation
apply` and `compare`, `users import-config`, `notices --once`) are data in the core; the
command says them (``kiosk.app.reports``: the ``report_*`` keys), each refused row, warning
and problem from its ``kind`` (``kiosk.report_words``, the core domain's ``report_*``, as the
site says them). Their English ``message`` stays in ``--json`` (a contract) and in the log
line of a start that copies ``[[web.users]]`` (``ConfigImport.summary``); what a file reader
said of an unreadable list is shown beside its words, as it said it. `shelf demo`'s
narration stays English.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from kiosk.catalogue import LANGUAGES, SOURCE, Catalogue, catalogue

_language = "en"


def choose_language(asked: str | None, env: Mapping[str, str] = os.environ) -> str:
    """``--lang``, else ``SHELF_LANG``, else a ``zh`` locale, else English."""
    shelf_lang = env.get("SHELF_LANG", "").strip()
    if asked:
        return asked
    if shelf_lang:
        if shelf_lang not in LANGUAGES:
            raise ValueError(f"SHELF_LANG={shelf_lang!r}: give zh or en (or unset it)")
        return shelf_lang
    locale = env.get("LC_ALL") or env.get("LC_MESSAGES") or env.get("LANG") or ""
    return "zh" if locale.lower().startswith("zh") else "en"


def early_language(argv: Sequence[str], env: Mapping[str, str] = os.environ) -> str:
    """The language to build the command's parser in, before argparse has read ``--lang``:
    its --help and usage errors are said in it. A wrong ``SHELF_LANG`` is English here and
    is refused once the arguments are read."""
    for index, arg in enumerate(argv):
        value = arg.partition("=")[2] if arg.startswith("--lang=") else (
            argv[index + 1] if arg == "--lang" and index + 1 < len(argv) else None)
        if value in LANGUAGES:
            return value
    try:
        return choose_language(None, env)
    except ValueError:
        return "en"


def use(language: str) -> None:
    """Say everything from now on in ``language`` (one command = one language)."""
    global _language
    _language = language if language in LANGUAGES else "en"


def language() -> str:
    return _language


def words() -> Catalogue:
    return catalogue("shelf")


def say(key: str, **values: Any) -> str:
    """The words for ``key`` in the chosen language, ``{name}`` placeholders filled."""
    return words().say(_language, key, **values)


def english(key: str, **values: Any) -> str:
    """The words for ``key`` in English, whatever was chosen (a --json ``detail``)."""
    return words().say(SOURCE, key, **values)


def has(key: str) -> bool:
    return key in words()


def core_say(key: str, **values: Any) -> str:
    """The words for ``key`` of the core domain (role names, refusals) in the chosen language."""
    return catalogue("core").say(_language, key, **values)


def why(code: str, **values: Any) -> str | None:
    """A refusal said from its error code (the ``core`` domain's ``why_<code>``), or None
    where the catalogue has no words for that code."""
    core = catalogue("core")
    return core.say(_language, f"why_{code}", **values) if f"why_{code}" in core else None


def speak_argparse() -> None:
    """Let argparse say its usage lines and errors (``usage:``, "the following arguments are
    required") in the chosen language. argparse looks each message up through its module's
    ``_`` and ``ngettext`` (gettext's, bound when it was imported): the hook it offers for
    translating them, answered here from the catalogue's ``argparse_*`` words."""
    argparse._ = _argparse_gettext  # type: ignore[attr-defined]
    argparse.ngettext = _argparse_ngettext  # type: ignore[attr-defined]


@cache
def _argparse_keys() -> dict[str, str]:
    return {text: key for key, text in words().texts[SOURCE].items()
            if key.startswith("argparse_")}


def _argparse_gettext(message: str) -> str:
    key = _argparse_keys().get(message)
    return words().text(_language, key) if key else message  # a developer's own: English


def _argparse_ngettext(singular: str, plural: str, count: int) -> str:
    return _argparse_gettext(singular if count == 1 else plural)
