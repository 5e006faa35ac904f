"""The camera view (issue 23): while a staff page asks, the kiosk publishes what its camera
sees (a small JPEG and hardware.aiming's figures) about once a second; the page shows it.

Real parts: the kiosk's own viewer on a real store with zxing-cpp on a rendered frame, then a
real `shelf run` replaying an image folder beside the real staff site, and Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ADMIN_PASSWORD, BROWSER_TIMEOUT_MS, PATIENCE_S, assert_accessible, make_app
from playwright.sync_api import expect
from test_web import AuthActions

from hardware.aiming import AimingLook
from kiosk.app.sim.label_video import qr_matrix
from kiosk.camera_view import CameraViewer
from kiosk.clock import ManualClock, SystemClock
from kiosk.community import open_store
from kiosk.store.camera_view import latest_view, want_view
from kiosk.timefmt import iso

MODULE_PX = 5


def desk_with_a_code(module_px: int = MODULE_PX) -> np.ndarray:
    """A 640x480 frame of the desk with a QR code (not a label: the kiosk refuses it)."""
    frame = np.full((480, 640, 3), (90, 105, 120), dtype=np.uint8)
    code = qr_matrix("NOT A SHELF LABEL, LONG ENOUGH FOR A FULL QR CODE", module_px)
    frame[60:60 + code.shape[0], 80:80 + code.shape[1]] = code[:, :, None]
    return frame


def test_the_kiosk_publishes_a_frame_a_second_only_while_a_page_asks(community):
    conn = open_store(community)
    clock = ManualClock()
    viewer = CameraViewer(conn, AimingLook(), clock)
    frame = desk_with_a_code()
    assert not viewer.offer(frame) and latest_view(conn) is None  # nobody is looking

    clock.advance(1)
    want_view(conn, clock.now() + timedelta(seconds=15))
    assert viewer.offer(frame)
    seen = latest_view(conn)
    assert seen["jpeg"][:2] == b"\xff\xd8" and seen["seen_at"] == iso(clock.now())
    [code] = seen["sight"]["codes"]
    assert (code["kind"], code["read"], code["verdict"]) == ("qr", True, "good")
    assert code["module_px"] == pytest.approx(MODULE_PX, abs=0.2)
    assert (seen["sight"]["width"], seen["sight"]["height"]) == (640, 480)
    assert "SHELF LABEL" not in str(seen["sight"])  # never a code's text

    clock.advance(0.5)
    assert not viewer.offer(frame)  # a frame a second, not each frame
    clock.advance(0.5)
    assert viewer.offer(frame)
    want_view(conn, clock.now() - timedelta(seconds=5))  # an older ask never shortens it
    clock.advance(15)
    assert not viewer.offer(frame)  # the page was closed: the kiosk stops
    conn.close()


def kiosk_with_a_code_in_view(community, tmp_path: Path) -> subprocess.Popen:
    folder = tmp_path / "view"
    folder.mkdir()
    cv2.imwrite(str(folder / "0001.png"), desk_with_a_code())
    text = community.path.read_text().replace('replay = "once"', 'replay = "loop"')
    community.path.write_text(text)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("SHELF_NOW", None)
    return subprocess.Popen([sys.executable, "-m", "kiosk.app", "--config", str(community.path),
                             "run", "--camera", f"images:{folder}"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def frames_flowing(community, kiosk) -> None:
    conn = open_store(community)
    try:
        deadline = time.monotonic() + PATIENCE_S
        while time.monotonic() < deadline and kiosk.poll() is None:
            row = conn.execute("SELECT last_frame_at FROM kiosk_heartbeat").fetchone()
            if row is not None and row[0] is not None:
                return
            time.sleep(0.1)
    finally:
        conn.close()
    raise AssertionError(f"the kiosk read no frame (exit {kiosk.poll()})")


def test_the_page_asks_the_running_kiosk_and_shows_what_it_sees(community, tmp_path):
    kiosk = kiosk_with_a_code_in_view(community, tmp_path)
    try:
        frames_flowing(community, kiosk)
        client = make_app(community, SystemClock()).test_client()
        auth = AuthActions(client)
        assert auth.login().status_code == 302
        assert client.get("/camera/view").json["seen_at"] is None  # not asked: not sent
        assert client.get("/camera/frame.jpg").status_code == 404
        asked = client.post("/camera/watch", data={"csrf_token": auth.csrf("/camera")})
        assert asked.status_code == 200 and asked.headers["Cache-Control"] == "no-store"
        deadline = time.monotonic() + PATIENCE_S
        view = client.get("/camera/view").json
        while view["seen_at"] is None and time.monotonic() < deadline:
            time.sleep(0.2)
            view = client.get("/camera/view").json
        [code] = view["sight"]["codes"]
        assert code["module_px"] == pytest.approx(MODULE_PX, abs=0.2) and code["read"]
        jpeg = client.get("/camera/frame.jpg")
        assert jpeg.mimetype == "image/jpeg" and jpeg.data[:2] == b"\xff\xd8"
        assert jpeg.headers["Cache-Control"] == "no-store"
    finally:
        kiosk.terminate()
        kiosk.wait(PATIENCE_S)


@pytest.mark.parametrize(("width", "height", "lang"), [(390, 844, "zh"), (1280, 800, "en")])
def test_the_camera_view_in_chromium(browser, community, tmp_path, width, height, lang,
                                     screenshots):
    from conftest import screenshot, served

    kiosk = kiosk_with_a_code_in_view(community, tmp_path)
    try:
        frames_flowing(community, kiosk)
        app = make_app(community, SystemClock())
        with served(app) as site:
            context = browser.new_context(viewport={"width": width, "height": height},
                                          locale="zh-CN" if lang == "zh" else "en-GB")
            context.set_default_timeout(BROWSER_TIMEOUT_MS)
            try:
                page = context.new_page()
                page.goto(f"{site}/login?lang={lang}")
                page.fill("#username", "admin")
                page.fill("#password", ADMIN_PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(f"{site}/")
                page.goto(f"{site}/camera")
                expect(page.locator("#camera-codes polygon")).to_have_count(1)
                expect(page.locator("#camera-frame")).to_be_visible()
                said = page.locator(".camera-code").first.inner_text()
                assert f"{MODULE_PX}.0" in said
                assert ("良好" if lang == "zh" else "good") in said
                assert page.locator("#camera-codes polygon").get_attribute("class") == "good"
                scroll = page.evaluate("document.scrollingElement.scrollWidth")
                assert scroll <= width, f"the page scrolls sideways ({scroll} px)"
                assert_accessible(page, f"/camera ({width} px, {lang})")
                screenshot(page, screenshots / f"camera-view-{lang}.png")
            finally:
                context.close()
    finally:
        kiosk.terminate()
        kiosk.wait(PATIENCE_S)
