"""The gate screen: what the Pi's own display shows the courier and the resident at the shelf.

``GET /gate`` is a page for Chromium's kiosk mode on the Pi. It has no login, so it answers
only the machine itself (and the addresses in ``[web] gate_clients``) and shows no staff data:
households masked, no names, no phones. Scan results reach it from the kiosk process through
the store's events (``GET /gate/state?after=ID``, polled a few times a second); a typed pickup
code goes to the same use case as any keypad's (``POST /gate/code``), and the building-room
a courier types for a carrier waybill to the carrier check-in (``POST /gate/room``). Under a
check-in the screen offers a key for fresh food (``POST /gate/fresh``), for the parcel just
shown only. The page never drives GPIO: the kiosk process lights the slots from what the store
says.

The server sends what happened (a "view": kind, slots, masked household, error code); gate.js
says it in words, in either language, so the screen can switch language without asking again.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import sqlite3
import threading
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request, url_for

from kiosk.config import Layout
from kiosk.domain import mask_household
from kiosk.errors import NotAStore, StoreUnavailable
from kiosk.outcome import Outcome
from kiosk.queries import camera_lost, gate_checked_in_at, gate_events, last_event_id
from kiosk.services import COURIER, Rules, act_on_carrier, act_on_code
from kiosk.store import SqliteUnitOfWork, integrity_problems, unavailable
from kiosk.tasks import act_on_fresh
from web.db import get_db, get_uow
from web.i18n import LANGUAGE_NAMES, SUPPORTED, words

bp = Blueprint("gate", __name__, url_prefix="/gate")

KEYPAD = "gate-keypad"  # the source of what is typed here: its own pickup-code throttle
SCANNER = "camera"  # the source of the kiosk process's scans (kiosk.services.act_on_payload)
POLL_MS = 250  # a scan shows within half a second: one poll plus the request
RESULT_MS = 10_000  # a result stays this long, then the screen says how to use the gate again
INPUT_IDLE_MS = 30_000  # a half-typed code is wiped after this long without a key
FLOW_IDLE_MS = 60_000  # so is a half-typed room for a carrier waybill
LANGUAGE_RESET_MS = 120_000  # untouched this long, the screen goes back to the default language
EVENTS_PER_POLL = 50  # after an outage only the newest matter: the screen shows the last one
FRESH_FOR = timedelta(seconds=RESULT_MS / 1000)  # older results are not news to who is there
# The fresh-food key marks only a parcel this gate checked in this long ago at most: the key
# shows for RESULT_MS under the check-in; nobody at the gate may mark an older parcel.
FRESH_KEY_MS = 2 * RESULT_MS
PICKUP_CODE_RE = re.compile(r"^[0-9]{6}$")
MAX_TYPED = 64  # longer codes and rooms are refused unread; the core says what a good one is
LOOPBACK_NAMES = ("localhost",)
# What a proxy adds to a request it forwards: the gate's own display sends none of them.
FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
                 "X-Forwarded-Port", "X-Forwarded-By", "X-Real-IP", "Via")

# What an event means on the screen; other events (staff work) are not the gate's business.
EVENT_KINDS = {"checked_in": "checkin", "rescanned": "checkin", "collected": "pickup",
               "scan_refused": "refused", "needs_room": "needs_room",
               # a slot's button (kiosk.placing): confirmed, pressed by mistake, never pressed
               "placed": "placed", "taken": "taken", "wrong_slot": "wrong_slot",
               "not_placed": "not_placed"}
OUTCOME_KINDS = {"checkin": "checkin", "pickup": "pickup", "rejected": "refused",
                 "needs_room": "needs_room"}


@bp.before_request
def _only_the_gate() -> Response | None:
    """Refuse anyone but the gate's own display; POSTs must also come from the page itself."""
    if not from_the_gate():
        return _refuse(403, "not_the_gate", "The gate screen is only shown on the gate's own "
                       "display; staff, use the staff site.")
    if request.method == "POST" and not (request.is_json and same_origin()):
        return _refuse(403, "cross_site", "Send JSON from the gate page itself.")
    # The gate speaks the community's language unless the screen asks for the other one: a
    # kiosk browser's own language (often en-GB on a Pi) is no guide to who stands at the gate.
    asked = request.args.get("lang")
    g.lang = asked if asked in SUPPORTED else current_app.config["COMMUNITY"].language
    return None


