"""The camera on its own thread: the newest frame is decoded, and a lost camera comes back.

The cameras here are FrameSources of our own (the port), paced like a live camera; the store,
the services and the loop are the real ones. Back-off waits are recorded, not slept; a frozen
read is found on a clock of the test's own, which only the frozen read moves on. A label is
held in view until the kiosk acts on it, as a courier holds it until the beep: a busy machine
that decodes few frames still gets to read it.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest
from conftest import PATIENCE_S, wait_for
from test_scanner import RecordingBuzzer, RecordingLights, TableDecoder

from kiosk import queries
from kiosk.domain import HouseholdId
from kiosk.errors import ConfigError
from kiosk.grabber import Grabbed, Mailbox, Recovery
from kiosk.labels import make_label
from kiosk.scanner import Scanner
from kiosk.services import Rules
from kiosk.store import SqliteUnitOfWork, connect


class FakeCamera:
    """A live camera of our own: its frames at its own pace, then what ``then`` says.

    ``then``: "none" (the driver returns no frame), "raise" (its read fails), "freeze" (the
    read never returns until the test ends; ``on_freeze()`` is called as it freezes), or "stop"
    (the run is stopped: the test is over). ``held_until``: the last frame goes on being
    delivered until ``held_until()`` holds (a courier holding the label up until the beep).
    """

    paced = True

    def __init__(self, frames, then="none", *, stop=None, interval_s=0.002, held_until=None,
                 on_freeze=None):
        self.frames, self.then, self.stop, self.interval_s = list(frames), then, stop, interval_s
        self.held_until, self.on_freeze = held_until, on_freeze
        self.total = len(self.frames)
        self.delivered = 0
        self.closed = threading.Event()
        self.release = threading.Event()  # ends a frozen read when the test is done
        self._held_since: float | None = None

    def read(self):
        if self.frames:
            time.sleep(self.interval_s)
            self.delivered += 1
            if len(self.frames) > 1 or not self._holding():
                return self.frames.pop(0)
            return self.frames[0]
        if self.then == "raise":
            raise OSError("VIDIOC_DQBUF: No such device")
        if self.then == "freeze":
            if self.on_freeze is not None:
                self.on_freeze()
            self.release.wait()
        if self.then == "stop":
            self.stop.set()
        return None

    def _holding(self) -> bool:
        """The last frame stays in view: ``held_until`` does not hold yet (nor, lest a broken
        kiosk hang the test, has it been held for PATIENCE_S)."""
        if self.held_until is None or self.held_until():
            return False
        if self._held_since is None:
            self._held_since = time.monotonic()
        return time.monotonic() - self._held_since < PATIENCE_S

    def close(self):
        self.closed.set()


class Reopen:
    """Reopening the camera: fails ``failures`` times (unplugged), then gives the next camera."""

    def __init__(self, cameras, failures=0):
        self.cameras, self.failures, self.tries = list(cameras), failures, 0

    def __call__(self):
        self.tries += 1
        if self.tries <= self.failures:
            raise ConfigError("camera device:0: cannot open /dev/video0")
        return self.cameras.pop(0)


@pytest.fixture
def frozen_cameras():
    made = []
    yield made
    for camera in made:
        camera.release.set()


def label(community, household="24-2304"):
    return make_label(community.label_secret, HouseholdId.parse(household)).encode()


def scanner_on(community, conn, clock, camera, recovery=None, decoder=None):
    lights, results = RecordingLights(community.database), []
    scanner = Scanner(source=camera, decoder=decoder or TableDecoder(), lights=lights,
                      buzzer=RecordingBuzzer(), uow=SqliteUnitOfWork(conn),
                      rules=Rules.from_config(community), clock=clock,
                      debounce_s=community.kiosk.debounce_s, on_result=results.append,
                      recovery=recovery)
    return scanner, lights, results


def camera_events(conn):
    return [(r["kind"], r["actor"], r["detail"]) for r in conn.execute(
        "SELECT kind, actor, detail FROM events WHERE kind LIKE 'camera_%' ORDER BY id")]


def test_mailbox_keeps_only_the_newest_frame_and_counts_the_others():
    box = Mailbox()
    for index in (1, 2, 3):
        assert box.put(Grabbed(index, f"frame {index}"))
    assert box.take(0) == Grabbed(3, "frame 3") and box.dropped == 2
    assert box.take(0.01) is None
    box.put(Grabbed(4, "frame 4"))
    box.close()
    assert not box.put(Grabbed(5, "frame 5"))  # closed: refused
    assert not box.drained and box.take(0) == Grabbed(4, "frame 4")  # what was there is taken
    assert box.drained


class SlowDecoder(TableDecoder):
    """Slower than the camera: each frame is decoded only once the camera has delivered three
    more (or all it had), whatever the machine's speed. Notes which frames it saw."""

    def __init__(self, camera: FakeCamera):
        self.camera, self.seen = camera, []

    def decode(self, frame):
        self.seen.append(frame[0])
        camera = self.camera
        wait_for(lambda: camera.delivered >= min(frame[0] + 4, camera.total))
        return super().decode(frame[1:])


