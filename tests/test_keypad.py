"""A pickup-code keypad against a guesser and a prankster: short growing waits, the room asked
where a code alone is too easy to hit (kiosk.keypad), on the real use case and SQLite file."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from conftest import check_in, pickup_code

from bench.history import history_walks
from kiosk.app.sim.mailcatcher import free_port
from kiosk.keypad import ROOM_MEMORY, fastest_pace, shortest_quiet, wait_after
from kiosk.services import Rules, act_on_code, act_on_payload
from kiosk.store import SqliteUnitOfWork
from web import gate

MINUTE = 60


def wrong_code(right: str) -> str:
    return "000000" if right != "000000" else "111111"


def with_pickup(rules: Rules, **changes) -> Rules:
    return dataclasses.replace(rules, pickup=dataclasses.replace(rules.pickup, **changes))


def attempts(conn, source: str = "pickup:keypad") -> int:
    return conn.execute("SELECT COUNT(*) FROM attempts WHERE source = ?", (source,)).fetchone()[0]


def refused_events(conn) -> list[str]:
    return [r[0] for r in conn.execute("SELECT json_extract(detail, '$.error') FROM events"
                                       " WHERE kind = 'scan_refused' ORDER BY id")]


def guess_as_fast_as_allowed(uow, rules, clock, tries: int, source: str = "keypad") -> list[int]:
    """A prankster at the keypad: each wrong code as soon as the keypad takes one. Returns the
    wait each wrong code left behind."""
    waits: list[int] = []
    while len(waits) < tries:
        outcome = act_on_code("000000", uow, rules, clock, room="24-2304", source=source)
        if outcome.error != "throttled":  # a wait someone else left: wait it out first
            assert outcome.error == "unknown_code", outcome
            waits.append(outcome.retry_after_s or 0)
        clock.advance(outcome.retry_after_s or 1)
    return waits


# ---- the rules, on their own ---------------------------------------------------------------

def test_waits_grow_from_the_free_tries_to_a_minute():
    assert [wait_after(n, free=5, max_wait_s=60) for n in range(1, 11)] == [
        0, 0, 0, 0, 5, 10, 20, 40, 60, 60]


def test_a_guesser_gets_sixty_codes_an_hour_however_they_time_them():
    assert fastest_pace(free=5, max_wait_s=60, window_s=15 * MINUTE) == 60
    # Waiting out a short quiet time would give more: free tries again and again.
    assert shortest_quiet(free=5, max_wait_s=60) == 465
    assert fastest_pace(free=5, max_wait_s=60, window_s=5 * MINUTE) > 60


# ---- the pace: short waits that grow -------------------------------------------------------

def test_a_prankster_makes_whoever_comes_next_wait_a_minute_at_most(conn, uow, rules, community,
                                                                    clock):
    """Issue 18, item 5: thirty wrong codes used to lock every resident out for 900 s."""
    check_in(conn, community, clock, "24-2304")
    right = pickup_code(conn, "24-2304")
    waits = guess_as_fast_as_allowed(uow, rules, clock, 30)
    assert waits[:9] == [0, 0, 0, 0, 5, 10, 20, 40, 60] and set(waits[9:]) == {60}

    clock.advance(-59)  # the resident comes a second after the last wrong code
    outcome = act_on_code(right, uow, rules, clock, room="24-2304")
    assert (outcome.error, outcome.retry_after_s, outcome.tries_left) == ("throttled", 59, 0)
    clock.advance(59)
    assert act_on_code(right, uow, rules, clock, room="24-2304").action == "pickup"


def test_each_wrong_code_says_the_tries_left_then_the_wait(conn, uow, rules, community, clock):
    check_in(conn, community, clock, "24-2304")
    right = pickup_code(conn, "24-2304")
    seen = [act_on_code(wrong_code(right), uow, rules, clock) for _ in range(5)]
    assert [(o.error, o.tries_left, o.retry_after_s) for o in seen] == [
        ("unknown_code", 4, None), ("unknown_code", 3, None), ("unknown_code", 2, None),
        ("unknown_code", 1, None), ("unknown_code", 0, 5)]
    clock.advance(4)
    assert act_on_code(right, uow, rules, clock, room="24-2304").retry_after_s == 1
    clock.advance(1)
    wrong = act_on_code(wrong_code(right), uow, rules, clock, room="24-2304")
    assert (wrong.tries_left, wrong.retry_after_s) == (0, 10)


def test_a_code_typed_while_the_keypad_waits_is_not_checked_and_counts_nothing(conn, uow, rules,
                                                                                community, clock):
    check_in(conn, community, clock, "24-2304")
    right = pickup_code(conn, "24-2304")
    for _ in range(5):
        act_on_code(wrong_code(right), uow, rules, clock)
    for _ in range(20):  # tapping on while it waits makes the wait no longer
        assert act_on_code(right, uow, rules, clock, room="24-2304").error == "throttled"
    assert attempts(conn) == 5
    clock.advance(5)
    assert act_on_code(right, uow, rules, clock, room="24-2304").action == "pickup"


def test_a_quiet_keypad_starts_afresh(conn, uow, rules, community, clock):
    check_in(conn, community, clock, "24-2304")
    right = pickup_code(conn, "24-2304")
    guess_as_fast_as_allowed(uow, rules, clock, 12)
    clock.advance(rules.pickup.window_s)
    outcome = act_on_code(wrong_code(right), uow, rules, clock, room="24-2304")
    assert (outcome.tries_left, outcome.retry_after_s) == (4, None)


def test_a_right_code_hands_a_guesser_no_free_tries(conn, uow, rules, community, clock):
    """Someone else's right code does not start a new run: the guesser beside them waits on."""
    for household in ("24-2304", "2-902"):
        check_in(conn, community, clock, household)
    guess_as_fast_as_allowed(uow, rules, clock, 9)
    assert act_on_code(pickup_code(conn, "2-902"), uow, rules, clock,
                       room="2-902").action == "pickup"
    wrong = act_on_code("000000", uow, rules, clock, room="24-2304")
    assert (wrong.tries_left, wrong.retry_after_s) == (0, 60)