def from_the_gate() -> bool:
    """True for the machine itself (by a loopback name) and for ``[web] gate_clients``.

    A request that came through a reverse proxy is never the gate's own display, whatever its
    Host: the proxy on the Pi connects from 127.0.0.1 on behalf of anyone on the LAN. waitress
    leaves every forwarding header in the request (``web.serving``), believed or not, so this
    holds even when the proxy is not named in ``[web] trusted_proxy``. The Host must name this
    machine too (a loopback name for a loopback address), so that a web page that rebinds its
    own name to the Pi's address in a display's browser cannot reach the gate (DNS rebinding).
    """
    if came_through_a_proxy():
        return False
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback:
        return _is_loopback_host(request.host)
    return (str(address) in current_app.config["WEB"].gate_clients
            and _names_this_machine(request.host))


def came_through_a_proxy() -> bool:
    """True when the request carries a header that a proxy adds (the gate's screen sends none)."""
    return any(name in request.headers for name in FORWARDING_HEADERS)


def _host_name(host: str) -> str:
    return (urlsplit(f"//{host}").hostname or "").lower()


def _is_loopback_host(host: str) -> bool:
    name = _host_name(host)
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _names_this_machine(host: str) -> bool:
    """True for an address (a browser sends one only when it was asked for that address) or
    this machine's own name (``pi``, ``pi.local``, as ``hostname`` says); never another site's."""
    name = _host_name(host)
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    own = socket.gethostname().lower()
    short = own.partition(".")[0]
    return name in {own, short, f"{short}.local"}


def same_origin() -> bool:
    """True when the browser says the request comes from a page of this very site.

    There is no login to steal here, but a page elsewhere must not type pickup codes into the
    gate: the browser's Origin must be ours, and Sec-Fetch-Site (where sent) same-origin. A
    JSON body is required too, which a cross-site form cannot send without asking first.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site != "same-origin":
        return False
    return request.headers.get("Origin") == request.host_url.rstrip("/")


def _refuse(status: int, error: str, message: str) -> Response:
    response = jsonify(error=error, message=message)
    response.status_code = status
    return response


@bp.errorhandler(StoreUnavailable)
def _store_unavailable(exc: StoreUnavailable) -> tuple[Response, int]:
    """The page keeps polling and says so; it never lands on an error page it cannot leave."""
    if isinstance(exc, NotAStore):  # missing or damaged: no use waiting, staff must restore
        return _out_of_order()
    return jsonify(error=exc.code, message=str(exc)), 503


@bp.errorhandler(sqlite3.Error)
def _sqlite_error(exc: sqlite3.Error) -> tuple[Response, int]:
    """A read model's query failed (they speak SQLite): the same answers as above."""
    if isinstance(exc, sqlite3.IntegrityError):
        raise exc  # a bug, not an unavailable store
    return _store_unavailable(unavailable(exc))


def _out_of_order() -> tuple[Response, int]:
    """What /gate/state says while the store is damaged or missing: the screen shows "out of
    order, see staff" until `shelf restore` has put a sound database in place."""
    response = jsonify(error=NotAStore.code, message="the database is damaged or missing",
                       out_of_order=True, last_event_id=None, views=[], camera_lost=False)
    response.headers["Cache-Control"] = "no-store"
    return response, 503


_verdicts: dict[tuple[str, int, int], bool] = {}  # (database, device, inode) -> damaged
_verdicts_lock = threading.Lock()


def remember_check(database: os.PathLike[str] | str, damaged: bool) -> None:
    """Take a check already made at start (`shelf web`) as this file's verdict, so the gate's
    first poll does not read the whole file again (1.6 s at a million parcels)."""
    info = os.stat(database)
    with _verdicts_lock:
        _verdicts[(str(database), info.st_dev, info.st_ino)] = damaged


