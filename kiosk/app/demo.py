"""`shelf demo`: the whole flow on this machine, with a replayed camera and gpiozero's mock pins.

1. a fresh sample community in ``--dir``, a real SMTP server on localhost that keeps mail, and
   an SMS gateway's webhook (a local HTTP receiver) that keeps texts;
2. a video of a courier holding up labels (and a forged one, and a stray QR code);
3. the staff site on localhost, the notice worker, and the kiosk loop replaying the video;
4. then the resident of 24-2304 shows the pickup QR from the mail they received.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk import queries
from kiosk.app.sim.mailcatcher import MailCatcher, free_port
from kiosk.app.sim.receiver import Receiver
from kiosk.clock import SystemClock
from kiosk.community import init_community, open_store
from kiosk.config import Config, load_config
from kiosk.domain import HouseholdId, mask_household
from kiosk.households import import_households
from kiosk.labels import make_label
from kiosk.outcome import Outcome
from kiosk.ports import Clock, Frame
from kiosk.services import Rules
from kiosk.store import SqliteUnitOfWork

if TYPE_CHECKING:
    from kiosk.app.sim.label_video import Scene

log = logging.getLogger(__name__)

DEMO_PASSWORD = "demo-2304"
MARKER = ".shelf-demo"
RESIDENT = "24-2304"
NO_EMAIL = "13-1102"  # a household with a phone and no e-mail address in the sample list
# --fast replays the 10 fps video this many times faster: a 30 fps camera, the most a real one
# delivers.
FAST_SPEED = 3.0
NOTICES_WAIT_S = 60.0  # how long the demo waits for its notices to go out: a busy machine's
                       # worker is slow, yet the summary must tell the truth


class VideoTime:
    """The demo kiosk's clock: the real ``now()``, and as ``monotonic()`` the time its replays
    have shown so far (debouncing counts the courier's seconds, not the decoder's)."""

    def __init__(self, clock: Clock) -> None:
        self.clock, self.seconds = clock, 0.0

    def now(self) -> datetime:
        return self.clock.now()

    def monotonic(self) -> float:
        return self.seconds


class Replay:
    """The courier's video at ``speed``, every frame of it decoded, moving ``time`` on.

    Not ``paced`` as a live camera is: the kiosk reads each frame on its own thread and, on a
    busy machine, falls behind instead of skipping the frames that hold a label; its clock
    follows the video. So every run of the demo shows the same, on any machine. (Decoding a
    live camera's newest frame is the kiosk's own, tested and measured apart.)
    """

    paced = False

    def __init__(self, path: Path, speed: float, time: VideoTime) -> None:
        from hardware.camera import open_source

        self.video, self.time = open_source(f"video:{path}", speed=speed), time

    def read(self) -> Frame | None:
        frame = self.video.read()
        if frame is not None:
            self.time.seconds += 1 / self.video.fps
        return frame

    def close(self) -> None:
        self.video.close()


def run_demo(directory: Path, *, port: int = 8080, fast: bool = False,
             clock: Clock | None = None, exit_when_done: bool = False,
             stop: threading.Event | None = None) -> int:
    """Run the demo; serve the site until ``stop`` is set unless ``exit_when_done``."""
    from kiosk.app.sim.label_video import Scene, write_label_video
    from kiosk.app.wiring import build_scanner
    from kiosk.notices.delivery import build_channels, run_worker

    stop = stop or threading.Event()
    speed = FAST_SPEED if fast else 1.0
    _fresh_folder(directory)
    clock = clock or SystemClock()
    with MailCatcher(directory / "mail") as mail, Receiver(directory / "sms") as gateway:
        config, _ = init_community(directory, DEMO_PASSWORD, smtp_port=mail.port)
        config = _with_sms_gateway(config, gateway)
        conn = open_store(config)
        import_households(SqliteUnitOfWork(conn), config.community.buildings,
                          directory / "households.csv", clock.now(), "demo", apply=True,
                          rules=Rules.from_config(config))
        # Each label a second in view: every frame is decoded, so longer only costs time.
        video = write_label_video(directory / "labels.avi", courier_scenes(config, conn),
                                  hold_s=1.0, gap_s=0.5)
        server, url = _start_web(config, port, clock)
        worker_stop = threading.Event()
        worker = threading.Thread(
            target=run_worker, name="notices", daemon=True,
            args=(SqliteUnitOfWork(open_store(config)), build_channels(config.channels), clock,
                  worker_stop),
            kwargs={"timezone": config.community.timezone,
                    "language": config.community.language})
        worker.start()
        _say(f"Staff site: {url}  (login: admin / {DEMO_PASSWORD})")
        _say(f"Gate screen (the kiosk's own display): {url}gate")
        _say(f"Mail to households lands in {directory / 'mail'} (SMTP on 127.0.0.1:{mail.port})")
        _say(f"Texts to households without e-mail land in {directory / 'sms'} (an SMS gateway's "
             f"webhook on {gateway.url})")
        _say("A courier holds labels to the camera:")
        video_time = VideoTime(clock)
        scanner = build_scanner(config, conn, video_time,
                                source=Replay(video, speed, video_time),
                                on_result=_print_result)
        try:
            scanner.run(stop)
            if not stop.is_set():
                qr = _pickup_qr_from_mail(mail, conn)
                _say(f"The resident of {mask_household(RESIDENT)} shows the QR code from the mail:")
                pickup = write_label_video(directory / "pickup.avi", [Scene(qr, "pickup")])
                scanner.source.close()
                scanner.source = Replay(pickup, speed, video_time)
                scanner.run(stop)
            _wait_for_notices(conn, stop)
            waiting = queries.waiting_count(conn)
            _say(f"Done: {waiting} parcels wait on the shelf; {len(mail.messages)} mails and "
                 f"{len(gateway.requests)} texts sent.")
            if not exit_when_done:
                _say(f"The staff site stays up at {url}. Press Ctrl-C to stop.")
                stop.wait()
        finally:
            scanner.close()
            worker_stop.set()
            worker.join(timeout=10)
            server.shutdown()
    return 0


def _with_sms_gateway(config: Config, gateway: Receiver) -> Config:
    """Add an SMS channel after the e-mail one: a household without e-mail gets a text."""
    with config.path.open("a", encoding="utf-8") as file:
        file.write(f"""
