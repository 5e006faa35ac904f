"""The gate screen in a real headless Chromium at 800x480, driven by its touch keypad.

Scans go through the real service on the test's own connection, as the kiosk process would;
the page only learns of them through the store. Each state the screen reaches is looked at in
Chinese and English (``look``): it fits the screen, its keys take a gloved thumb, its words
are read from a metre, axe-core finds nothing serious. `SHELF_SCREENSHOTS=docs` refreshes the
README's pictures of them (docs/gate-*.png).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from conftest import BROWSER_TIMEOUT_MS, assert_accessible, check_in, pickup_code, screenshot
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect as shows  # the page, retried until it does
from test_web_browser import live_server  # noqa: F401  (the real app on 127.0.0.1)

from kiosk.services import Rules, act_on_code, act_on_payload, expect
from kiosk.store import SqliteUnitOfWork
from web import gate

pytestmark = pytest.mark.browser

SCAN_SHOWN_WITHIN_MS = 500  # the promise: a scan is on the screen within half a second
                            # (timed, so a proof: `make proofs`)


@pytest.fixture
def screen(browser, live_server):  # noqa: F811
    """The gate page at the 7-inch touch screen's size, reading the store's events.

    Its time runs by itself, on Playwright's clock: ``look`` holds it while it looks."""
    context = browser.new_context(viewport={"width": 800, "height": 480}, has_touch=True)
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    page = context.new_page()
    page.clock.install()
    page.goto(f"{live_server}/gate")
    page.wait_for_selector("#screen[data-read]")  # its first poll said where to read from
    yield page
    context.close()


def shown(page) -> int:
    return int(page.get_attribute("#screen", "data-shown"))


# Note each value the code entry shows, as the page changes it.
SHOWN_ENTRIES_JS = """() => {
  const entry = document.getElementById('entry-value');
  const text = () => entry.innerText.replace(/\\s/g, '');
  window.shownEntries = [text()];
  new MutationObserver(() => {
    if (text() !== window.shownEntries.at(-1)) window.shownEntries.push(text());
  }).observe(entry, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


def tap_code(page, digits: str) -> None:
    """Type on the screen's keypad; the last digit sends the code. Wait for its answer."""
    before = shown(page)
    for digit in digits:
        page.tap(f'.key[data-key="{digit}"]')
    page.wait_for_selector(f'#screen[data-shown="{before + 1}"]')


MIN_KEY_PX = 64  # every key, at 800x480: a gloved thumb in the cold (issue 20)
MIN_TEXT_PX = 20  # every word, at 800x480: read from a metre (the 楼栋/房号 labels were 13 px)