def store_damaged() -> bool:
    """True while the database is missing or fails ``PRAGMA quick_check``.

    The check reads the whole file, so it runs once per file: a restore puts a new file (a new
    inode) in place, which is checked afresh at the next poll.
    """
    database = current_app.config["DATABASE"]
    try:
        info = os.stat(database)
    except OSError:
        return True
    key = (str(database), info.st_dev, info.st_ino)
    with _verdicts_lock:  # one check at a time, not one per waiting poll
        if key not in _verdicts:
            try:
                _verdicts[key] = bool(integrity_problems(database, quick=True, shelf_only=False))
            except StoreUnavailable:  # busy, or unreadable for now: not damage; ask again
                return False
        return _verdicts[key]


def _now() -> datetime:
    return current_app.config["CLOCK"].now()


def _rules() -> Rules:
    return current_app.config["RULES"]


@bp.get("")
def page() -> str:
    """The screen; it reads nothing from the store, so it loads even while the store is busy."""
    community = current_app.config["COMMUNITY"]
    page_data = {
        "lang": g.lang,
        "default_lang": community.language,
        "strings": {code: gate_strings(code) for code in SUPPORTED},
        "languages": LANGUAGE_NAMES,
        "state_url": url_for("gate.state"), "code_url": url_for("gate.code"),
        "room_url": url_for("gate.room"), "fresh_url": url_for("gate.fresh"),
        "poll_ms": POLL_MS, "result_ms": RESULT_MS, "input_idle_ms": INPUT_IDLE_MS,
        "flow_idle_ms": FLOW_IDLE_MS, "language_reset_ms": LANGUAGE_RESET_MS,
    }
    return render_template("gate.html", community=community, page_data=page_data,
                           out_of_order=store_damaged(),
                           out_of_order_words=[words().text(code, "gate_out_of_order")
                                               for code in SUPPORTED])


def gate_strings(lang: str) -> dict[str, str]:
    """The gate's own words (keys ``gate_*``) in ``lang``: gate.js says everything with them."""
    return {k: v for k, v in words().texts[lang].items() if k.startswith("gate_")}


@bp.get("/state")
def state() -> Response | tuple[Response, int]:
    """What happened at the gate after event ``after``: ``{"last_event_id", "views"}``, and
    ``camera_lost`` (true while the kiosk's camera is away: the screen says so).

    Without ``after`` (a screen just opened), or with one the store has not reached (a new
    database), it answers only where to start reading from: old results are not replayed.
    """
    if store_damaged():
        return _out_of_order()
    conn = get_db()
    after = request.args.get("after", type=int)
    last = last_event_id(conn)
    views: list[dict[str, Any]] = []
    if after is not None:
        events = gate_events(conn, max(after, last - EVENTS_PER_POLL), limit=EVENTS_PER_POLL)
        last = max([last, *(e["id"] for e in events)])
        oldest = _now() - FRESH_FOR
        views = [view for view, at in event_views(events) if at >= oldest]
    response = jsonify(last_event_id=last, views=views, camera_lost=camera_lost(conn) is not None)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/code")
def code() -> Response:
    """A pickup code typed on the screen: every waiting parcel of the household lights.

    ``room`` (building-room, optional): where the keypad asks for it (the answer's error is
    ``room_required``), the code opens only that household's parcels (``kiosk.keypad``).
    """
    body = request.get_json(silent=True)
    fields = body if isinstance(body, dict) else {}
    typed, room = fields.get("code"), fields.get("room")
    if (not isinstance(typed, str) or not PICKUP_CODE_RE.match(typed)
            or not (room is None or _text(room))):
        return _refuse(400, "bad_request", 'Send {"code": "<six digits>"[, "room": "24-2304"]}.')
    uow = get_uow()
    outcome = act_on_code(typed, uow, _rules(), current_app.config["CLOCK"], source=KEYPAD,
                          room=room)
    return _answer(outcome)


