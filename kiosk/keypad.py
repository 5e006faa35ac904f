"""A pickup-code keypad: how long it waits after wrong codes, and when it asks for the room.

A typed pickup code can be guessed. Two rules keep a guesser slow without locking out the
resident who comes after them (README, "Guessing pickup codes"):

- **Pace, per keypad.** The first ``max_failures`` wrong codes of a run cost nothing (people
  mistype). After each further wrong code the keypad waits before it takes the next code:
  5 s, 10 s, 20 s, 40 s, then ``max_wait_s`` every time. A keypad with no wrong code for
  ``window_s`` starts a new run. A right code does not: typed by someone else, it would hand
  a guesser standing beside the keypad a fresh set of free tries. So a guesser gets at most
  ``3600 / max_wait_s`` tries an hour (``fastest_pace``), and whoever comes next waits at most
  ``max_wait_s``, once.
- **Code space.** A code typed alone is checked against every active code: with W households
  waiting a guess hits one in ``10**6 / W``. Typed with the building-room it is checked against
  that household's code alone: one in ``10**6``, however many wait. The keypad asks for the
  room when ``ask_room_from`` households or more wait, and once it has seen ``max_failures``
  wrong codes in the last ``ROOM_MEMORY`` (a guesser gets that many codes alone a day).

Everything here is pure: the store says when the wrong codes were typed, the clock what time it
is; ``kiosk.services.pick_up`` applies it in its transaction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from kiosk.labels import PICKUP_CODE_DIGITS

FIRST_WAIT_S = 5  # the first wait after the free tries; each next one doubles, up to the cap
ROOM_MEMORY = timedelta(hours=24)  # wrong codes this recent make the keypad ask for the room
CODE_SPACE = 10**PICKUP_CODE_DIGITS  # how many pickup codes there are
DOUBLINGS = 20  # 5 s doubled 20 times is months: every cap is reached long before


class PaceRules(Protocol):
    """What the keypad's rules need of ``[pickup]`` (``kiosk.config.PickupRules`` is one)."""

    max_failures: int
    window_s: int
    max_wait_s: int
    ask_room_from: int


@dataclass(frozen=True)
class Keypad:
    """A keypad's state at one moment."""

    wait_s: int  # seconds before it takes another code (0: now)
    tries_left: int  # wrong codes it still takes without making anyone wait
    room_required: bool  # a code typed alone is refused unchecked: the building-room too


def wait_after(wrong: int, free: int, max_wait_s: int) -> int:
    """Seconds a keypad waits after the ``wrong``-th wrong code of a run (the first is 1)."""
    if wrong < free:
        return 0
    return min(max_wait_s, FIRST_WAIT_S * 2 ** min(wrong - free, DOUBLINGS))


def lookback(rules: PaceRules) -> int:
    """How many of a keypad's newest wrong codes decide its state: the run's place and the day's
    count; beyond the free tries and the doublings every wait is the cap anyway."""
    return rules.max_failures + DOUBLINGS + 1


def run_length(failures: Sequence[datetime], now: datetime, quiet: timedelta) -> int:
    """How many wrong codes the keypad's current run holds; 0 when it has been quiet.

    ``failures``: when the newest wrong codes were typed, newest first. A run is a series of
    wrong codes each less than ``quiet`` after the one before, the last less than ``quiet`` ago.
    """
    if not failures or now - failures[0] >= quiet:
        return 0
    count = 1
    for newer, older in zip(failures, failures[1:], strict=False):
        if newer - older >= quiet:
            break
        count += 1
    return count


def keypad_state(failures: Sequence[datetime], now: datetime, rules: PaceRules,
                 waiting: int) -> Keypad:
    """The keypad's state at ``now``, from its newest wrong codes (newest first, at least
    ``lookback(rules)`` of them where it has that many) and how many households wait."""
    wrong = run_length(failures, now, timedelta(seconds=rules.window_s))
    wait_s = 0
    if wrong:
        until = failures[0] + timedelta(seconds=wait_after(wrong, rules.max_failures,
                                                           rules.max_wait_s))
        wait_s = max(0, math.ceil((until - now).total_seconds()))
    today = sum(1 for at in failures if now - at < ROOM_MEMORY)
    room = waiting >= rules.ask_room_from or today >= rules.max_failures
    return Keypad(wait_s, max(0, rules.max_failures - wrong), room)


def fastest_pace(free: int, max_wait_s: int, window_s: int) -> float:
    """The most codes an hour a guesser can try at one keypad, whatever their timing.

    Either one endless run (a code every ``max_wait_s``), or runs of k codes each followed by a
    quiet ``window_s`` so the next run starts with free tries again: the best k decides.
    """
    best = 3600 / max_wait_s
    typed_at = 0  # when the k-th code of a run can be typed, in seconds from its first
    for k in range(1, free + DOUBLINGS + 2):
        best = max(best, k * 3600 / (typed_at + window_s))
        typed_at += wait_after(k, free, max_wait_s)
    return best


def shortest_quiet(free: int, max_wait_s: int) -> int:
    """The shortest ``window_s`` for which waiting out the quiet time is no faster than the cap:
    a run of k codes must take at least k waits of ``max_wait_s``, quiet time included."""
    typed_at, needed = 0, 0
    for k in range(1, free + DOUBLINGS + 2):
        needed = max(needed, k * max_wait_s - typed_at)
        typed_at += wait_after(k, free, max_wait_s)
    return needed
