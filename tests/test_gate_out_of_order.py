"""The gate screen on a damaged or missing store: "out of order, see staff", until a restore.

A truncated and a garbled database file (real damage, see tests/test_backup.py); the Flask
client for what the endpoints answer, a real Chromium for what the courier sees.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import BROWSER_TIMEOUT_MS, check_in, make_app, served
from test_backup import DAMAGE, garble_table, shelf
from test_gate import state
from test_gate_browser import look

from kiosk.backup import restore

ZH, EN = "暂停使用，请联系工作人员", "Out of order, see staff"
DAMAGE_AND_MISSING = [*DAMAGE, "missing"]


def damage(config, how: str) -> None:
    if how == "missing":  # deleted under the running site (a site will not start without it)
        config.database.unlink()
    else:
        DAMAGE[how](config.database)


def out_of_order_shown(html: str) -> bool:
    return '<div id="out-of-order" class="out-of-order" role="alert">' in html


def test_a_sound_store_keeps_the_gate_in_service(client):
    page = client.get("/gate")
    assert page.status_code == 200
    assert not out_of_order_shown(page.text)
    assert "out_of_order" not in state(client)


@pytest.mark.parametrize("how", DAMAGE_AND_MISSING)
def test_a_damaged_or_missing_store_puts_the_gate_out_of_order(community, clock, how):
    # A damaged card is found when the site starts (create_app opens the store, which checks
    # it, as every command does); a missing file, under the running site (it would not start
    # without one). Damage in place under a running site: the tests below.
    if how != "missing":
        damage(community, how)
    app = make_app(community, clock)
    if how == "missing":
        damage(community, how)
    client = app.test_client()
    page = client.get("/gate")
    assert page.status_code == 200  # the screen itself loads: it must say something
    assert out_of_order_shown(page.text)
    assert ZH in page.text and EN in page.text  # both at once: whoever stands at the gate
    polled = client.get("/gate/state?after=0")
    assert polled.status_code == 503
    assert polled.get_json()["out_of_order"] is True
    assert community.database.exists() == (how != "missing")  # none made in its place


def test_a_restore_puts_the_gate_back_in_service(community, clock):
    backup = shelf(community, "backup").stdout.splitlines()[-1]
    DAMAGE["garbled"](community.database)
    client = make_app(community, clock).test_client()  # a damaged file: the site starts
    assert client.get("/gate/state").status_code == 503
    restore(Path(backup), community.database, clock.now())
    assert state(client)["views"] == []
    assert not out_of_order_shown(client.get("/gate").text)


@pytest.mark.browser
def test_the_screen_says_out_of_order_and_comes_back_after_a_restore(browser, community, conn,
                                                                      clock, screenshots):
    check_in(conn, community, clock, "24-2304")
    backup = shelf(community, "backup").stdout.splitlines()[-1]
    conn.close()
    with served(make_app(community, clock)) as url:
        context = browser.new_context(viewport={"width": 800, "height": 480})
        page = context.new_page()
        page.set_default_timeout(BROWSER_TIMEOUT_MS)
        page.clock.install()  # time runs by itself; look holds it
        page.goto(f"{url}/gate")
        page.wait_for_selector("#screen[data-read]")
        assert page.is_hidden("#out-of-order")
        DAMAGE["truncated"](community.database)
        # A card that fails under a running site: the same file, damaged in place. The next
        # poll that reads it says so (or, at the latest, the next start's check).
        page.wait_for_selector("#out-of-order", state="visible")
        text = page.inner_text("#out-of-order")
        assert ZH in text and EN in text
        look(page, "out-of-order", screenshots, languages=("zh",))  # both at once
        restore(Path(backup), community.database, clock.now())
        page.wait_for_selector("#out-of-order", state="hidden")
        context.close()


def test_damage_found_while_serving_puts_the_gate_out_of_order(client, community):
    """The file checked sound at the first poll, then a page of the events (what every poll
    reads) fails in place: the same file, so no new check; the failing read says it."""
    assert "out_of_order" not in state(client)
    garble_table(community.database, "events")
    polled = client.get("/gate/state?after=0")
    assert polled.status_code == 503
    assert polled.get_json()["out_of_order"] is True


def test_the_check_shelf_web_made_at_start_is_not_made_again(community, clock, monkeypatch):
    """The site checks the file when it starts (``open_store``, as every command does: 1.6 s
    at a million parcels); the gate's first poll takes that verdict instead of reading the
    whole file again."""
    import web.gate

    app = make_app(community, clock)
    checks = []
    monkeypatch.setattr(web.gate, "integrity_problems",
                        lambda *a, **k: checks.append(a) or [])
    assert "out_of_order" not in state(app.test_client())
    assert checks == []
