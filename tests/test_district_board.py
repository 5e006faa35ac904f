"""The dashboard's rows are computed one request at a time and shared (``web.centre.district.
board``): staff asking at once for what changed wait for one computation, never run twenty, and
none is answered from a reading older than its own arrival unless nothing changed since."""

from __future__ import annotations

import sys
import threading

from conftest import wait_for

from web.centre.district.board import SharedBoard


class Readings:
    """A computation of the rows that holds until let go, and counts how many ran at once."""

    def __init__(self) -> None:
        self.key = "stamp-1"
        self.started: list[str] = []
        self.running = 0
        self.most_at_once = 0
        self.go = threading.Event()
        self._lock = threading.Lock()

    def __call__(self) -> tuple[str, str]:
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            key = self.key  # the stamp as this reading read it
            self.started.append(key)
        self.go.wait(10)
        with self._lock:
            self.running -= 1
        return key, f"rows of {key}"


def arrived(threads: list[threading.Thread]) -> bool:
    """Each of ``threads`` has asked the board (noted when it asked), and not been answered."""
    frames = sys._current_frames()

    def asking(thread: threading.Thread) -> bool:
        frame = frames.get(thread.ident)
        while frame is not None:
            if frame.f_code is SharedBoard.board.__code__ and "asked" in frame.f_locals:
                return True
            frame = frame.f_back
        return False

    return all(asking(t) for t in threads)


def ask(board: SharedBoard, readings: Readings, key: str, got: list) -> threading.Thread:
    thread = threading.Thread(target=lambda: got.append(board.board(key, readings).rows))
    thread.start()
    return thread


def test_staff_asking_for_the_same_stamp_at_once_share_one_reading():
    board, readings, got = SharedBoard(), Readings(), []
    first = ask(board, readings, "stamp-1", got)
    wait_for(lambda: readings.started == ["stamp-1"])
    others = [ask(board, readings, "stamp-1", got) for _ in range(9)]
    wait_for(lambda: arrived(others))  # they wait for the reading under way
    assert readings.started == ["stamp-1"]
    readings.go.set()
    for thread in (first, *others):
        thread.join(10)
    assert got == ["rows of stamp-1"] * 10
    assert readings.started == ["stamp-1"]
    assert board.board("stamp-1", readings).rows == "rows of stamp-1"  # a poll: no reading
    assert readings.started == ["stamp-1"]


def test_a_change_during_a_reading_is_read_once_more_for_all_who_saw_it():
    board, readings, got = SharedBoard(), Readings(), []
    first = ask(board, readings, "stamp-1", got)
    wait_for(lambda: readings.started == ["stamp-1"])
    readings.key = "stamp-2"  # a gate synced while the first reading ran
    later = [ask(board, readings, "stamp-2", got) for _ in range(8)]
    wait_for(lambda: arrived(later))
    readings.go.set()
    for thread in (first, *later):
        thread.join(10)
    # Those who came after the change never get the older rows; one reading serves them all.
    assert readings.started == ["stamp-1", "stamp-2"]
    assert got.count("rows of stamp-1") == 1 and got.count("rows of stamp-2") == 8
    assert readings.most_at_once == 1  # never two readings at once


def test_rows_read_after_a_request_arrived_serve_it_whatever_stamp_it_read():
    """A reading begun after a request arrived is newer than any that request could make: a
    poll that read an older stamp takes it rather than reading again."""
    board, readings = SharedBoard(), Readings()
    readings.go.set()
    assert board.board("stamp-1", readings).rows == "rows of stamp-1"
    readings.key = "stamp-3"
    busy = threading.Event()
    release = threading.Event()

    def slow() -> tuple[str, str]:
        busy.set()
        release.wait(10)
        return readings()

    got: list = []
    holder = threading.Thread(target=lambda: got.append(board.board("stamp-2", slow).rows))
    holder.start()
    busy.wait(10)
    waiters = [ask(board, readings, "stamp-2", got) for _ in range(3)]  # while "slow" reads
    wait_for(lambda: arrived(waiters))
    release.set()
    for thread in (holder, *waiters):
        thread.join(10)
    # The reading under way began before the waiters arrived: one of them reads again, and
    # that reading, begun after they all arrived, serves the others (its stamp is newer).
    assert readings.started == ["stamp-1", "stamp-3", "stamp-3"]
    assert got == ["rows of stamp-3"] * 4


def test_each_rendering_of_the_rows_is_made_once():
    board, readings = SharedBoard(), Readings()
    readings.go.set()
    made = []
    shown = board.board("stamp-1", readings)
    for _ in range(3):
        for view in (("attention", "zh"), ("attention", "en")):
            shown.table(view, lambda rows, view=view: made.append(view) or (rows, view))
    assert made == [("attention", "zh"), ("attention", "en")]