def test_a_camera_faster_than_the_decoder_has_its_newest_frame_decoded(conn, community,
                                                                        clock):
    """The camera delivers three frames while one is decoded: the loop skips to the newest
    frame each time (dropping, and counting, those in between) and acts on the label once."""
    payload = label(community)
    frames = [[i] for i in range(30)] + [[i, payload] for i in range(30, 60)]
    camera = FakeCamera(frames)
    decoder = SlowDecoder(camera)
    scanner, lights, results = scanner_on(community, conn, clock, camera, decoder=decoder)
    decoded = scanner.run(threading.Event())
    assert decoded == len(decoder.seen) < 60
    assert decoder.seen == sorted(set(decoder.seen))  # never an older frame after a newer one
    assert decoder.seen[-1] == 59  # the last frame is never dropped: nothing newer came
    assert scanner.grabbed == 60 and scanner.dropped == 60 - decoded
    assert [r.action for r in results] == ["checkin"]
    assert lights.shown[-1] == {"A-12": "on"}


@pytest.mark.parametrize(("failure", "reason"), [
    ("none", "it delivered no frame"),
    ("raise", "its read failed: VIDIOC_DQBUF: No such device"),
])
def test_a_lost_camera_is_reopened_with_backoff_and_reads_again(conn, community, clock, caplog,
                                                               failure, reason):
    """Unplugged after a few frames, refused twice when reopened, then back: waits of 1, 2
    and 4 s, "camera lost" and "camera back" in the log and the store, the label checks in."""
    stop = threading.Event()
    back = FakeCamera([[]] * 3 + [[label(community)]] * 10, "stop", stop=stop)
    reopen = Reopen([back], failures=2)
    waits = []
    lost = FakeCamera([[]] * 5, failure)
    scanner, lights, results = scanner_on(community, conn, clock, lost,
                                          Recovery(reopen, wait=waits.append))
    back.held_until = lambda: results
    with caplog.at_level(logging.INFO, logger="kiosk"):
        scanner.run(stop)
    assert waits == [1.0, 2.0, 4.0] and reopen.tries == 3
    assert lost.closed.is_set() and scanner.source is back
    log = [r.getMessage() for r in caplog.records]
    assert f"camera lost ({reason}); reopening it in 1 s" in log
    assert "camera back" in log
    assert camera_events(conn) == [("camera_lost", "kiosk", f'{{"reason": "{reason}"}}'),
                                   ("camera_back", "kiosk", "{}")]
    assert [r.action for r in results] == ["checkin"]
    assert lights.shown[-1] == {"A-12": "on"}
    scanner.close()
    assert back.closed.is_set()


