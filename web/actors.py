"""Who did something, as the staff pages say it: the one way an event's actor is worded.

Events name their actor as ``li@web`` (a staff member on the site; ``li@centre``: what they
decided at the compound's centre, applied by a gate), ``root@shell`` (a command
run by that system user), ``bot@api`` (a tool's named token), ``courier@kiosk`` and
``resident@kiosk`` (people at the gate, who have no account). A page shows the staff member's
name, "the command line (root)", "the tool bot", "the courier" ... never the raw actor.
"""

from __future__ import annotations

from web.auth import API_ACTOR, CENTRE_ACTOR, WEB_ACTOR
from web.db import get_uow
from web.i18n import has, t

SHELL_ACTOR = "@shell"  # kiosk.app.cli: the system user who ran the command
KIOSK_ACTOR = "@kiosk"  # kiosk.services: the courier and the resident at the gate


def actor_name(actor: str) -> str:
    """Who did it, as people say: a staff member's name, "the courier", "the command line"."""
    name, at, where = actor.rpartition("@")
    if not at:
        return t(f"actor_{actor}") if has(f"actor_{actor}") else actor
    if f"@{where}" in (WEB_ACTOR, CENTRE_ACTOR):  # on a gate's site, or at the centre
        member = get_uow().staff.get(name)
        return member.name if member is not None and member.name else name
    if f"@{where}" == KIOSK_ACTOR and has(f"actor_{name}"):
        return t(f"actor_{name}")
    if f"@{where}" == SHELL_ACTOR:
        return t("actor_shell", user=name)
    if f"@{where}" == API_ACTOR:
        return t("actor_api", name=name)
    return actor


def is_person(actor: str) -> bool:
    """Whether the actor is someone the day's counts credit: not the gate's self-service."""
    return not actor.endswith(KIOSK_ACTOR)