@bp.post("/room")
def room() -> Response:
    """The building-room (and phone tail) a courier typed for a carrier waybill.

    ``keep_room``: the courier insists on the room typed over the suggested ones (or the
    waybill shows no phone): the parcel goes there, marked "room not confirmed" for staff.
    For an announced code the phone tail alone may come first (``room`` left out): it checks
    the waybill against the announced household (``kiosk.services.check_in_carrier``).
    """
    body = request.get_json(silent=True)
    fields = body if isinstance(body, dict) else {}
    code, typed = fields.get("code"), fields.get("room")
    tail, keep = fields.get("phone_tail"), fields.get("keep_room", False)
    if not (_text(code) and (_text(typed) or (typed is None and _text(tail)))
            and (tail is None or _text(tail)) and isinstance(keep, bool)):
        return _refuse(400, "bad_request", 'Send {"code", "room"[, "phone_tail", "keep_room"]} '
                       'or, for an announced code, {"code", "phone_tail"}.')
    outcome = act_on_carrier(code, get_uow(), _rules(),
                             current_app.config["CLOCK"], room=typed, phone_tail=tail,
                             source=KEYPAD, keep_room=keep)
    return _answer(outcome)


@bp.post("/fresh")
def fresh() -> Response:
    """The fresh-food key under a check-in: ``{"parcel": ID}``, the parcel the view names.

    Only a parcel checked in (or scanned again) here in the last ``FRESH_KEY_MS`` is marked
    (``kiosk.tasks.mark_fresh``: its door task goes first and its team is told at once); any
    other is refused (409 ``not_just_checked_in``): the gate shows no list to choose from.
    """
    body = request.get_json(silent=True)
    parcel = body.get("parcel") if isinstance(body, dict) else None
    if type(parcel) is not int or parcel <= 0:
        return _refuse(400, "bad_request", 'Send {"parcel": <the id in the check-in\'s view>}.')
    conn = get_db()
    at = gate_checked_in_at(conn, parcel, (SCANNER, KEYPAD))
    if at is None or at < _now() - timedelta(milliseconds=FRESH_KEY_MS):
        return _refuse(409, "not_just_checked_in", "Only a parcel just checked in at this gate "
                       "can be marked fresh here; ask the staff.")
    outcome = act_on_fresh(parcel, SqliteUnitOfWork(conn), _rules(), current_app.config["CLOCK"],
                           actor=COURIER, source=KEYPAD)
    response = jsonify(parcel=parcel, fresh=outcome.action == "fresh", repeat=outcome.repeat,
                       door_delivery=outcome.door_delivery, error=outcome.error)
    response.headers["Cache-Control"] = "no-store"
    return response


def _text(value: Any) -> bool:
    """A typed value worth handing to the core: a short, non-empty string."""
    return isinstance(value, str) and bool(value.strip()) and len(value) <= MAX_TYPED


def _answer(outcome: Outcome) -> Response:
    """The outcome as the screen shows it, and the newest event after it.

    The screen moves its reading point there, so the events this very action recorded are not
    shown a second time. A store too busy to say leaves the point where it was (None).
    """
    try:
        last: int | None = last_event_id(get_db())
    except StoreUnavailable:
        last = None
    response = jsonify(view=outcome_view(outcome), last_event_id=last)
    response.headers["Cache-Control"] = "no-store"
    return response


def outcome_view(outcome: Outcome) -> dict[str, Any]:
    """What a typed code did, shaped like a view of the events it recorded."""
    return _view(OUTCOME_KINDS.get(outcome.action, "refused"), household=outcome.household,
                 slots=outcome.slots or ((outcome.slot,) if outcome.slot else ()),
                 parcels=len(outcome.parcels), repeat=outcome.repeat, error=outcome.error,
                 wait_s=outcome.retry_after_s, tries_left=outcome.tries_left, code=outcome.code,
                 suggestions=outcome.suggestions, room_confirmed=outcome.room_confirmed,
                 parcel=outcome.parcel if outcome.action == "checkin" else None,
                 announced=outcome.announced)