def test_backoff_doubles_to_thirty_seconds_and_starts_again_after_a_frame(conn, community,
                                                                        clock):
    stop = threading.Event()
    again = FakeCamera([[]] * 2, "stop", stop=stop)
    flaky = FakeCamera([[]] * 2, "none")  # opens, delivers, is lost again
    reopen = Reopen([flaky, again], failures=7)
    waits = []
    scanner, _, _ = scanner_on(community, conn, clock, FakeCamera([[]], "none"),
                               Recovery(reopen, wait=waits.append))
    scanner.run(stop)
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 1.0]
    # One loss, one return each time: the failed tries in between are not news.
    assert [kind for kind, _, _ in camera_events(conn)] == ["camera_lost", "camera_back"] * 2


def run_until_stopped(scanner, stop) -> threading.Thread:
    """Run the scanner's loop on a thread until ``stop``; joined (given PATIENCE_S) and
    returned, to show that the loop ended."""
    runner = threading.Thread(target=scanner.run, args=(stop,))
    runner.start()
    runner.join(PATIENCE_S)
    return runner


def test_a_frozen_read_does_not_hang_the_kiosk(conn, community, clock, frozen_cameras, caplog):
    """The driver's read never returns: once freeze_s has passed (on the kiosk's clock, which
    the frozen read moves on) the camera is lost, closed from another thread, reopened, and
    the label held up afterwards checks in."""
    stop = threading.Event()
    frozen = FakeCamera([[]] * 3, "freeze", on_freeze=lambda: clock.advance(1.0))
    frozen_cameras.append(frozen)
    back = FakeCamera([[label(community)]] * 5, "stop", stop=stop)
    scanner, lights, results = scanner_on(community, conn, clock, frozen,
                                          Recovery(Reopen([back]), freeze_s=0.5,
                                                   wait=lambda s: None,
                                                   monotonic=clock.monotonic))
    back.held_until = lambda: results
    with caplog.at_level(logging.WARNING, logger="kiosk"):
        runner = run_until_stopped(scanner, stop)
    assert not runner.is_alive()  # the loop went on past the frozen read, and ended
    assert "camera lost (no frame for 0.5 s); reopening it in 1 s" in caplog.messages
    assert frozen.closed.wait(PATIENCE_S)
    assert [r.action for r in results] == ["checkin"]
    assert [kind for kind, _, _ in camera_events(conn)] == ["camera_lost", "camera_back"]


def test_while_the_camera_is_lost_the_lights_follow_the_store(conn, community, clock):
    """A pickup typed on the gate's keypad blinks its slot even while the camera is away."""
    stop = threading.Event()
    waits = threading.Event()
    scanner, lights, _ = scanner_on(community, conn, clock, FakeCamera([], "none"),
                                    Recovery(Reopen([]),
                                             wait=lambda s: waits.wait(PATIENCE_S)))
    scanner.refresh_s = 0.0
    runner = threading.Thread(target=scanner.run, args=(stop,))
    runner.start()
    try:
        with SqliteUnitOfWork(connect(community.database)) as keypad:
            keypad.signals.set("B-03", "blink", clock.now() + timedelta(seconds=30), "pickup")
        wait_for(lambda: {"B-03": "blink"} in lights.shown)
    finally:
        stop.set()
        waits.set()
        runner.join(PATIENCE_S)
    assert not runner.is_alive()


def stop_a_running_camera(conn, community, clock):
    """A camera with frames for 1,000 s, stopped once it delivers: (the camera, the loop's
    thread, seconds from the stop to the loop's end)."""
    camera = FakeCamera([[]] * 100_000, interval_s=0.01)
    scanner, _, _ = scanner_on(community, conn, clock, camera,
                               Recovery(Reopen([]), wait=lambda s: None))
    stop = threading.Event()
    runner = threading.Thread(target=scanner.run, args=(stop,))
    runner.start()
    wait_for(lambda: camera.delivered > 0)
    stopped = time.monotonic()
    stop.set()
    runner.join(PATIENCE_S)
    return camera, runner, time.monotonic() - stopped


