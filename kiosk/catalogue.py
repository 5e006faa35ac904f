"""Every word the shelf says to people, in one gettext catalogue: ``kiosk/locale``.

One domain per speaker: ``web`` (the staff site, the gate screen, the phone pages), ``shelf``
(the command's lines and ``--help``), ``notices`` (what residents and teams are told) and
``core`` (the core's refusals by error code, role names, import reports: said by the command
and the site alike). A key is unique within its domain.

Each domain is bilingual gettext, English the source language: ``locale/<domain>.pot`` holds
the English (``msgctxt`` = the key the code uses, ``msgid`` = the English words) and
``locale/zh/LC_MESSAGES/<domain>.po`` the Chinese (``msgstr``) for the same key and English.
A translator opens the ``.po`` in Poedit or Weblate and sees the key and the English beside
the Chinese. When the English changes, ``make words`` (Babel's update) marks the Chinese fuzzy
and the tests refuse the catalogue until someone has looked at it again.

The ``.po`` files are read as they are (Babel's ``read_po``), once per process and domain:
there is no compiled ``.mo`` to build at install time, or to go stale. ``{name}`` placeholders
(flag ``python-brace-format``, which Poedit and ``msgfmt --check`` verify) are filled by
``say``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

LANGUAGES = ("zh", "en")  # Chinese first, as on every screen
SOURCE = "en"  # the language of the msgids: the .pot is the English
DOMAINS = ("core", "shelf", "notices", "web")
TRANSLATED = ("zh",)  # the languages with a .po per domain


def locale_dir() -> Traversable:
    """The catalogue's folder, wherever the package is installed."""
    return files("kiosk") / "locale"


def template_file(folder: Traversable, domain: str) -> Traversable:
    return folder / f"{domain}.pot"


def po_file(folder: Traversable, domain: str, language: str) -> Traversable:
    return folder / language / "LC_MESSAGES" / f"{domain}.po"


def read_catalog(source: Traversable) -> Catalog:
    """One .pot or .po file as Babel's catalog (fuzzy entries kept, marked)."""
    with source.open("rb") as stream:
        return read_po(stream, abort_invalid=True)


@dataclass(frozen=True)
class Catalogue:
    """One domain's words: ``texts[language][key]``, every key in every language."""

    domain: str
    texts: Mapping[str, Mapping[str, str]]

    def __contains__(self, key: str) -> bool:
        return key in self.texts[SOURCE]

    def text(self, language: str, key: str) -> str:
        """The words for ``key`` as written, placeholders unfilled."""
        return self.texts[language][key]

    def say(self, language: str, key: str, **values: Any) -> str:
        """The words for ``key`` in ``language``, ``{name}`` placeholders filled."""
        return self.texts[language][key].format(**values)


class CatalogueError(Exception):
    """A catalogue file is missing a key, or holds Chinese that was never checked."""


@cache
def catalogue(domain: str) -> Catalogue:
    """The words of ``domain`` in every language, read once per process."""
    return load(domain, locale_dir())


def load(domain: str, folder: Traversable) -> Catalogue:
    """The words of ``domain`` from the catalogue in ``folder``.

    Refuses (``CatalogueError``) a translation that is missing, empty or fuzzy (its English
    changed since it was translated): a screen must never show a stale or absent word. The
    tests and `make words` check the same, so this fires only on a file edited by hand where
    the shelf runs.
    """
    if domain not in DOMAINS:
        raise ValueError(f"unknown catalogue domain {domain!r}; domains are {DOMAINS}")
    english = _entries(read_catalog(template_file(folder, domain)))
    texts = {SOURCE: {key: msgid for key, (msgid, _) in english.items()}}
    for language in TRANSLATED:
        translated = _entries(read_catalog(po_file(folder, domain, language)))
        missing = [key for key in english
                   if key not in translated or translated[key][0] != english[key][0]
                   or not translated[key][1]]
        if missing:
            raise CatalogueError(
                f"{po_file(folder, domain, language)}: no checked {language} words for "
                f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}: "
                "run make words, then translate them")
        texts[language] = {key: translated[key][1] for key in english}
    return Catalogue(domain, texts)


def _entries(catalog: Catalog) -> dict[str, tuple[str, str]]:
    """``key: (english, translation)`` for each entry; a fuzzy one has no translation."""
    return {message.context: (message.id, "" if message.fuzzy else message.string)
            for message in catalog if message.id and message.context}