# The demo's SMS gateway: a local receiver (kiosk/app/sim/receiver.py) keeps each text.
[[channels]]
type = "webhook"
id = "sms"
url = "{gateway.url}/sms/send"
body = {{ sign = "示例花园", content = "{{text}}" }}
phone_field = "mobile"
ok_field = "errcode"
""")
    return load_config(config.path)


def courier_scenes(config: Config, conn: sqlite3.Connection) -> list[Scene]:
    """The labels a courier holds up: sample households, a repeat, a forgery and a stray code."""
    from kiosk.app.sim.label_video import Scene

    rows = [h for h in queries.household_ids(conn) if h not in (RESIDENT, "24-2403")]
    others = [*rows[::4][:9], NO_EMAIL]  # the last is told by text: it has no e-mail address
    order = [RESIDENT, others[0], "24-2403", *others[1:5], RESIDENT, *others[5:]]
    scenes = [Scene(make_label(config.label_secret, HouseholdId.parse(h)), h) for h in order]
    forged = make_label(b"not-this-community-secret", HouseholdId.parse("24-2403"))
    scenes.insert(4, Scene(forged, "forged"))
    scenes.insert(8, Scene("https://example.com/coupon", "stray QR"))
    scenes.append(scenes[1])  # the courier scans one parcel twice: same slot, nothing new
    return scenes


def _pickup_qr_from_mail(mail: MailCatcher, conn: sqlite3.Connection) -> str:
    """Read the pickup QR out of the resident's mail, as their phone would show it."""
    import cv2
    import numpy as np

    from hardware.decoder import ZbarDecoder

    address = queries.household_email(conn, RESIDENT)
    for _ in range(int(NOTICES_WAIT_S / 0.5)):
        for message in reversed(mail.wait_for(1)):
            if address in message["To"]:
                for part in message.iter_attachments():
                    png = np.frombuffer(part.get_content(), np.uint8)
                    symbols = ZbarDecoder().decode(cv2.imdecode(png, cv2.IMREAD_GRAYSCALE))
                    return symbols[0].data.decode("ascii")
        threading.Event().wait(0.5)
    raise RuntimeError(f"no pickup mail for {RESIDENT} arrived")


def _wait_for_notices(conn: sqlite3.Connection, stop: threading.Event,
                      timeout: float = NOTICES_WAIT_S):
    """Let the notice worker send what the replay queued, so the summary tells the truth."""
    for _ in range(int(timeout / 0.25)):
        if queries.pending_notices(conn) == 0 or stop.wait(0.25):
            return


def _start_web(config: Config, port: int, clock: Clock):
    from werkzeug.serving import make_server

    from hardware.decoder import DecoderChain
    from web import create_app

    app = create_app(config, clock=clock, decoder=DecoderChain())  # door stickers photographed
    try:
        server = make_server("127.0.0.1", port, app, threaded=True)
    except OSError:  # the port is taken (or 0): any free one will do for a demo
        server = make_server("127.0.0.1", free_port(), app, threaded=True)
    threading.Thread(target=server.serve_forever, name="web", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/"


def _fresh_folder(directory: Path) -> None:
    if directory.exists():
        if not (directory / MARKER).exists() and any(directory.iterdir()):
            raise FileExistsError(f"{directory} exists and is not a demo folder; not touching it")
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    (directory / MARKER).write_text("made by `shelf demo`; removed by the next demo\n")


def _print_result(result: Outcome) -> None:
    who = mask_household(result.household or "")
    if result.action == "checkin":
        what = "same parcel again, same slot" if result.repeat else (
            "door delivery by staff" if result.door_delivery else "pickup notice queued")
        _say(f"  check-in  {who:<10} -> slot {result.slot:<6} ({what})")
    elif result.action == "pickup":
        _say(f"  pickup    {who:<10} -> slot(s) {', '.join(result.slots)} blink; "
             f"{len(result.parcels)} parcel(s) handed out")
    else:
        _say(f"  refused   {result.error}: {result.message}")


def _say(line: str) -> None:
    print(line, flush=True)