def test_stop_ends_the_loop_and_joins_the_camera_threads(conn, community, clock):
    camera, runner, _ = stop_a_running_camera(conn, community, clock)
    assert not runner.is_alive()
    assert not [t.name for t in threading.enumerate() if t.name.startswith("camera")]
    assert 0 < camera.delivered < 100_000  # it did not read on to the camera's end


@pytest.mark.proof
def test_stop_is_prompt(conn, community, clock):
    """Timed on the real clock (`make proofs`): the loop and its camera threads end within a
    second of the stop."""
    _, runner, seconds = stop_a_running_camera(conn, community, clock)
    assert not runner.is_alive() and seconds < 1.0


def test_a_kiosk_restarted_while_the_camera_was_lost_says_it_is_back(conn, community, clock):
    with SqliteUnitOfWork(conn) as uow:
        uow.events.add("camera_lost", "kiosk", clock.now(), reason="it delivered no frame")
    assert queries.camera_lost(conn)["reason"] == "it delivered no frame"
    stop = threading.Event()
    scanner, _, _ = scanner_on(community, conn, clock, FakeCamera([[]] * 3, "stop", stop=stop),
                               Recovery(Reopen([])))
    scanner.run(stop)
    assert [kind for kind, _, _ in camera_events(conn)] == ["camera_lost", "camera_back"]
    assert queries.camera_lost(conn) is None


def label_then_sigterm(community):
    """(a frame without a label, a camera): the camera shows nothing for 3 frames, then
    24-2403's label until its parcel is in the store; then it sends this process SIGTERM, as
    systemd stops the kiosk, and shows nothing until it is closed."""
    import os
    import signal
    import sqlite3

    import numpy as np

    from kiosk.app.sim.label_video import Scene, label_frame

    rng = np.random.default_rng(8)
    empty = label_frame(Scene(None), rng)
    held = label_frame(Scene(label(community, "24-2403").decode()), rng)

    def checked_in() -> bool:
        store = sqlite3.connect(community.database)
        try:
            return store.execute("SELECT COUNT(*) FROM parcels").fetchone()[0] > 0
        finally:
            store.close()

    class Terminating(FakeCamera):
        terminated = False

        def read(self):
            if self.frames:
                return super().read()
            if not self.terminated:  # the label was read and taken away
                self.terminated = True
                os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(self.interval_s)
            return empty

    return empty, Terminating([empty] * 3 + [held], interval_s=0.01, held_until=checked_in)


def run_kiosk_in_process(community, camera: str) -> int:
    """`shelf run --camera CAMERA` in this process until it stops; its exit code. The signal
    handlers it installs are put back."""
    import signal

    from kiosk.app.cli import main

    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        with pytest.raises(SystemExit) as done:
            main(["--config", str(community.path), "run", "--camera", camera])
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    return done.value.code


def test_shelf_run_brings_back_a_camera_unplugged_under_it(community, monkeypatch, caplog):
    """`shelf run` on device:0 (a camera of our own behind hardware.camera.open_source): the
    camera is lost, reopened after 1 s, and a label shown then checks in; SIGTERM stops it."""
    import hardware.camera

    empty, camera = label_then_sigterm(community)
    cameras = [FakeCamera([empty] * 3, "none"), camera]
    opened = []
    monkeypatch.setattr(hardware.camera, "open_source",
                        lambda spec, speed=1.0, loop=False: opened.append(spec) or cameras.pop(0))
    with caplog.at_level(logging.INFO):
        code = run_kiosk_in_process(community, "device:0")
    assert code == 0
    assert opened == ["device:0", "device:0"]
    assert "camera lost (it delivered no frame); reopening it in 1 s" in caplog.messages
    assert "camera back" in caplog.messages
    conn = connect(community.database)
    assert [tuple(r) for r in conn.execute("SELECT household_id FROM parcels")] == [("24-2403",)]
    assert [kind for kind, _, _ in camera_events(conn)] == ["camera_lost", "camera_back"]
