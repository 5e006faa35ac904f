"""The gate screen says when the kiosk's camera is lost, from the events the kiosk records."""

from __future__ import annotations

import pytest
from test_gate_browser import look, screen  # noqa: F401  (the page at 800x480)
from test_web_browser import live_server  # noqa: F401

from kiosk.store import SqliteUnitOfWork


def camera(conn, clock, kind, **detail):
    with SqliteUnitOfWork(conn) as uow:
        uow.events.add(kind, "kiosk", clock.now(), **detail)


def test_the_state_says_while_the_camera_is_lost(client, conn, clock):
    assert client.get("/gate/state").get_json()["camera_lost"] is False
    camera(conn, clock, "camera_lost", reason="it delivered no frame")
    first = client.get("/gate/state").get_json()
    assert first["camera_lost"] is True
    after = client.get(f"/gate/state?after={first['last_event_id']}").get_json()
    assert after["camera_lost"] is True and after["views"] == []  # not a scan's result
    assert "delivered" not in client.get("/gate/state").text  # the reason is for the log
    camera(conn, clock, "camera_back")
    assert client.get("/gate/state").get_json()["camera_lost"] is False


@pytest.mark.browser
def test_the_screen_shows_a_banner_in_both_languages_until_the_camera_is_back(
        screen, conn, clock, tmp_path):  # noqa: F811
    banner = screen.locator("#camera-lost")
    assert banner.is_hidden()
    camera(conn, clock, "camera_lost", reason="no frame for 5 s")
    banner.wait_for(state="visible")
    assert banner.inner_text().startswith("摄像头暂时无法使用")
    look(screen, "camera-lost", tmp_path)
    screen.tap("#lang")
    assert banner.inner_text().startswith("The camera is not working")
    camera(conn, clock, "camera_back")
    banner.wait_for(state="hidden")