def event_views(events: list[dict[str, Any]]) -> list[tuple[dict[str, Any], datetime]]:
    """Each action's view and when it happened, oldest first.

    One pickup records an event per parcel (several slots may blink): those become one view.
    """
    groups: list[list[dict[str, Any]]] = []
    for event in events:
        if event["kind"] not in EVENT_KINDS:
            continue
        if groups and _same_pickup(groups[-1][-1], event):
            groups[-1].append(event)
        else:
            groups.append([event])
    return [(_event_view(group), datetime.fromisoformat(group[-1]["at"])) for group in groups]


def _fresh_key_for(event: dict[str, Any]) -> bool:
    """True for a check-in this gate made: the screen offers the fresh-food key under it."""
    return EVENT_KINDS[event["kind"]] == "checkin" and event["source"] in (SCANNER, KEYPAD)


def _same_pickup(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (a["kind"] == b["kind"] == "collected"
            and (a["household"], a["at"], a["source"]) == (b["household"], b["at"], b["source"]))


def _event_view(group: list[dict[str, Any]]) -> dict[str, Any]:
    first = group[0]
    slots = tuple(dict.fromkeys(e["slot"] for e in group if e["slot"]))
    if first["kind"] == "wrong_slot":  # the slot pressed, then the slot meant
        slots = (first["slot"], first["expected"])
    return _view(EVENT_KINDS[first["kind"]], event_id=group[-1]["id"],
                 household=first["household"], slots=slots,
                 parcels=len(group), repeat=first["kind"] == "rescanned", error=first["error"],
                 wait_s=first["retry_after_s"], tries_left=first["tries_left"],
                 code=first["code"],
                 suggestions=first["suggestions"] or (),
                 room_confirmed=first["room_confirmed"],
                 parcel=first["parcel"] if _fresh_key_for(first) else None,
                 fresh=first.get("fresh", False), announced=first.get("announced"))


def _view(kind: str, *, event_id: int | None = None, household: str | None, slots: tuple[str, ...],
          parcels: int, repeat: bool, error: str | None, wait_s: int | None,
          tries_left: int | None, code: str | None, suggestions: tuple[str, ...] | list[str],
          room_confirmed: bool | None, parcel: int | None = None,
          fresh: bool = False, announced: str | None = None) -> dict[str, Any]:
    """One thing that happened, as the screen needs it: no names, no phones, household masked.

    Suggested rooms stay whole: the courier holding the waybill has to pick one of them. The
    announced household is masked like any other: the courier confirms it by the waybill's
    phone or room, which the screen never shows.
    """
    layout: Layout = current_app.config["LAYOUT"]
    overflow = layout.overflow.code in slots
    return {
        "id": event_id,
        "kind": kind,
        "slots": list(slots),
        "overflow": overflow,
        "place": layout.overflow_name if overflow else None,
        "household": household_parts(mask_household(household)) if household else None,
        "parcels": parcels,
        "repeat": repeat,
        "error": error,
        "wait_s": wait_s,  # the keypad takes no code for this long (seconds)
        "tries_left": tries_left,  # a wrong typed code: how many more before a wait
        "code": code,
        "suggestions": [parts for s in suggestions if (parts := household_parts(s))],
        "room_confirmed": room_confirmed,  # False: typed, not settled by a phone; staff check
        "parcel": parcel,  # a check-in's parcel: what the fresh-food key marks
        "fresh": fresh,  # checked in as fresh food already (its label or its announcement)
        # needs_room for an announced code: whom it was announced for (the screen asks for
        # the waybill's phone tail first); a check-in: whom, when the waybill said otherwise
        "announced": household_parts(mask_household(announced)) if announced else None,
    }


def household_parts(text: str) -> dict[str, str] | None:
    """``24-23**`` as ``{"id", "building", "room"}``: the screen says "24栋 23**"."""
    building, dash, room = text.partition("-")
    return {"id": text, "building": building, "room": room} if dash else None

