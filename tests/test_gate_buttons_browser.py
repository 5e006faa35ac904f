"""The gate screen says what a slot's button said (kiosk.placing): a wrong slot large, in both
languages, until the right one is pressed; a slot never pressed. Real Chromium at 800x480."""

from __future__ import annotations

import pytest
from buttons import add_buttons
from conftest import check_in
from test_gate_browser import look, screen  # noqa: F401  (the gate page at its size)
from test_web_browser import live_server  # noqa: F401  (the real app on 127.0.0.1)

from kiosk.community import open_store
from kiosk.placing import press, record_unplaced
from kiosk.services import Rules
from kiosk.store import SqliteUnitOfWork

pytestmark = pytest.mark.browser


@pytest.fixture
def buttoned(community):
    """The community's slots given buttons, as the kiosk would have mirrored them."""
    config = add_buttons(community.path)
    open_store(config).close()
    return config


def push(slot, conn, config, clock):
    return press(slot, SqliteUnitOfWork(conn), Rules.from_config(config), clock)


def test_a_wrong_slot_is_said_large_until_the_right_one_is_pressed(
        screen, conn, buttoned, clock, screenshots):  # noqa: F811
    check_in(conn, buttoned, clock, "24-2304")
    screen.wait_for_selector('#screen[data-state="checkin"]')
    push("B-07", conn, buttoned, clock)
    screen.wait_for_selector('#screen[data-state="wrong_slot"]')
    assert screen.inner_text("#slot") == "A-12"
    assert screen.inner_text("#headline") == "放错格子了"
    assert screen.inner_text("#instruction") == "这是 B-07，请放进 A-12"
    look(screen, "wrong-slot", screenshots)
    screen.tap("#lang")
    assert screen.inner_text("#instruction") == "This is B-07. Put it in A-12"
    push("A-12", conn, buttoned, clock)
    screen.wait_for_selector('#screen[data-state="placed"]')
    assert screen.inner_text("#instruction") == "The parcel is in A-12. Thank you"


def test_a_slot_never_pressed_is_said(screen, conn, buttoned, clock):  # noqa: F811
    check_in(conn, buttoned, clock, "24-2304")
    screen.wait_for_selector('#screen[data-state="checkin"]')
    clock.advance(buttoned.kiosk.place_s)
    record_unplaced(SqliteUnitOfWork(conn), Rules.from_config(buttoned), clock)
    screen.wait_for_selector('#screen[data-state="not_placed"]')
    assert screen.inner_text("#slot") == "A-12"
    assert screen.inner_text("#instruction") == ("A-12 的按钮没有按下：包裹未确认已上架，"
                                                 "工作人员会来核对。")
