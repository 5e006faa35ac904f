"""The kiosk loop with recording fakes of our own ports (the real adapters have their tests)."""

from __future__ import annotations

import sqlite3
import threading

from kiosk.domain import HouseholdId
from kiosk.labels import make_label
from kiosk.ports import Symbol
from kiosk.scanner import Debouncer, Scanner
from kiosk.services import Rules
from kiosk.store import SqliteUnitOfWork


class ListSource:
    def __init__(self, frames):
        self.frames = list(frames)
        self.closed = False

    def read(self):
        return self.frames.pop(0) if self.frames else None

    def close(self):
        self.closed = True


class TableDecoder:
    """Frames are lists of payloads: 'decoding' returns them as symbols."""

    def decode(self, frame):
        return [Symbol(p, "QRCODE") for p in frame]


class RecordingLights:
    """Records every show(); checks from a second connection what the store had committed."""

    def __init__(self, database):
        self.shown = []
        self.committed_at_show = []
        self.database = database
        self.closed = False

    def show(self, states):
        self.shown.append(dict(states))
        other = sqlite3.connect(self.database)
        self.committed_at_show.append(other.execute("SELECT COUNT(*) FROM parcels").fetchone()[0])
        other.close()

    def close(self):
        self.closed = True


class RecordingBuzzer:
    def __init__(self):
        self.sounds = []

    def confirm(self):
        self.sounds.append("confirm")

    def warn(self):
        self.sounds.append("warn")

    def close(self):
        pass


class TickingClock:
    """Each monotonic() reading moves a frame's worth of time (10 fps)."""

    def __init__(self, clock):
        self.clock = clock

    def now(self):
        return self.clock.now()

    def monotonic(self):
        self.clock.advance(0.1)
        return self.clock.mono


def make_scanner(conn, community, clock, frames):
    lights, buzzer = RecordingLights(community.database), RecordingBuzzer()
    results = []
    scanner = Scanner(source=ListSource(frames), decoder=TableDecoder(), lights=lights,
                      buzzer=buzzer, uow=SqliteUnitOfWork(conn),
                      rules=Rules.from_config(community), clock=TickingClock(clock),
                      debounce_s=community.kiosk.debounce_s, on_result=results.append)
    return scanner, lights, buzzer, results


def test_debouncer_acts_once_while_held_and_again_after_leaving():
    debouncer = Debouncer(hold_s=2.0)
    assert debouncer.fresh(b"x", 0.0)
    assert not debouncer.fresh(b"x", 0.1)
    assert not debouncer.fresh(b"x", 1.9)  # still held: each sighting renews
    assert debouncer.fresh(b"x", 4.5)
    assert debouncer.fresh(b"y", 4.5)


def test_a_label_held_for_many_frames_checks_in_once_and_lights_after_commit(conn, community,
                                                                           clock):
    payload = make_label(community.label_secret, HouseholdId.parse("24-2304")).encode()
    frames = [[payload]] * 15 + [[]] * 5
    scanner, lights, buzzer, results = make_scanner(conn, community, clock, frames)
    assert scanner.run(threading.Event()) == 20
    assert [r.action for r in results] == ["checkin"]
    assert buzzer.sounds == ["confirm"]
    lit = [i for i, states in enumerate(lights.shown) if states == {"A-12": "on"}]
    assert lit, lights.shown
    assert lights.committed_at_show[lit[0]] == 1  # the LED came on only once it was stored


def test_refused_scans_warn_and_light_nothing(conn, community, clock):
    scanner, lights, buzzer, results = make_scanner(conn, community, clock,
                                                    [[b"https://example.com"]])
    scanner.run(threading.Event())
    assert [r.error for r in results] == ["garbage"]
    assert buzzer.sounds == ["warn"]
    assert lights.shown and all(states == {} for states in lights.shown)


