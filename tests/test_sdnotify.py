"""sd_notify and the watchdog: `shelf run` as systemd runs it, heard on a real AF_UNIX socket.

systemd's side is played by a datagram socket the test binds (a file, or an abstract name);
the kiosk is the real `shelf run` subprocess on a replayed video, and the stuck camera is that
same video whose reads stop returning (a fake of our own FrameSource port, nothing else).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest
from conftest import PATIENCE_S, wait_for
from test_cli_run import labels

from kiosk.app.sdnotify import notify, watchdog_interval
from kiosk.app.sim.label_video import write_label_video


class Listener:
    """systemd's end of $NOTIFY_SOCKET: every datagram received, with when it came."""

    def __init__(self, address: str) -> None:
        self.address = address  # what goes into NOTIFY_SOCKET
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._done.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            for line in data.decode().splitlines():
                self.messages.append((time.monotonic(), line))

    def lines(self) -> list[str]:
        return [line for _, line in self.messages]

    def when(self, line: str) -> list[float]:
        return [at for at, said in self.messages if said == line]

    def wait_for(self, line: str, timeout: float = PATIENCE_S) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.when(line):
                return self.when(line)[0]
            time.sleep(0.05)
        raise AssertionError(f"{line!r} never came; heard {self.lines()}")

    def close(self) -> None:
        self._done.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def listener():
    heard = Listener(f"@shelf-test-{uuid.uuid4().hex}")
    yield heard
    heard.close()


def test_notify_sends_one_datagram_to_a_socket_file():
    folder = tempfile.mkdtemp(dir="/tmp")  # a socket's path must stay under 108 bytes
    heard = Listener(f"{folder}/notify")
    try:
        assert notify("READY=1", "STATUS=scanning", environ={"NOTIFY_SOCKET": heard.address})
        heard.wait_for("STATUS=scanning")
        assert heard.lines() == ["READY=1", "STATUS=scanning"]
    finally:
        heard.close()
        os.unlink(f"{folder}/notify")
        os.rmdir(folder)


def test_notify_reaches_an_abstract_socket_and_is_silent_outside_systemd(listener):
    assert notify("WATCHDOG=1", environ={"NOTIFY_SOCKET": listener.address})
    listener.wait_for("WATCHDOG=1")
    assert not notify("READY=1", environ={})
    assert not notify("READY=1", environ={"NOTIFY_SOCKET": "@nobody-listens-here"})


def test_watchdog_interval_is_half_of_watchdog_sec_and_only_for_this_process():
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) \
        == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}) is None


STALLING_KIOSK = textwrap.dedent("""
    # `shelf run` whose replayed camera stops answering after some frames: a driver that hangs.
    import sys
    import threading

    import hardware.camera as camera
    from kiosk.app.cli import main

    frames = int(sys.argv[1])
    real_read = camera.VideoFileSource.read

    def read(self):
        global frames
        frames -= 1
        if frames < 0:
            threading.Event().wait()  # never returns
        return real_read(self)

    camera.VideoFileSource.read = read
    main(sys.argv[2:])
""")


def start_kiosk(community, tmp_path, listener, video, *, stall_after=None, watchdog_s=1.0):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NOTIFY_SOCKET": listener.address,
           "WATCHDOG_USEC": str(int(watchdog_s * 1_000_000))}
    env.pop("GPIOZERO_PIN_FACTORY", None)
    env.pop("WATCHDOG_PID", None)
    if stall_after is None:
        command = [sys.executable, "-m", "kiosk.app"]
    else:
        script = tmp_path / "stalling_kiosk.py"
        script.write_text(STALLING_KIOSK)
        command = [sys.executable, str(script), str(stall_after)]
    command += ["--config", str(community.path), "run", "--camera", f"video:{video}"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=Path(__file__).resolve().parents[1])


def set_freeze_seconds(community, seconds):
    text = community.path.read_text()
    community.path.write_text(text.replace("camera_freeze_seconds = 5",
                                           f"camera_freeze_seconds = {seconds}"))


def run_until_pinged(community, tmp_path, listener, pings: int) -> str:
    """`shelf run` under a WatchdogSec of 1 s, stopped by SIGTERM once it has pinged ``pings``
    times; its log (it must exit 0)."""
    video = write_label_video(tmp_path / "gate.avi", labels(community, "24-2304", "24-2403",
                                                            "24-2304"), hold_s=1.0, gap_s=1.0)
    kiosk = start_kiosk(community, tmp_path, listener, video)
    try:
        wait_for(lambda: len(listener.when("WATCHDOG=1")) >= pings)
        kiosk.send_signal(signal.SIGTERM)
        _, err = kiosk.communicate(timeout=PATIENCE_S)
    finally:
        kiosk.kill()
    assert kiosk.returncode == 0, err
    return err