def test_the_keypad_waits_no_longer_than_configured(conn, uow, rules, community, clock):
    check_in(conn, community, clock, "24-2304")
    waits = guess_as_fast_as_allowed(uow, with_pickup(rules, max_wait_s=15), clock, 10)
    assert waits == [0, 0, 0, 0, 5, 10, 15, 15, 15, 15]


def test_a_typed_code_reads_no_history(conn, uow, rules, community, clock):
    """The keypad's state (wrong codes, active codes) is read through indexes that stay small:
    a year of used codes and old tries costs nothing (bench/history.py's own check)."""
    check_in(conn, community, clock, "24-2304")
    right = pickup_code(conn, "24-2304")

    def type_codes():
        for _ in range(6):
            act_on_code(wrong_code(right), uow, rules, clock, room="24-2304")
            clock.advance(60)
        act_on_code(right, uow, rules, clock, room="24-2304")

    assert history_walks(conn, type_codes) == []


def test_wrong_codes_are_forgotten_after_a_day(conn, uow, rules, clock):
    for _ in range(3):
        act_on_code("000000", uow, rules, clock)
    assert attempts(conn) == 3
    clock.advance(ROOM_MEMORY.total_seconds() + 1)
    act_on_code("000000", uow, rules, clock)
    assert attempts(conn) == 1  # only the new one


# ---- the code space: the room with the code ------------------------------------------------

def test_many_households_waiting_make_the_keypad_ask_for_the_room(conn, uow, rules, community,
                                                                  clock):
    for household in ("24-2304", "24-2403", "2-902"):
        check_in(conn, community, clock, household)
    right = pickup_code(conn, "24-2304")  # issued before the keypad asked for rooms
    rules = with_pickup(rules, ask_room_from=3)

    alone = act_on_code(right, uow, rules, clock)
    assert (alone.action, alone.error) == ("rejected", "room_required")
    assert attempts(conn) == 0  # nothing was checked: nothing counts ...
    assert refused_events(conn) == []  # ... and it is a question, not a refusal to keep

    # The right code with the room of the flat next door is as wrong as any other code.
    other = act_on_code(right, uow, rules, clock, room="24-2403")
    assert (other.error, other.tries_left) == ("unknown_code", 4)
    assert act_on_code(right, uow, rules, clock, room="24-9999").error == "unknown_code"
    assert act_on_code(right, uow, rules, clock, room="not a room").error == "unknown_code"
    assert pickup_code(conn, "24-2304") == right

    taken = act_on_code(right, uow, rules, clock, room=" 024-2304 ")
    assert (taken.action, taken.household) == ("pickup", "24-2304")
    # Two households wait now: below ask_room_from, and only three wrong codes today.
    assert act_on_code(pickup_code(conn, "2-902"), uow, rules, clock).action == "pickup"


def test_a_days_wrong_codes_make_the_keypad_ask_for_the_room_until_they_age_out(conn, uow, rules,
                                                                                 community, clock):
    check_in(conn, community, clock, "24-2304")
    right = pickup_code(conn, "24-2304")
    for _ in range(rules.pickup.max_failures):
        act_on_code(wrong_code(right), uow, rules, clock)
        clock.advance(rules.pickup.window_s)  # spread over the day: each its own run
    assert act_on_code(right, uow, rules, clock).error == "room_required"

    # A second before the first wrong code is a day old, then when it is.
    clock.advance(ROOM_MEMORY.total_seconds() - rules.pickup.window_s * 5 - 1)
    assert act_on_code(right, uow, rules, clock).error == "room_required"
    clock.advance(1)
    assert act_on_code(right, uow, rules, clock).action == "pickup"