def test_two_labels_in_one_frame_both_act(conn, community, clock):
    a = make_label(community.label_secret, HouseholdId.parse("24-2304")).encode()
    b = make_label(community.label_secret, HouseholdId.parse("24-2403")).encode()
    scanner, lights, _, results = make_scanner(conn, community, clock, [[a, b]])
    scanner.run(threading.Event())
    assert [r.household for r in results] == ["24-2304", "24-2403"]
    assert set(lights.shown[-1]) == {results[0].slot, results[1].slot}


def test_a_restarted_kiosk_relights_from_the_store_and_lights_expire(conn, community, clock):
    payload = make_label(community.label_secret, HouseholdId.parse("24-2304")).encode()
    first, _, _, _ = make_scanner(conn, community, clock, [[payload]])
    first.run(threading.Event())
    first.close()
    # Power comes back: a new process, new lights, nothing in view.
    again, lights, _, results = make_scanner(conn, community, clock, [])
    again.run(threading.Event())
    assert lights.shown == [{"A-12": "on"}] and results == []
    clock.advance(community.kiosk.light_s)
    again.refresh_lights()
    assert lights.shown[-1] == {}


def test_close_darkens_and_releases_everything(conn, community, clock):
    scanner, lights, _, _ = make_scanner(conn, community, clock, [])
    scanner.close()
    assert lights.closed and scanner.source.closed


def test_stop_ends_the_loop(conn, community, clock):
    scanner, _, _, _ = make_scanner(conn, community, clock, [[]] * 100)
    stop = threading.Event()
    stop.set()
    assert scanner.run(stop) == 0


class ScriptedSource(ListSource):
    """Frames with something done to the world before given frames (by index)."""

    def __init__(self, frames, script):
        super().__init__(frames)
        self.script, self.index = script, 0

    def read(self):
        action = self.script.get(self.index)
        if action:
            action()
        self.index += 1
        return super().read()


def test_the_loop_survives_a_locked_store_and_checks_in_once_it_is_free(conn, community,
                                                                        clock):
    """Another process holds the write lock for a while: refusals, back-off, then the same
    label (still in view) checks in; the loop never dies."""
    payload = make_label(community.label_secret, HouseholdId.parse("24-2304")).encode()
    conn.execute("PRAGMA busy_timeout = 20")
    other = sqlite3.connect(community.database, isolation_level=None)
    source = ScriptedSource([[payload]] * 8, {0: lambda: other.execute("BEGIN IMMEDIATE"),
                                              3: lambda: other.execute("ROLLBACK")})
    scanner, lights, buzzer, results = make_scanner(conn, community, clock, [])
    scanner.source = source
    assert scanner.run(threading.Event()) == 8
    other.close()
    errors = [r.error for r in results]
    assert errors[:3] == ["store_unavailable"] * 3, errors
    assert [r.action for r in results[3:]] == ["checkin"]  # then debounced: held in view
    assert buzzer.sounds == ["warn", "warn", "warn", "confirm"]
    assert conn.execute("SELECT COUNT(*) FROM parcels").fetchone()[0] == 1
    assert lights.shown[-1] == {results[-1].slot: "on"}


def test_the_loop_survives_a_store_that_cannot_be_read(conn, community, clock):
    """The lights' table vanishes for a few frames (a damaged store): the loop keeps the last
    lights, keeps reading frames, and shows the right lights once the store answers again."""
    payload = make_label(community.label_secret, HouseholdId.parse("24-2304")).encode()
    other = sqlite3.connect(community.database, isolation_level=None)
    hide, show = ("ALTER TABLE signals RENAME TO signals_hidden",
                  "ALTER TABLE signals_hidden RENAME TO signals")
    source = ScriptedSource([[payload], [], [], [], []],
                            {1: lambda: other.execute(hide), 3: lambda: other.execute(show)})
    scanner, lights, _, results = make_scanner(conn, community, clock, [])
    scanner.refresh_s = 0  # refresh the lights on every frame
    scanner.source = source
    assert scanner.run(threading.Event()) == 5
    other.close()
    assert [r.action for r in results] == ["checkin"]
    assert scanner.backoff_s == 0  # healthy again
    assert lights.shown[-1] == {results[0].slot: "on"}