# What a state of the screen gets wrong: scrolling, anything cut off (by the screen's edge or
# by its part of the screen), a key smaller than a thumb, words too small to read, a key's
# edge under 3:1 against what is around it, a disabled key's words under WCAG AA (axe-core
# leaves disabled controls out; the gate's keys that take nothing must still be read).
MISFITS = r"""({key, text}) => {
  const found = [];
  const rgba = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const seen = (c) => c.length < 4 || c[3] > 0;
  const lum = (c) => c.slice(0, 3).map((v) => v / 255)
    .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4))
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const ratio = (a, b) => (Math.max(lum(a), lum(b)) + 0.05) / (Math.min(lum(a), lum(b)) + 0.05);
  const ground = (el) => {  // the colour an element is drawn on
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (seen(c)) return c;
    }
    return [255, 255, 255];
  };
  const classes = (el) => (typeof el.className === "string" && el.className.trim()
                            ? "." + el.className.trim().replace(/\s+/g, ".") : "");
  const name = (el) => (el.id ? "#" + el.id : el.tagName.toLowerCase() + classes(el)) +
    (el.textContent.trim() ? ' "' + el.textContent.trim().slice(0, 24) + '"' : "");
  const edge = {left: 0, top: 0, right: innerWidth, bottom: innerHeight};
  const inside = (r, box) => r.left >= box.left - 0.5 && r.top >= box.top - 0.5 &&
                             r.right <= box.right + 0.5 && r.bottom <= box.bottom + 0.5;
  const root = document.documentElement;
  if (root.scrollWidth > innerWidth || root.scrollHeight > innerHeight) {
    found.push(`the page is ${root.scrollWidth}x${root.scrollHeight}`);
  }
  for (const el of document.body.querySelectorAll("*")) {
    if (el.tagName === "SCRIPT" || !el.checkVisibility()) continue;
    const r = el.getBoundingClientRect();
    if (!r.width && !r.height) continue;
    const part = el.parentElement.closest("#screen, #pad, .bar, .banner, .out-of-order");
    if (!inside(r, edge) || (part && !inside(r, part.getBoundingClientRect()))) {
      found.push(`${name(el)} is cut off at ${Math.round(r.left)},${Math.round(r.top)} ` +
                 `${Math.round(r.width)}x${Math.round(r.height)}`);
    }
    const style = getComputedStyle(el);
    if ((style.overflowX !== "visible" && el.scrollWidth > el.clientWidth + 1) ||
        (style.overflowY !== "visible" && el.scrollHeight > el.clientHeight + 1)) {
      found.push(`${name(el)} hides some of itself`);
    }
    if (el.tagName === "BUTTON" && (r.width < key || r.height < key)) {
      found.push(`${name(el)} is ${Math.round(r.width)}x${Math.round(r.height)} px`);
    }
    if (el.tagName === "BUTTON") {
      const border = rgba(style.borderTopColor);
      const outlined = style.borderTopStyle !== "none" && parseFloat(style.borderTopWidth) > 0 &&
                       seen(border);
      const edgeColour = outlined ? border : rgba(style.backgroundColor);
      const around = ground(el.parentElement);
      if (!seen(edgeColour) || ratio(edgeColour, around) < 3) {
        found.push(`${name(el)}: its edge is ${seen(edgeColour) ?
                   ratio(edgeColour, around).toFixed(2) + ":1" : "unseen"} against the ground`);
      }
      const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight, 10) >= 700;
      const least = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
      const words = ratio(rgba(style.color), ground(el));
      if (el.disabled && words < least) {
        found.push(`${name(el)}: its words are ${words.toFixed(2)}:1 (disabled)`);
      }
    }
    const words = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (words && parseFloat(style.fontSize) < text) found.push(`${name(el)} is ${style.fontSize}`);
  }
  return found;
}"""


def assert_fits(page, state: str) -> None:
    """The screen as it is now fits, with keys for a gloved thumb and words read from a metre."""
    found = page.evaluate(MISFITS, {"key": MIN_KEY_PX, "text": MIN_TEXT_PX})
    assert not found, f"{state}: " + "; ".join(found)


def look(page, state: str, folder: Path, *, languages: tuple[str, ...] = ("zh", "en"),
         stopped: bool = False) -> None:
    """Look at ``state`` in each language (the screen's own key switches it; it ends in the
    first), time stopped meanwhile: it fits (``assert_fits``), axe-core finds nothing serious,
    and a screenshot goes to ``folder`` (gate-STATE.png, gate-STATE-en.png). ``stopped``: the
    test stopped the page's time (``stop_time``) and keeps it so; else it runs on afterwards."""
    if not stopped:
        stop_time(page)
    for lang in languages:
        if page.get_attribute("html", "lang") != {"zh": "zh-CN", "en": "en"}[lang]:
            page.tap("#lang")
        assert_fits(page, f"{state} ({lang})")
        assert_accessible(page, f"{state} ({lang})")
        name = f"gate-{state}.png" if lang == "zh" else f"gate-{state}-{lang}.png"
        screenshot(page, folder / name, full_page=False)
    if page.get_attribute("html", "lang") != {"zh": "zh-CN", "en": "en"}[languages[0]]:
        page.tap("#lang")
    if not stopped:
        page.clock.resume()


@pytest.mark.proof
def test_a_scan_shows_its_slot_within_half_a_second(screen, conn, community, clock):
    """Timed on the real clock (`make proofs`)."""
    check_in(conn, community, clock, "24-2304", "SF100")
    committed_ms = time.time() * 1000
    screen.wait_for_selector('#screen[data-state="checkin"]')
    waited_ms = int(screen.get_attribute("#screen", "data-shown-at")) - committed_ms
    assert waited_ms <= SCAN_SHOWN_WITHIN_MS, f"shown {waited_ms:.0f} ms after the commit"


