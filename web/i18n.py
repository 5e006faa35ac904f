"""Pick the UI language per request and offer ``t(key)`` to templates.

The words are the catalogue's ``web`` domain (``kiosk/locale``, see ``kiosk.catalogue``).
The language comes from ``?lang=`` (then remembered in the session), else the session, else
the browser's Accept-Language, else the community's configured default.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Flask, current_app, g, request, session

from kiosk.catalogue import LANGUAGES, Catalogue, catalogue
from kiosk.config import in_language

SUPPORTED = LANGUAGES

# The words shelf.js says itself (the server renders everything else); sent in the page's JSON.
JS_KEYS = ("offline",)

# Each language named in itself, for the switch.
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}


def words() -> Catalogue:
    """The site's words in every language (read once per process)."""
    return catalogue("web")


def has(key: str) -> bool:
    """Whether the site has words for ``key`` (one built from a code or a kind)."""
    return key in words()


def choose_language() -> str:
    asked = request.args.get("lang")
    if asked in SUPPORTED:
        session["lang"] = asked
        return asked
    if session.get("lang") in SUPPORTED:
        return session["lang"]
    for value, _quality in request.accept_languages:  # best first
        primary = value.split("-")[0].lower()
        if primary in SUPPORTED:
            return primary
    return current_app.config["COMMUNITY"].language


def current_language() -> str:
    """The language chosen for this request (the default before it is chosen)."""
    return g.get("lang") or current_app.config["COMMUNITY"].language


def t(key: str, **values: Any) -> str:
    """The text for ``key`` in this request's language, with ``{name}`` placeholders filled."""
    if key not in words():
        return key  # a page still renders; tests/test_catalogue.py finds the unknown key
    text = words().text(current_language(), key)
    return text.format(**values) if values else text


def word(prefix: str, value: str) -> str:
    """The words for a stored value (a channel's id, a source): ``t(prefix + value)``, else the
    value as it is (one nobody has worded yet)."""
    key = f"{prefix}{value}".replace(" ", "_").replace("-", "_")
    return t(key) if has(key) else value


def local(name: str) -> str:
    """A configured name (community, shelf, team, overflow place) in this request's language."""
    return in_language(name, current_language())


def why(code: str) -> str | None:
    """A refusal of the core worded from its error code (the catalogue's core ``why_<code>``)
    in this request's language; None for a code it has no words for."""
    core = catalogue("core")
    return core.text(current_language(), f"why_{code}") if f"why_{code}" in core else None


def js_strings() -> dict[str, str]:
    return {key: words().text(current_language(), key) for key in JS_KEYS}


def lang_url(code: str) -> str:
    """This page's URL with ``lang`` switched to ``code``, other query arguments kept."""
    args = request.args.to_dict()
    args["lang"] = code
    return f"{request.path}?{urlencode(args)}"


def _set_language() -> None:
    g.lang = choose_language()


def _helpers() -> dict[str, Any]:
    return {
        "t": t,
        "lang": current_language(),
        "html_lang": {"zh": "zh-CN", "en": "en"}[current_language()],
        "languages": LANGUAGE_NAMES,
        "lang_url": lang_url,
        "local": local,
        "pages": current_app.view_functions,  # the endpoints this app serves (its nav links)
    }


def init_app(app: Flask) -> None:
    app.before_request(_set_language)
    app.context_processor(_helpers)
    app.add_template_filter(local, "local")
