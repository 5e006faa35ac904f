"""The camera's still of each scan: kept with its event, shown to staff, deleted after N days.

Real parts throughout: frames rendered as the camera sees a label, the real decoder and JPEG
encoder, the real SQLite file, the staff site through Flask's client, the `shelf` command.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import pickup_code
from test_web import AuthActions

from hardware.decoder import ZbarDecoder
from hardware.stills import MAX_BYTES, JpegStills
from kiosk.app.sim.label_video import Pose, Scene, label_frame
from kiosk.app.wiring import build_scanner
from kiosk.community import write_sample
from kiosk.config import load_config
from kiosk.domain import HouseholdId
from kiosk.errors import ConfigError
from kiosk.labels import make_label
from kiosk.observation_register import upload
from kiosk.retention import prune_stills
from kiosk.services import Rules, act_on_code
from kiosk.store import SqliteUnitOfWork

DAY = 24 * 3600
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "qr-corpus"


class NoFrames:
    """The tests hand frames to process_frame themselves."""

    def read(self):
        return None

    def close(self):
        pass


class CountingStills:
    """A recording StillEncoder (our own port): how often a frame was encoded."""

    def __init__(self):
        self.encoded = 0

    def encode(self, frame):
        self.encoded += 1
        return JpegStills().encode(frame)


def held_up(payload: str, seed: int = 0):
    """A 640 x 480 camera frame of a label with ``payload``, held square in the middle."""
    return label_frame(Scene(payload, "24-2304"), np.random.default_rng(seed),
                       Pose(0, 320, 240, 1.0))


def empty_view(seed: int = 0):
    return label_frame(Scene(None), np.random.default_rng(seed))


def label(config, household: str = "24-2304", ref: str | None = None) -> str:
    return make_label(config.label_secret, HouseholdId.parse(household), ref)


@pytest.fixture
def scanner(community, conn, clock, factory):
    made = build_scanner(community, conn, clock, source=NoFrames(), pin_factory=factory)
    yield made
    made.close()


@pytest.fixture
def staff(client):
    AuthActions(client).login()
    return client


def event_of(conn, kind: str, parcel: int | None = None) -> int:
    row = conn.execute("SELECT id FROM events WHERE kind = ? AND parcel_id IS ? ORDER BY id DESC",
                       (kind, parcel)).fetchone()
    assert row, f"no {kind} event for parcel {parcel}"
    return row["id"]


def decoded_jpeg(data: bytes):
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a JPEG that OpenCV can read"
    return image


def shelf(config, *args, now=None):
    env = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock"}
    if now is not None:
        env["SHELF_NOW"] = now.isoformat()
    return subprocess.run([sys.executable, "-m", "kiosk.app", "--config", str(config.path),
                           *args], capture_output=True, text=True, env=env, timeout=60)


# --- the lifecycle: taken, shown, deleted ---------------------------------------------------

def test_a_check_in_keeps_its_still_staff_see_it_and_it_is_deleted_after_the_days(
        community, conn, clock, scanner, staff):
    payload = label(community, ref="SF2304")
    [result] = scanner.process_frame(held_up(payload))
    assert result.action == "checkin"
    event = event_of(conn, "checked_in", result.parcel)

    slot_page = staff.get(f"/shelf/slot/{result.slot}").text
    assert f'href="/parcels/{result.parcel}"' in slot_page
    page = staff.get(f"/parcels/{result.parcel}")
    assert page.status_code == 200
    assert f'<img class="still" src="/stills/{event}.jpg"' in page.text
    assert "24-2304" in page.text and "SF2304" in page.text
    assert "快递员（摄像头）" in page.text and "courier@kiosk" not in page.text  # who, in words

    still = staff.get(f"/stills/{event}.jpg")
    assert still.status_code == 200 and still.mimetype == "image/jpeg"
    assert still.headers["Cache-Control"].startswith("private")
    image = decoded_jpeg(still.data)
    assert image.shape[:2] == (240, 320)  # the 640 x 480 frame, downscaled
    assert len(still.data) <= MAX_BYTES
    # What staff see is the very label that was scanned: its code still reads in the still.
    assert [s.data.decode() for s in ZbarDecoder().decode(image)] == [payload]

    clock.advance(community.kiosk.stills_days * DAY - 60)  # a minute short: still kept
    assert prune_stills(SqliteUnitOfWork(conn), clock, community.kiosk.stills_days).deleted == 0
    AuthActions(staff).login()  # two weeks on: the sign-in has expired
    assert staff.get(f"/stills/{event}.jpg").status_code == 200

    clock.advance(3600)  # the kiosk's next hourly round
    report = shelf(community, "stills", "prune", "--json", now=clock.now())
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["deleted"] == 1

    page = staff.get(f"/parcels/{result.parcel}").text
    assert "/stills/" not in page and "<img" not in page  # no broken image
    assert "deleted after 14 days" in staff.get(f"/parcels/{result.parcel}?lang=en").text
    assert "14 天后删除" in staff.get(f"/parcels/{result.parcel}?lang=zh").text
    assert staff.get(f"/stills/{event}.jpg").status_code == 404
    row = conn.execute("SELECT jpeg, deleted_at FROM stills").fetchone()
    assert row["jpeg"] is None and row["deleted_at"]  # the picture is gone from the store


def test_a_refusal_keeps_the_still_of_the_forged_label(community, conn, scanner, staff):
    forged = make_label(b"another-community-key-0123456789", HouseholdId(24, "2304"))
    [result] = scanner.process_frame(held_up(forged))
    assert (result.action, result.error) == ("rejected", "forged")
    event = event_of(conn, "scan_refused")
    still = staff.get(f"/stills/{event}.jpg")
    assert still.status_code == 200
    assert [s.data.decode() for s in ZbarDecoder().decode(decoded_jpeg(still.data))] == [forged]


def test_a_pickup_of_two_parcels_keeps_one_still_shown_on_both_records(
        community, conn, clock, scanner, staff):
    first = scanner.process_frame(held_up(label(community, ref="SF1"), 1))[0]
    second = scanner.process_frame(held_up(label(community, ref="SF2"), 2))[0]
    mailed = conn.execute("SELECT payload FROM outbox WHERE household_id = '24-2304'"
                          " ORDER BY id DESC").fetchone()["payload"]
    clock.advance(600)
    [pickup] = scanner.process_frame(held_up(json.loads(mailed)["pickup_qr"], 3))
    assert pickup.action == "pickup" and set(pickup.parcels) == {first.parcel, second.parcel}

    assert conn.execute("SELECT COUNT(*) FROM stills").fetchone()[0] == 3  # one per scan
    collected = [event_of(conn, "collected", p) for p in pickup.parcels]
    for parcel, event in zip(pickup.parcels, collected, strict=True):
        page = staff.get(f"/parcels/{parcel}").text
        assert page.count('<img class="still"') == 2  # its check-in and its pickup
        assert f'src="/stills/{event}.jpg"' in page
    one, two = (staff.get(f"/stills/{e}.jpg").data for e in collected)
    assert one == two


def test_stills_are_for_signed_in_staff_only(community, conn, scanner, client):
    [result] = scanner.process_frame(held_up(label(community)))
    event = event_of(conn, "checked_in", result.parcel)
    for path in (f"/parcels/{result.parcel}", f"/stills/{event}.jpg"):
        page = client.get(path)
        assert page.status_code == 302 and "/login" in page.headers["Location"]
        assert client.get(path, headers={"Accept": "application/json"}).status_code == 401
    token = community.web.api_tokens[0]
    refused = client.get(f"/stills/{event}.jpg", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code in (302, 401)  # a machine's token opens the API, not photos
    assert "still" not in client.get("/gate/state?after=0",
                                      environ_base={"REMOTE_ADDR": "127.0.0.1"}).text


def test_a_typed_pickup_has_no_still_and_the_record_says_nothing_of_one(
        community, conn, clock, scanner, staff):
    [result] = scanner.process_frame(held_up(label(community)))
    act_on_code(pickup_code(conn, "24-2304"), SqliteUnitOfWork(conn),
                Rules.from_config(community), clock)
    page = staff.get(f"/parcels/{result.parcel}?lang=en").text
    assert page.count('<img class="still"') == 1 and "deleted" not in page
    assert 'data-kind="collected"' in page


def test_unknown_parcel_is_404(staff):
    assert staff.get("/parcels/999999").status_code == 404
    assert staff.get("/stills/999999.jpg").status_code == 404


# --- what is encoded, and when ----------------------------------------------------------------

def test_only_a_frame_that_acts_is_encoded(community, conn, clock, factory):
    counting = CountingStills()
    scanner = build_scanner(community, conn, clock, source=NoFrames(), pin_factory=factory)
    scanner.stills = counting
    try:
        for n in range(5):
            assert scanner.process_frame(empty_view(n)) == []
        payload = label(community)
        acted = [scanner.process_frame(held_up(payload, n)) for n in range(10)]  # held still
    finally:
        scanner.close()
    assert [len(a) for a in acted] == [1] + [0] * 9  # debounced: it acts once
    assert counting.encoded == 1


def test_stills_days_zero_takes_no_still(community, conn, clock, factory, staff):
    none_kept = dataclasses.replace(community, kiosk=dataclasses.replace(community.kiosk,
                                                                         stills_days=0))
    scanner = build_scanner(none_kept, conn, clock, source=NoFrames(), pin_factory=factory)
    try:
        [result] = scanner.process_frame(held_up(label(community)))
    finally:
        scanner.close()
    assert result.action == "checkin"
    assert conn.execute("SELECT COUNT(*) FROM stills").fetchone()[0] == 0
    assert "<img" not in staff.get(f"/parcels/{result.parcel}").text


# --- one transaction: no event without its still, no still without its event --------------

def test_a_still_that_cannot_be_stored_leaves_no_check_in(community, conn, scanner):
    conn.execute("CREATE TEMP TRIGGER break_stills BEFORE INSERT ON event_stills "
                 "BEGIN SELECT RAISE(ABORT, 'no room for the still'); END")
    [result] = scanner.process_frame(held_up(label(community)))
    assert result.action == "rejected" and result.retryable  # tried again while in view
    for table in ("parcels", "stills", "event_stills", "outbox"):
        assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0, table
    assert conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'checked_in'").fetchone()[0] == 0


def test_a_check_in_that_fails_at_its_last_write_leaves_no_still(community, conn, scanner):
    conn.execute("CREATE TEMP TRIGGER break_signals BEFORE INSERT ON signals "
                 "BEGIN SELECT RAISE(ABORT, 'the last write fails'); END")
    [result] = scanner.process_frame(held_up(label(community)))
    assert result.action == "rejected"
    assert conn.execute("SELECT COUNT(*) FROM parcels").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM stills").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM event_stills").fetchone()[0] == 0


# --- retention --------------------------------------------------------------------------------

def test_prune_deletes_in_batches_oldest_first_and_keeps_the_young(community, conn, clock,
                                                                   scanner):
    for n in range(7):
        scanner.process_frame(held_up(label(community, ref=f"SF{n}"), n))
        clock.advance(DAY)  # one still a day, 7 days
    report = prune_stills(SqliteUnitOfWork(conn), clock, 3, batch=2)
    assert report.deleted == 4  # taken 7, 6, 5 and 4 days ago; 3 days ago is not older
    kept = conn.execute("SELECT COUNT(*) FROM stills WHERE jpeg IS NOT NULL").fetchone()[0]
    assert kept == 3
    assert prune_stills(SqliteUnitOfWork(conn), clock, 0).deleted == 3  # 0: keep none


def test_shelf_run_deletes_old_stills_and_uploads_at_start(community, conn, clock, scanner,
                                                          tmp_path):
    scanner.process_frame(held_up(label(community)))
    upload(b"\xef\xbb\xbf\xe6\x88\xb7\xe5\x8f\xb7\r\n24-2304\r\n", "名单.csv",
           SqliteUnitOfWork(conn), clock, actor="li@web")
    folder = tmp_path / "camera"
    folder.mkdir()
    cv2.imwrite(str(folder / "empty.png"), empty_view())
    later = clock.now() + timedelta(days=community.web.uploads_days, hours=1)
    done = shelf(community, "run", "--camera", f"images:{folder}", now=later)
    assert done.returncode == 0, done.stderr
    assert "deleted 1 still(s)" in done.stderr
    assert "deleted 1 uploaded list(s) kept since" in done.stderr
    store = sqlite3.connect(community.database)
    assert store.execute("SELECT COUNT(*) FROM stills WHERE jpeg IS NOT NULL").fetchone()[0] == 0
    assert store.execute("SELECT COUNT(*) FROM observation_files WHERE data IS NOT NULL"
                         ).fetchone()[0] == 0


@pytest.mark.parametrize("setting, value, message", [
    ("stills_days = 14", "-1", r"\[kiosk\] stills_days = -1: allowed range is 0 to 365"),
    ("stills_days = 14", "400", r"\[kiosk\] stills_days = 400: allowed range is 0 to 365"),
    ("stills_days = 14", '"14"',
     r"\[kiosk\] stills_days = '14': must be a whole number from 0 to 365"),
    ("uploads_days = 30", "0", r"\[web\] uploads_days = 0: allowed range is 1 to 365"),
    ("uploads_days = 30", '"30"',
     r"\[web\] uploads_days = '30': must be a whole number from 1 to 365"),
])
def test_the_days_kept_are_validated_naming_the_key(tmp_path, setting, value, message):
    path, _ = write_sample(tmp_path / "c", "a password")
    text = path.read_text(encoding="utf-8")
    assert setting in text
    key = setting.split(" = ")[0]
    path.write_text(text.replace(setting, f"{key} = {value}", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_a_typo_in_stills_days_is_named(tmp_path):
    path, _ = write_sample(tmp_path / "c", "a password")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("stills_days = 14", "still_days = 14", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[kiosk\] has unknown key 'still_days'.*stills_days"):
        load_config(path)


# --- the size budget ----------------------------------------------------------------------------

def test_stills_fit_the_budget_on_rendered_frames_and_real_photos():
    encoder = JpegStills()
    rng = np.random.default_rng(8)
    frames = [label_frame(Scene(f"DS1:24-{2300 + n}:SF{n}:ABCDEFGHIJKLMNOP", "x"), rng)
              for n in range(10)]
    wide = cv2.resize(frames[0], (1280, 720))  # a 720p camera
    sizes = [len(encoder.encode(f)) for f in frames]
    assert max(sizes) <= 10 * 1024  # measured 6-7 KB (README)
    assert decoded_jpeg(encoder.encode(wide)).shape[:2] == (180, 320)
    photos = sorted(CORPUS.glob("**/*.png"))[:60] + sorted(CORPUS.glob("**/*.jpg"))[:60]
    if not photos:
        pytest.skip(f"the photo corpus is not at {CORPUS}")
    for photo in photos:
        still = encoder.encode(cv2.imread(str(photo), cv2.IMREAD_COLOR))
        assert len(still) <= MAX_BYTES, photo
        assert decoded_jpeg(still).shape[1] <= 320