def test_a_scan_shows_its_slot_and_the_masked_household(screen, conn, community, clock,
                                                        screenshots):
    result = check_in(conn, community, clock, "24-2304", "SF100")
    screen.wait_for_selector('#screen[data-state="checkin"]')
    assert screen.inner_text("#slot") == result.slot
    assert screen.inner_text("#household") == "24栋 23**"
    assert screen.inner_text("#instruction") == f"把包裹放进 {result.slot}（亮灯的格子）"
    assert "陈杰" not in screen.content() and "2304" not in screen.inner_text("body")
    stop_time(screen)  # the result stays while it is looked at, in every size
    look(screen, "checkin", screenshots, stopped=True)

    screen.tap("#lang")  # the result stays, now in English
    assert screen.inner_text("#instruction") == f"Put it in {result.slot}, the lit slot"
    assert screen.inner_text("#household") == "Building 24, room 23**"
    for size in ({"width": 1024, "height": 600}, {"width": 1920, "height": 1080}):
        screen.set_viewport_size(size)  # the other screens the gate may have: larger, alike
        assert_fits(screen, f"check-in at {size}")
    screen.tap("#lang")
    assert screen.inner_text("#instruction").startswith("把包裹放进")


def test_a_typed_code_lights_the_slot_and_wrong_ones_make_the_keypad_wait(screen, conn,
                                                                          community, clock,
                                                                          screenshots):
    look(screen, "idle", screenshots)  # how to use the gate
    slot = check_in(conn, community, clock, "24-2304").slot
    screen.wait_for_selector('#screen[data-state="checkin"]')  # the courier's scan first
    tap_code(screen, pickup_code(conn, "24-2304"))
    assert screen.get_attribute("#screen", "data-state") == "pickup"
    assert screen.inner_text("#instruction") == f"取走 {slot} 闪烁格中的包裹"
    assert screen.inner_text("#entry-value").strip() == ""  # the code is not left on screen
    look(screen, "pickup", screenshots)

    tap_code(screen, "000000")
    assert screen.get_attribute("#screen", "data-error") == "unknown_code"
    assert screen.inner_text("#instruction") == (
        "取件码不对，或已没有待取的包裹。请核对通知里的 6 位数字\n"
        "还可以再试 4 次，之后每输错一次都要等一会儿")
    look(screen, "refused", screenshots)