def test_a_room_typed_where_none_is_asked_must_still_match(conn, uow, rules, community, clock):
    check_in(conn, community, clock, "24-2304")
    right = pickup_code(conn, "24-2304")
    assert act_on_code(right, uow, rules, clock, room="24-2403").error == "unknown_code"
    assert act_on_code(right, uow, rules, clock, room="24-2304").action == "pickup"


def test_ask_room_from_zero_always_asks(conn, uow, rules, community, clock):
    check_in(conn, community, clock, "24-2304")
    rules = with_pickup(rules, ask_room_from=0)
    assert act_on_code(pickup_code(conn, "24-2304"), uow, rules, clock).error == "room_required"


def test_the_camera_never_asks_for_the_room(conn, uow, rules, community, clock):
    """A signed pickup QR cannot be guessed: neither waits nor rooms apply to it."""
    from test_services import outbox_payloads

    check_in(conn, community, clock, "24-2304")
    rules = with_pickup(rules, ask_room_from=0)
    guess_as_fast_as_allowed(uow, rules, clock, 8)
    qr = outbox_payloads(conn, "24-2304")[0][1]["pickup_qr"]
    assert act_on_payload(qr.encode(), uow, rules, clock).action == "pickup"


@pytest.mark.parametrize("source", ["gate-keypad", "keypad"])
def test_each_keypad_keeps_its_own_pace(conn, uow, rules, community, clock, source):
    check_in(conn, community, clock, "24-2304")
    for _ in range(8):
        act_on_code("000000", uow, rules, clock, source="other-keypad", room="24-2304")
    # No time passed: this keypad takes the code at once, and alone.
    assert act_on_code(pickup_code(conn, "24-2304"), uow, rules, clock,
                       source=source).action == "pickup"


# ---- at the gate, against the real server -------------------------------------------------

@contextlib.contextmanager
def gate_server(community, now: datetime) -> Iterator[Callable[..., dict]]:
    """`shelf web` (waitress) with its clock set to ``now`` by SHELF_NOW; yields a function
    that types a code (and room) on the gate's keypad as the gate page does, returning the view."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "kiosk.app", "--config", str(community.path), "web",
         "--port", str(port)],
        env={**os.environ, "SHELF_NOW": now.isoformat()}, stderr=subprocess.DEVNULL)

    def type_code(code: str, room: str | None = None) -> dict:
        body = {"code": code} | ({"room": room} if room else {})
        request = urllib.request.Request(
            f"{base}/gate/code", data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json", "Origin": base})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())["view"]

    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{base}/gate/state", timeout=5).close()
                break
            except urllib.error.URLError:
                time.sleep(0.1)
        yield type_code
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


def test_at_the_gate_a_prankster_holds_the_next_resident_up_a_minute_at_most(community, conn,
                                                                             clock):
    """Issue 18, item 5, at `shelf web`: five wrong codes used to make the right one wait 900 s.

    The kiosk's clock is SHELF_NOW, which runs on from where it is set: a server slow to
    answer may find a wait over (then the keypad asks for the room), never a longer one.
    """
    check_in(conn, community, clock, "24-2304")
    right = pickup_code(conn, "24-2304")
    with gate_server(community, clock.now()) as type_code:
        views = [type_code(wrong_code(right)) for _ in range(5)]
        assert [v["tries_left"] for v in views] == [4, 3, 2, 1, 0]
        assert views[-1]["wait_s"] <= 5
        view = type_code(right)  # even the right code waits (then the room is asked for)
        assert view["error"] in ("throttled", "room_required") and (view["wait_s"] or 0) <= 5

    # The prankster goes on, typing each wrong code as soon as the keypad takes one.
    guess_as_fast_as_allowed(SqliteUnitOfWork(conn), Rules.from_config(community), clock, 30,
                              source=gate.KEYPAD)
    clock.advance(-60)  # the resident comes just as the prankster typed the last one
    with gate_server(community, clock.now()) as type_code:
        view = type_code(right)
        assert view["error"] in ("throttled", "room_required") and (view["wait_s"] or 0) <= 60

    clock.advance(60)
    with gate_server(community, clock.now()) as type_code:
        view = type_code(right)
        assert view["error"] == "room_required"  # so many wrong codes: the room with the code
        view = type_code(right, "24-2304")
        assert (view["kind"], view["household"]["id"]) == ("pickup", "24-23**")