def test_run_is_ready_after_the_first_frame_pings_while_scanning_and_says_stopping(
        community, tmp_path, listener):
    err = run_until_pinged(community, tmp_path, listener, 3)
    heard = listener.lines()
    assert heard[0] == "STATUS=starting: waiting for the first frame"
    assert heard.index("READY=1") < heard.index("STATUS=scanning") < heard.index("WATCHDOG=1")
    # never fed before it is ready, and not after it said it is stopping
    assert heard.index("STOPPING=1") > max(i for i, line in enumerate(heard)
                                            if line == "WATCHDOG=1")
    assert "kiosk ready: the first frame is read and the lights are restored" in err
    assert "kiosk stopped: LEDs off, camera released, database closed" in err
    wal = community.database.with_name(community.database.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # the log is in the database file


@pytest.mark.proof
def test_run_pings_at_half_of_watchdog_sec(community, tmp_path, listener):
    """Timed on the real clock (`make proofs`): pings every 0.5 s under a WatchdogSec of 1 s,
    never a gap that lets it run out."""
    run_until_pinged(community, tmp_path, listener, 5)
    pings = listener.when("WATCHDOG=1")
    assert all(b - a < 0.9 for a, b in zip(pings, pings[1:], strict=False)), pings


def test_a_stuck_camera_stops_the_pings_and_says_why(community, tmp_path, listener):
    set_freeze_seconds(community, 1)
    video = write_label_video(tmp_path / "gate.avi", labels(community, "24-2304"),
                              hold_s=4.0, gap_s=4.0)
    kiosk = start_kiosk(community, tmp_path, listener, video, stall_after=30)  # about 1 s
    stuck = "STATUS=unwell: no frame from the camera for more than 1 s"
    try:
        listener.wait_for("READY=1")
        listener.wait_for(stuck)
        time.sleep(2.0)  # four pings' worth of time: a kiosk still fed would ping meanwhile
        kiosk.send_signal(signal.SIGTERM)
        _, err = kiosk.communicate(timeout=PATIENCE_S)
    finally:
        kiosk.kill()
    heard = listener.lines()
    # A machine too busy to hand over a frame for 1 s makes the kiosk unwell early, and well
    # again: what counts is that it was fed while frames came, and never after it got stuck.
    last_stuck = max(i for i, line in enumerate(heard) if line == stuck)
    assert "WATCHDOG=1" in heard[:last_stuck], heard
    assert "WATCHDOG=1" not in heard[last_stuck:], heard
    assert [line for line in heard[last_stuck:] if line.startswith("STATUS=")
            and not line.startswith("STATUS=stopping")] == [stuck], heard  # never well again
    assert "kiosk unwell: no frame from the camera" in err
    assert kiosk.returncode == 0, err  # SIGTERM still stops it cleanly, stuck read and all


def test_without_notify_socket_the_kiosk_runs_as_before(community, tmp_path):
    from test_cli_run import start

    video = write_label_video(tmp_path / "gate.avi", labels(community, "24-2304"),
                              hold_s=0.5, gap_s=0.3)
    env_free = start(community, "--camera", f"video:{video}")
    _, err = env_free.communicate(timeout=PATIENCE_S)
    assert env_free.returncode == 0, err
    assert "kiosk stopped: LEDs off, camera released, database closed" in err


def test_a_store_that_stops_answering_stops_the_pings(community, clock, listener, monkeypatch):
    from test_scanner import ListSource, RecordingBuzzer, RecordingLights, TableDecoder

    from kiosk.app.watchdog import KioskWatch
    from kiosk.scanner import Scanner
    from kiosk.services import Rules
    from kiosk.store import SqliteUnitOfWork, connect

    monkeypatch.setenv("NOTIFY_SOCKET", listener.address)
    conn = connect(community.database)
    scanner = Scanner(source=ListSource([]), decoder=TableDecoder(),
                      lights=RecordingLights(community.database), buzzer=RecordingBuzzer(),
                      uow=SqliteUnitOfWork(conn), rules=Rules.from_config(community),
                      clock=clock, debounce_s=2.0)
    watch = KioskWatch(scanner, conn, clock, stale_s=5.0, ping_every_s=1.0)
    scanner.refresh_lights()
    watch.tick()  # no frame yet: not ready, not fed
    scanner.last_frame_at = clock.monotonic()  # what the loop notes for each frame
    for _ in range(3):
        scanner.refresh_lights()
        watch.tick()
        clock.advance(1.0)
        scanner.last_frame_at = clock.monotonic()
    listener.wait_for("WATCHDOG=1")
    conn.close()  # the store stops answering; frames still come
    for _ in range(12):
        scanner.refresh_lights()
        watch.tick()
        clock.advance(1.0)
        scanner.last_frame_at = clock.monotonic()
    listener.wait_for("STATUS=unwell: the store does not answer")  # the last one sent:
    heard = listener.lines()  # every datagram before it has arrived too (in order)
    assert heard[:2] == ["READY=1", "STATUS=scanning"]
    # Fed while the store's last answer was under stale_s (5 s) old, then never again: the
    # last 7 of those 12 seconds passed without a ping, and systemd's WatchdogSec runs out.
    assert heard.count("WATCHDOG=1") == 3 + 5
    assert heard[-1] == "STATUS=unwell: the store does not answer"


def test_a_replay_that_ends_stops_cleanly_and_says_so(community, tmp_path, listener):
    """Exit 0, which the kiosk's unit (Restart=on-failure) leaves be: `systemctl status`
    keeps the reason as its last STATUS."""
    video = write_label_video(tmp_path / "gate.avi", labels(community, "24-2304"),
                              hold_s=0.5, gap_s=0.3)
    kiosk = start_kiosk(community, tmp_path, listener, video)
    _, err = kiosk.communicate(timeout=60)
    assert kiosk.returncode == 0, err
    last = listener.wait_for(f"STATUS=stopped: the replay video:{video} ended", timeout=5)
    assert last == max(at for at, _ in listener.messages)
    assert listener.when("STOPPING=1")[0] < last