@pytest.fixture
def timed_screen(browser, live_server):  # noqa: F811
    """The gate page whose clock the test can stop (Playwright's page.clock, ``stop_time``)."""
    context = browser.new_context(viewport={"width": 800, "height": 480}, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    page.clock.install()
    page.goto(f"{live_server}/gate")
    page.wait_for_selector("#screen[data-read]")
    yield page
    context.close()


def stop_time(page) -> None:
    """From now on time passes on the page only when the test says (``let_pass``), as on the
    server's ManualClock. The page polls no more: only what it is sent shows.

    It stops a second ahead: the page's time runs on while this is asked, and it cannot be
    stopped in its past; nothing on the screen moves in a second but a countdown, which a test
    counts from here. (A number would be read as seconds: the page's time goes as a string.)

    On a busy machine more than that second can go by before the page hears it; Playwright then
    refuses ("Cannot fast-forward to the past") with the page's time already stopped where it
    had got to, so a second try, a second ahead of that stopped time, always holds."""
    ahead = "new Date(Date.now() + 1000).toISOString()"
    try:
        page.clock.pause_at(page.evaluate(ahead))
    except PlaywrightError as refused:
        if "to the past" not in str(refused):
            raise
        page.clock.pause_at(page.evaluate(ahead))


def let_pass(page, clock, seconds: int) -> None:
    """``seconds`` pass for the server and for the page."""
    clock.advance(seconds)
    page.clock.fast_forward(seconds * 1000)


def test_wrong_codes_say_the_tries_left_then_the_wait_then_ask_for_the_room(
        timed_screen, conn, community, clock, screenshots, tmp_path):
    screen = timed_screen
    check_in(conn, community, clock, "24-2304")
    screen.wait_for_selector('#screen[data-state="checkin"]')  # the courier's scan first
    stop_time(screen)
    right = pickup_code(conn, "24-2304")
    wrong = "000000" if right != "000000" else "111111"
    for left in (4, 3, 2, 1):
        tap_code(screen, wrong)
        assert screen.inner_text("#instruction").endswith(
            f"还可以再试 {left} 次，之后每输错一次都要等一会儿")
    look(screen, "tries", tmp_path, stopped=True)
    tap_code(screen, wrong)
    assert screen.inner_text("#instruction").endswith("\n请 5 秒后再试")
    assert screen.inner_text("#entry-value") == "请稍候 5 秒"
    assert "waiting" in screen.get_attribute("#pad", "class")
    assert screen.locator("#pad .keys").is_hidden()  # no key to press in vain
    look(screen, "keypad-wait", screenshots, stopped=True)

    before = shown(screen)
    screen.keyboard.type(right)  # nor a USB keypad's: nothing is sent
    assert shown(screen) == before and screen.inner_text("#entry-value") == "请稍候 5 秒"
    let_pass(screen, clock, 2)
    shows(screen.locator("#entry-value")).to_have_text("请稍候 3 秒")
    screen.tap("#lang")
    assert screen.inner_text("#instruction").endswith("\nTry again in 3 seconds")
    assert screen.inner_text("#entry-value") == "Wait 3 seconds"

    let_pass(screen, clock, 3)
    shows(screen.locator("#instruction")).to_have_text(re.compile(
        "\nYou can type a pickup code again now$"))
    assert "waiting" not in screen.get_attribute("#pad", "class")
    tap_code(screen, right)  # five wrong codes today: the gate asks for the room as well
    assert screen.get_attribute("#screen", "data-error") == "room_required"
    assert screen.inner_text("#headline") == "Now your building and room"
    assert screen.get_attribute("#pad", "data-mode") == "building"
    assert right not in screen.inner_text("body")  # the code is kept, never shown
    screen.tap("#lang")
    assert screen.inner_text("#headline") == "请再输入楼栋和房号"
    assert screen.is_visible("#cancel")
    look(screen, "keypad-room", screenshots, stopped=True)
    type_room(screen, "24", "2304")
    assert screen.get_attribute("#screen", "data-state") == "pickup"
    assert screen.inner_text("#household") == "24栋 23**"


def test_after_a_prankster_the_screen_says_the_wait_in_minutes_and_counts_down(
        timed_screen, conn, community, clock, tmp_path):
    screen = timed_screen
    stop_time(screen)  # what the prankster does below is not shown: the resident's code is
    check_in(conn, community, clock, "24-2304")
    uow, rules = SqliteUnitOfWork(conn), Rules.from_config(community)
    for _ in range(9):  # the prankster: each wrong code as soon as the keypad takes one
        outcome = act_on_code("000000", uow, rules, clock, source=gate.KEYPAD, room="24-2304")
        clock.advance(outcome.retry_after_s or 0)
    assert outcome.retry_after_s == 60
    clock.advance(-60)  # the resident comes as the prankster leaves
    tap_code(screen, pickup_code(conn, "24-2304"))
    assert screen.get_attribute("#screen", "data-error") == "throttled"
    assert screen.inner_text("#instruction") == "取件码输错次数过多，请 1 分钟后再试"
    look(screen, "keypad-minute", tmp_path, stopped=True)
    let_pass(screen, clock, 1)
    shows(screen.locator("#instruction")).to_have_text("取件码输错次数过多，请 59 秒后再试")
    let_pass(screen, clock, 59)  # the wait is over: the screen says how to use the gate again
    shows(screen.locator("#screen")).to_have_attribute("data-state", "idle")
    shows(screen.locator("#pad")).not_to_have_class(re.compile("waiting"))
    tap_code(screen, pickup_code(conn, "24-2304"))
    assert screen.get_attribute("#screen", "data-error") == "room_required"


def test_the_screen_goes_back_to_how_to_use_it(browser, live_server, monkeypatch):  # noqa: F811
    """After a result, and after a half-typed code, the next person finds a clean screen."""
    monkeypatch.setattr(gate, "RESULT_MS", 300)
    monkeypatch.setattr(gate, "INPUT_IDLE_MS", 1500)  # "42" stays long enough to be seen
    context = browser.new_context(viewport={"width": 800, "height": 480}, has_touch=True)
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto(f"{live_server}/gate")
        tap_code(page, "000000")
        page.wait_for_selector('#screen[data-state="idle"]')
        assert page.is_visible("#idle") and not page.is_visible("#result")

        page.evaluate(SHOWN_ENTRIES_JS)  # what the entry shows, each time it changes
        page.tap('.key[data-key="4"]')
        page.tap('.key[data-key="2"]')
        page.wait_for_selector("#entry-value .box.filled", state="detached")
        # "42" was shown, then wiped: judged by what the screen did, in order, and not by
        # reading it in time (a busy machine may read it only after the wipe)
        assert page.evaluate("window.shownEntries")[-2:] == ["42", ""]
    finally:
        context.close()


def test_a_lost_connection_is_said_and_every_key_still_ends_clearly(screen, tmp_path):
    screen.route("**/gate/**", lambda route: route.abort())
    screen.wait_for_selector("#status.offline")
    assert screen.inner_text("#status") == "连接中断，正在重试…"
    tap_code(screen, "123456")
    assert screen.get_attribute("#screen", "data-error") == "offline"
    assert screen.inner_text("#instruction") == "连接不上系统，请稍后再试"
    look(screen, "offline", tmp_path)

    screen.unroute("**/gate/**")
    screen.wait_for_selector("#status:not(.offline)", state="attached")
    tap_code(screen, "123456")
    assert screen.get_attribute("#screen", "data-error") == "unknown_code"


def tap_keys(page, keys: str) -> None:
    for key in keys:
        page.tap(f'.key[data-key="{key}"]')


def scan_waybill(screen, conn, community, clock, code: str = "SF1234567890") -> None:
    """The camera reads a carrier's waybill nobody announced: the screen asks for the room."""
    before = shown(screen)
    act_on_payload(code.encode(), SqliteUnitOfWork(conn), Rules.from_config(community), clock)
    screen.wait_for_selector(f'#screen[data-shown="{before + 1}"][data-state="needs_room"]')
    assert screen.inner_text("#headline") == f"快递单 {code}"
    assert screen.get_attribute("#pad", "data-mode") == "building"


def type_room(screen, building: str, room: str) -> None:
    """Building, next, room, OK: the room goes to the server; wait for its answer."""
    tap_keys(screen, building)
    screen.tap('.key[data-key="ok"]')  # "next": on to the room
    assert screen.get_attribute("#pad", "data-mode") == "room"
    before = shown(screen)
    tap_keys(screen, room)
    screen.tap('.key[data-key="ok"]')
    screen.wait_for_selector(f'#screen[data-shown="{before + 1}"]')


def test_a_waybill_with_a_confusable_room_is_settled_by_the_phone(screen, conn, community, clock,
                                                                  screenshots):
    scan_waybill(screen, conn, community, clock)
    type_room(screen, "24", "2304")
    assert screen.get_attribute("#screen", "data-error") == "confusable_room"
    instruction = screen.inner_text("#instruction")
    assert "24栋 2304" in instruction and "24栋 2403" in instruction  # both rooms shown
    assert screen.get_attribute("#pad", "data-mode") == "tail"
    # No phone on the waybill: that key leaves the room unconfirmed, and says so.
    no_phone = screen.locator("#choices .choice[data-keep]")
    assert no_phone.inner_text() == "面单上没有手机号\n房号待核实"
    look(screen, "phone-tail", screenshots)

    tap_code(screen, "2304")  # the waybill's 138****2304: the fourth digit sends it
    assert screen.get_attribute("#screen", "data-state") == "checkin"
    slot = screen.inner_text("#slot")
    assert screen.inner_text("#household") == "24栋 23**"
    assert screen.inner_text("#instruction") == f"把包裹放进 {slot}（亮灯的格子）"
    assert conn.execute("SELECT household_id FROM parcels WHERE label = ?",
                        ("SF1234567890",)).fetchone()[0] == "24-2304"


def test_a_phone_of_the_other_room_lets_the_courier_choose(screen, conn, community, clock,
                                                           screenshots):
    scan_waybill(screen, conn, community, clock)
    type_room(screen, "24", "2304")
    tap_code(screen, "2403")
    assert screen.get_attribute("#screen", "data-error") == "phone_mismatch"
    rooms = screen.locator("#choices .choice")
    # The room typed stays unconfirmed if chosen (the phone said otherwise): its key says so.
    assert rooms.all_inner_texts() == ["24栋 2304\n房号待核实", "24栋 2403"]
    assert screen.locator("#pad").is_hidden()  # a room is chosen by its key alone
    look(screen, "choose-room", screenshots)
    screen.tap("#lang")
    assert rooms.all_inner_texts() == ["Building 24, room 2304\nRoom not confirmed",
                                       "Building 24, room 2403"]

    before = shown(screen)
    screen.tap('#choices .choice[data-room="24-2403"]')
    screen.wait_for_selector(f'#screen[data-shown="{before + 1}"][data-state="checkin"]')
    assert screen.inner_text("#household") == "Building 24, room 24**"


def scan_announced(screen, conn, community, clock, household: str,
                   code: str = "SF5555555555") -> None:
    """A tool announced ``code`` for ``household``; the camera reads the waybill: the screen
    names the announced room (masked) and asks for the waybill's phone first."""
    expect(household, code, SqliteUnitOfWork(conn), clock, actor="bot@api")
    before = shown(screen)
    act_on_payload(code.encode(), SqliteUnitOfWork(conn), Rules.from_config(community), clock)
    screen.wait_for_selector(f'#screen[data-shown="{before + 1}"][data-state="needs_room"]')
    assert screen.get_attribute("#pad", "data-mode") == "tail"
    assert conn.execute("SELECT COUNT(*) FROM parcels WHERE label = ?",
                        (code,)).fetchone()[0] == 0  # nothing lit yet


def test_an_announced_waybill_whose_phone_is_another_households_goes_by_its_room(
        screen, conn, community, clock, screenshots):
    """Issue 18: 24-2304's waybill announced for 2-902. The phone on it is 2304's, so the
    screen asks for the room on the waybill, and that room wins."""
    scan_announced(screen, conn, community, clock, "2-902")
    assert screen.inner_text("#instruction") == "已预报给 2栋 9**。请输入面单上手机号的后 4 位"
    assert screen.locator("#choices .choice").all_inner_texts() == ["面单上没有手机号，或房号不同"]
    assert "902" not in screen.inner_text("body")
    look(screen, "announced", screenshots)
    tap_code(screen, "2304")  # the waybill's 138****2304
    assert screen.get_attribute("#screen", "data-error") == "announcement_mismatch"
    assert screen.inner_text("#instruction") == ("面单上的手机号不是预报住户的。"
                                                 "请输入面单上的楼栋和房号")
    assert screen.get_attribute("#pad", "data-mode") == "building"
    type_room(screen, "24", "2304")  # confusable with 2403, settled by the tail typed before
    assert screen.get_attribute("#screen", "data-state") == "checkin"
    assert screen.inner_text("#household") == "24栋 23**"
    slot = screen.inner_text("#slot")
    assert screen.inner_text("#instruction") == f"把包裹放进 {slot}（亮灯的格子）"
    row = conn.execute("SELECT household_id, room_confirmed FROM parcels").fetchone()
    assert tuple(row) == ("24-2304", 1)


def test_an_announced_waybill_checks_in_by_its_phone_or_its_room(screen, conn, community, clock):
    scan_announced(screen, conn, community, clock, "24-2304")
    screen.tap("#lang")
    assert screen.inner_text("#instruction") == ("Announced for Building 24, room 23**. Type the "
                                                 "last 4 digits of the phone on the waybill")
    tap_code(screen, "2304")
    assert screen.get_attribute("#screen", "data-state") == "checkin"
    assert screen.inner_text("#household") == "Building 24, room 23**"
    # No phone on the waybill: the courier types the room, which the announcement settles.
    scan_announced(screen, conn, community, clock, "24-2403", code="JD0001234567890")
    screen.tap("#choices .choice[data-type-room]")
    assert screen.get_attribute("#pad", "data-mode") == "building"
    assert screen.inner_text("#instruction") == ("Type the building and room printed on the "
                                                 "waybill")
    type_room(screen, "24", "2403")
    assert screen.get_attribute("#screen", "data-state") == "checkin"
    rows = conn.execute("SELECT household_id, room_confirmed FROM parcels ORDER BY id")
    assert [tuple(r) for r in rows] == [("24-2304", 1), ("24-2403", 1)]


def test_the_fresh_food_key_puts_the_door_task_first(screen, conn, community, clock, tmp_path):
    """A courier's parcel for a household under observation, not labelled fresh: the key under
    the check-in marks it, the screen says so, and its door task goes first."""
    result = check_in(conn, community, clock, "29-1004", "TG1")  # under observation
    assert result.door_task is not None and not result.door_task.fresh
    screen.wait_for_selector('#screen[data-state="checkin"]')
    assert screen.inner_text("#fresh-key") == "生鲜？点此标记"
    screen.tap("#fresh-key")
    screen.wait_for_selector('#fresh[data-fresh="done"]')
    assert screen.inner_text("#fresh-note") == "已标记生鲜\n已通知工作人员优先送上门"
    assert not screen.is_visible("#fresh-key")  # pressed once is enough
    assert screen.inner_text("#slot") == result.slot  # the courier still sees where it goes
    [task] = conn.execute("SELECT fresh_since FROM door_tasks WHERE id = ?",
                          (result.door_task.id,)).fetchall()
    assert task["fresh_since"] is not None
    look(screen, "fresh", tmp_path)
    screen.tap("#lang")
    assert screen.inner_text("#fresh-note") == ("Marked as fresh food\n"
                                                "The staff are told to carry it to the door first")


def test_a_room_not_in_the_list_then_no_phone_leaves_the_room_for_staff(screen, conn, community,
                                                                         clock, tmp_path):
    """The rooms a typo may have been, with the keypad to type it again; then a confusable
    room whose waybill has no phone: the key that says so checks it in unconfirmed."""
    scan_waybill(screen, conn, community, clock)
    type_room(screen, "24", "2340")
    assert screen.get_attribute("#screen", "data-error") == "unknown_household"
    assert "24-2304" in [screen.locator("#choices .choice").nth(i).get_attribute("data-room")
                         for i in range(screen.locator("#choices .choice").count())]
    assert screen.get_attribute("#pad", "data-mode") == "room" and screen.is_visible("#pad .keys")
    look(screen, "unknown-room", tmp_path)

    before = shown(screen)
    screen.tap('#choices .choice[data-room="24-2304"]')
    screen.wait_for_selector(f'#screen[data-shown="{before + 1}"][data-error="confusable_room"]')
    before = shown(screen)
    screen.tap("#choices .choice[data-keep]")  # 面单上没有手机号 / 房号待核实
    screen.wait_for_selector(f'#screen[data-shown="{before + 1}"][data-state="checkin"]')
    assert screen.inner_text("#note") == "房号未经手机号确认，已请工作人员核对"
    look(screen, "unconfirmed", tmp_path)
    row = conn.execute("SELECT household_id, room_confirmed FROM parcels").fetchone()
    assert tuple(row) == ("24-2304", 0)


def test_while_a_code_is_on_its_way_the_keys_are_off_and_still_legible(screen, tmp_path):
    """A busy store answers late: the keys take nothing meanwhile and look it (outlines, not
    faded), their words still read (the faded OK key was 2.71:1)."""
    held = []
    screen.route("**/gate/code", lambda route: held.append(route))  # let go by the test
    tap_keys(screen, "123456")
    screen.wait_for_selector("#pad.busy")
    keys = screen.locator("#pad .key")
    assert [keys.nth(i).is_disabled() for i in range(keys.count())] == [True] * 12
    look(screen, "busy", tmp_path)  # also: every key's words and edge against the ground
    before = shown(screen)
    held[0].continue_()
    screen.wait_for_selector(f'#screen[data-shown="{before + 1}"]')
    assert screen.get_attribute("#screen", "data-error") == "unknown_code"
    assert not keys.first.is_disabled()
