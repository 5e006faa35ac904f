"""A guesser at the gate's keypad for a simulated day, against the real use case and SQLite file.

How many codes does the keypad check an hour for someone who types each wrong code as soon as
it is taken, or who waits out the quiet time after each run to get free tries again; how many
of those a day are codes typed alone (checked against every waiting household's code); how long
does the resident after them wait. From the fastest pace measured: the expected time to a first
hit with W households waiting (README, "Guessing pickup codes"), before and now:

- a code alone is checked against all W active codes: ``CODE_SPACE / W`` guesses to a hit;
- with its building-room, against that household's code only: ``CODE_SPACE`` guesses;
- before, the keypad took 5 wrong codes per 15 minutes (20 an hour), codes alone.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.community import sample_community
from kiosk.clock import ManualClock
from kiosk.community import open_store
from kiosk.keypad import CODE_SPACE, ROOM_MEMORY, fastest_pace
from kiosk.services import Rules, act_on_code
from kiosk.store import SqliteUnitOfWork

DAY_S = int(ROOM_MEMORY.total_seconds())
BEFORE_PER_HOUR = 5 * 60 / 15  # [pickup] max_failures = 5 per window_minutes = 15, until now
WAITING = (50, 199, 200, 2000)  # households waiting; the sample's ask_room_from is 200
TARGET = "a year"


class Guesser:
    """One person at one keypad, a day long: a run of ``per_run`` codes (None: endless), each
    as soon as the keypad takes it, a code alone while it is taken alone; then the quiet time."""

    def __init__(self, conn, rules: Rules, per_run: int | None) -> None:
        self.uow, self.rules = SqliteUnitOfWork(conn), rules
        self.clock = ManualClock(datetime.now(UTC))
        self.per_run = per_run
        self.checked = self.alone = self.longest_wait = 0
        self.guess = 0

    def day(self) -> None:
        end = self.clock.now().timestamp() + DAY_S
        in_run = 0
        while self.clock.now().timestamp() < end:
            if self.per_run is not None and in_run == self.per_run:
                self.clock.advance(self.rules.pickup.window_s)  # wait for free tries again
                in_run = 0
                continue
            self.guess += 1
            code = f"{(self.guess * 7919) % CODE_SPACE:06d}"
            outcome = act_on_code(code, self.uow, self.rules, self.clock, source="bench")
            if outcome.error == "room_required":
                outcome = act_on_code(code, self.uow, self.rules, self.clock, source="bench",
                                      room="24-2304")
            elif outcome.error != "throttled":
                self.alone += 1
            if outcome.error == "throttled":
                self.clock.advance(outcome.retry_after_s or 1)
                continue
            self.checked += 1
            in_run += 1
            self.longest_wait = max(self.longest_wait, outcome.retry_after_s or 0)
            self.clock.advance(outcome.retry_after_s or 1)  # a second to type the next one


def _days(per_hour_hits: float) -> str:
    days = 1 / per_hour_hits / 24
    return f"{days / 365:.1f} years" if days >= 365 else f"{days:.1f} days"


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="shelf-keypad-") as tmp:
        config = sample_community(Path(tmp) / "community", real_hash=False)
        rules, pickup = Rules.from_config(config), config.pickup
        strategies = {"every code as soon as taken": None,
                      f"runs of {pickup.max_failures}, then the quiet time": pickup.max_failures,
                      f"runs of {pickup.max_failures + 5}, then the quiet time":
                          pickup.max_failures + 5}
        guessers = {}
        for name, per_run in strategies.items():
            conn = open_store(config)
            try:
                conn.execute("DELETE FROM attempts")
                guessers[name] = Guesser(conn, rules, per_run)
                guessers[name].day()
            finally:
                conn.close()
    pace = max(g.checked for g in guessers.values()) / 24
    alone = max(g.alone for g in guessers.values())  # codes alone a day, at most
    longest = max(g.longest_wait for g in guessers.values())
    bound = fastest_pace(pickup.max_failures, pickup.max_wait_s, pickup.window_s)
    rows = []
    for waiting in WAITING:
        room = waiting >= pickup.ask_room_from
        hits = (pace / CODE_SPACE if room
                else (pace - alone / 24) / CODE_SPACE + alone / 24 * waiting / CODE_SPACE)
        rows.append({
            "households waiting": waiting,
            "before (20 an hour, code alone)": _days(BEFORE_PER_HOUR * waiting / CODE_SPACE),
            f"{pace:.0f} an hour, code alone": _days(pace * waiting / CODE_SPACE),
            "the gate now": _days(hits) + (" (room always)" if room else
                                           f" ({alone} alone a day, then the room)")})
    paces = "; ".join(f"{name}: {g.checked / 24:.1f}" for name, g in guessers.items())
    return {
        "title": f"a guesser at one keypad for a day, codes checked an hour ({paces}; at most "
                 f"{bound:.0f} by kiosk.keypad.fastest_pace), {alone} of them alone a day, "
                 f"the next resident waits {longest} s at most: expected time to a first hit",
        "rows": rows,
        "codes_an_hour": {name: round(g.checked / 24, 2) for name, g in guessers.items()},
        "codes_alone_a_day": alone,
        "longest_wait_s": longest,
        "target": f"{TARGET} or more to a first hit, however many households wait",
    }
