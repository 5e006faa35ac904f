"""Door delivery on the staff site (the real app, Flask's client, a real SQLite file, the kiosk's
real decoder): who sees which tasks, "collect" down to the LED pins, the door confirmed from a
photo of a real sticker, refusals in words, the day's counts as a page and a CSV."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from datetime import UTC, datetime

import pytest
from conftest import make_app, wait_for
from PIL import Image, ImageDraw
from test_web import AuthActions

from bench import hostile
from hardware.decoder import DecoderChain
from hardware.lights import build_lights
from kiosk.clock import ManualClock
from kiosk.config import User
from kiosk.domain import HouseholdId
from kiosk.labels import door_payload, make_label, qr_image
from kiosk.observation import set_observation
from kiosk.passwords import hash_password
from kiosk.services import Rules, act_on_payload
from kiosk.store import SqliteUnitOfWork
from web import create_app, tasks

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
STAFF = {"li": "committee", "zhang": "property"}  # username -> role (= the team's id)


def shanghai(text: str) -> ManualClock:
    """A clock at a Shanghai wall-clock moment, e.g. '2026-12-03 21:00'."""
    return ManualClock(datetime.fromisoformat(f"{text}+08:00").astimezone(UTC))


def with_staff(config, users: dict[str, str] = STAFF):
    web = dataclasses.replace(config.web, users=(*config.web.users, *(
        User(name, hash_password(f"{name} pass", iterations=1000), role, name.title())
        for name, role in users.items())))
    return dataclasses.replace(config, web=web)


def signed_in(app, username: str = "admin"):
    client = app.test_client()
    auth = AuthActions(client)
    password = None if username == "admin" else f"{username} pass"
    response = auth.login(username, password) if password else auth.login()
    assert response.status_code == 302, response.text
    return client


def csrf(client, path: str = "/tasks") -> str:
    return CSRF_RE.search(client.get(path).text)[1]


def scan(config, conn, clock, household: str, ref: str, *, fresh: bool = False):
    label = make_label(config.label_secret, HouseholdId.parse(household), ref, fresh=fresh)
    result = act_on_payload(label.encode(), SqliteUnitOfWork(conn), Rules.from_config(config),
                            clock)
    assert result.action == "checkin" and result.door_task is not None, result
    return result


def observe(config, conn, clock, household: str) -> None:
    set_observation(household, True, SqliteUnitOfWork(conn), Rules.from_config(config), clock,
                    actor="test")


def rows(conn, sql: str, *params):
    return [dict(r) for r in conn.execute(sql, params).fetchall()]


def events(conn, kind: str):
    return [{**r, "detail": json.loads(r["detail"])}
            for r in rows(conn, "SELECT * FROM events WHERE kind = ? ORDER BY id", kind)]


def text_of(html: str) -> str:
    """The page's words, tags dropped and white space collapsed, as a person reads them."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def day(community, conn):
    """21:00 on a lockdown evening: 24-2304 (property's) and 29-1004 (the committee's, handed
    over to the property company at 17:30) each have a door task."""
    clock = shanghai("2026-12-03 10:00")
    observe(community, conn, clock, "24-2304")
    committee = scan(community, conn, clock, "29-1004", "SF2901")
    clock.current = shanghai("2026-12-03 11:00").current
    first = scan(community, conn, clock, "24-2304", "SF2304")
    clock.current = shanghai("2026-12-03 11:05").current
    second = scan(community, conn, clock, "24-2304", "JD2304")
    assert first.door_task.id == second.door_task.id
    return {"clock": clock, "committee": committee.door_task.id, "property": first.door_task.id,
            "parcels": (first.parcel, second.parcel), "slot": first.slot}


@pytest.fixture
def site(community, day):
    """The staff site with two staff members and the kiosk's real decoder."""
    app = create_app(with_staff(community), clock=day["clock"], decoder=DecoderChain())
    app.config["TESTING"] = True
    return app


# --- who may see what -------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/tasks"), ("GET", "/tasks/1"), ("POST", "/tasks/collect"), ("POST", "/tasks/1/door"),
    ("GET", "/counts"), ("GET", "/counts.csv")])
def test_anonymous_visitors_are_sent_to_sign_in_and_change_nothing(site, conn, method, path):
    response = site.test_client().open(path, method=method, data={"room": "2304",
                                                                    "building": "24"})
    assert response.status_code == 302 and response.location.startswith("/login?next=")
    assert rows(conn, "SELECT * FROM events WHERE kind IN ('collect', 'door_refused', "
                      "'delivered')") == []


def test_a_team_member_sees_only_the_team_s_tasks_and_an_admin_all(site, day):
    at_10 = {"li": ("29-1004",), "zhang": ("24-2304",), "admin": ("24-2304", "29-1004")}
    for user, households in at_10.items():
        client = signed_in(site, user)
        page = client.get("/tasks?team=property").text if user == "li" else \
            client.get("/tasks").text  # a member cannot filter their way to another team
        shown = tuple(sorted(re.findall(r'class="task-household">([^<]+)<', page)))
        assert shown == households, user
    admin = signed_in(site)
    only = admin.get("/tasks?team=committee").text
    assert re.findall(r'class="task-household">([^<]+)<', only) == ["29-1004"]
    assert 'class="team-filter"' in only
    assert 'class="team-filter"' not in signed_in(site, "li").get("/tasks").text


def test_the_list_runs_the_hand_overs_due_so_at_17_31_the_tasks_have_moved(site, day, conn):
    day["clock"].current = shanghai("2026-12-03 17:31").current
    committee = signed_in(site, "li").get("/tasks").text
    handed, rest = committee.split('class="handed-over"')[1].split("</section>", 1)
    assert f'data-task="{day["committee"]}"' in handed  # off duty: handed over, said so
    assert "29-1004" not in rest
    page = signed_in(site, "zhang").get("/tasks").text
    assert "29-1004" in page and "24-2304" in page
    [moved] = events(conn, "task_handed_over")
    assert (moved["detail"]["from"], moved["detail"]["to"]) == ("committee", "property")


def test_fresh_first_then_oldest_grouped_by_building_in_both_languages(site, day, community,
                                                                       conn):
    clock = day["clock"]
    observe(community, conn, clock, "2-902")
    clock.current = shanghai("2026-12-03 11:30").current
    scan(community, conn, clock, "2-902", "MT0902", fresh=True)  # groceries: they go first
    clock.current = shanghai("2026-12-03 11:47").current
    admin = signed_in(site)
    page = admin.get("/tasks?lang=zh").text
    assert re.findall(r'data-building="(\d+)"', page) == ["2", "29", "24"]
    assert re.findall(r'class="task-household">([^<]+)<', page) == ["2-902", "29-1004",
                                                                    "24-2304"]
    words = text_of(page)
    assert "送货上门" in words and "待送 3 户 · 4 件" in words and "2 栋" in words
    assert "生鲜" in words and "11:00 起，已等 47 分钟" in words
    assert "24-2304 2 件 · A-12 SF2304 JD2304 11:00 起，已等 47 分钟 · 物业" in words
    english = text_of(admin.get("/tasks?lang=en").text)
    assert "Door delivery" in english and "Building 24" in english and "Fresh" in english
    assert "since 11:00, waiting 47 min" in english


def test_a_role_that_names_no_team_sees_every_team_s_tasks_and_is_told_why(community, day, conn):
    renamed = {"committee": "rc", "property": "pm"}
    teams = tuple(dataclasses.replace(team, id=renamed[team.id], after_hours_for=tuple(
        renamed[t] for t in team.after_hours_for)) for team in community.teams)
    conn.execute("UPDATE door_tasks SET team = CASE team WHEN 'committee' THEN 'rc' ELSE 'pm' END")
    app = make_app(with_staff(dataclasses.replace(community, teams=teams)), day["clock"])
    page = signed_in(app, "li").get("/tasks").text
    assert "29-1004" in page and "24-2304" in page
    assert "你的角色（committee）不对应任何团队" in text_of(page)


# --- collect ----------------------------------------------------------------------------------

def test_collect_double_blinks_the_team_s_slots_down_to_the_led_pins(site, day, community,
                                                                     conn, noted):
    client = signed_in(site, "zhang")
    assert client.post("/tasks/collect", data={}).status_code == 400  # no CSRF token
    done = client.post("/tasks/collect", data={"csrf_token": csrf(client)},
                       follow_redirects=True)
    assert "A-12 正在双闪，到 11:07:00 为止。" in text_of(done.text)
    lit = rows(conn, "SELECT slot_code, layer, mode, until FROM signals WHERE mode = 'collect'")
    assert [(r["slot_code"], r["layer"]) for r in lit] == [(day["slot"], "staff")]
    committee_slot = rows(conn, "SELECT slot_code FROM parcels WHERE ref = 'SF2901'")[0]
    assert committee_slot["slot_code"] not in {r["slot_code"] for r in lit}
    [event] = events(conn, "collect")
    assert (event["actor"], event["detail"]["team"], event["detail"]["slots"]) == (
        "zhang@web", "property", [day["slot"]])

    admin = signed_in(site)
    # The courier's light of the check-in a moment ago shows while it lasts, then "collect".
    assert 'class="slot lit lit-on" data-slot="A-12"' in admin.get("/").text
    day["clock"].advance(community.kiosk.light_s)
    grid = admin.get("/").text
    assert 'class="slot lit lit-collect" data-slot="A-12"' in grid
    assert "取件双闪" in grid and "双闪：工作人员取送货上门的包裹" in grid

    # The kiosk process: the store's signals, shown on the LEDs (gpiozero's mock pins, each
    # step of the pattern noted in order).
    lights = build_lights(community.layout.shelves, pin_factory=noted)
    try:
        pin = noted.pin(community.layout.shelves[0].led_of["A-12"])
        lights.show(SqliteUnitOfWork(conn).signals.active(day["clock"].now()))
        wait_for(lambda: len(pin.steps()) >= 8)
    finally:
        lights.close()
    # Two flashes, then a rest of five steps: not the resident's blink (on two, off two).
    assert pin.steps()[:8] == [True, False, True, False, False, False, False, False]


def test_an_admin_collects_for_the_team_chosen_or_for_every_team(site, day, conn):
    admin = signed_in(site)
    assert 'action="/tasks/collect?team=committee"' in admin.get("/tasks?team=committee").text
    admin.post("/tasks/collect?team=committee", data={"csrf_token": csrf(admin)})
    [committee_slot] = [r["slot_code"] for r in rows(conn, "SELECT slot_code FROM parcels "
                                                          "WHERE ref = 'SF2901'")]
    lit = "SELECT slot_code FROM signals WHERE mode = 'collect' ORDER BY slot_code"
    assert [r["slot_code"] for r in rows(conn, lit)] == [committee_slot]
    admin.post("/tasks/collect", data={"csrf_token": csrf(admin)})
    assert [r["slot_code"] for r in rows(conn, lit)] == sorted([committee_slot, day["slot"]])
    assert [(e["actor"], e["detail"]["team"]) for e in events(conn, "collect")] == [
        ("admin@web", "committee"), ("admin@web", "all")]


def test_a_member_of_another_team_at_the_door_may_still_deliver(site, day, conn):
    client = signed_in(site, "li")  # the committee's, with the property company's task
    page = text_of(client.get(f"/tasks/{day['property']}").text)
    assert "这个任务现在由物业负责" in page  # the team's name in the page's language
    done = client.post(f"/tasks/{day['property']}/door", data={
        "csrf_token": csrf(client), "building": "24", "room": "2304"})
    assert done.status_code == 302
    assert {e["actor"] for e in events(conn, "delivered")} == {"li@web"}


def test_collect_with_nothing_on_the_shelf_says_so_and_records_nothing(site, conn, day):
    conn.execute("UPDATE door_tasks SET team = 'property'")
    client = signed_in(site, "li")
    done = client.post("/tasks/collect", data={"csrf_token": csrf(client)},
                       follow_redirects=True)
    assert "货架上没有要取的包裹。" in done.text
    assert events(conn, "collect") == []
    assert rows(conn, "SELECT * FROM signals WHERE mode = 'collect'") == []


def test_other_forms_keep_the_small_body_limit(site):
    client = signed_in(site, "zhang")
    big = {"csrf_token": csrf(client), "padding": "x" * (200 * 1024)}
    assert client.post("/tasks/collect", data=big).status_code == 413


# --- at the door ------------------------------------------------------------------------------

def door_photo(config, household: str, *, size=(3024, 4032), quality: int = 92) -> bytes:
    """A phone's photo of the door sticker: the real signed QR code (segno), on a door with
    grain, a little tilted, as a JPEG of a few MB."""
    sticker = Image.open(io.BytesIO(qr_image(door_payload(config.label_secret,
                                                          HouseholdId.parse(household)))))
    sticker = sticker.convert("L").resize((1100, 1100), Image.NEAREST).rotate(
        7, expand=True, fillcolor=255)
    photo = Image.effect_noise(size, 40).point(lambda v: 90 + v // 3)  # a grainy door
    ImageDraw.Draw(photo).rectangle((800, 1200, 2300, 2700), fill=235)  # the sticker's paper
    photo.paste(sticker, (900, 1350))
    out = io.BytesIO()
    photo.convert("RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue()


def post_photo(client, task: int, photo: bytes, name: str = "IMG_2041.jpg"):
    return client.post(f"/tasks/{task}/door", content_type="multipart/form-data", data={
        "csrf_token": csrf(client, f"/tasks/{task}"), "photo": (io.BytesIO(photo), name)})


def test_a_photo_of_the_wrong_door_is_refused_showing_both_rooms_then_the_right_one_delivers(
        site, day, community, conn):
    client = signed_in(site, "zhang")
    task = day["property"]
    wrong = door_photo(community, "24-2403")
    assert 2_000_000 < len(wrong) < 8 * 1024 * 1024  # a phone's JPEG, over the site's 64 KB

    refused = post_photo(client, task, wrong)
    assert refused.status_code == 409
    words = text_of(refused.text)
    assert "门牌不对，不能送！" in words
    assert "这是 24-2403 ； 包裹是给 24-2304 的" in words  # two lines of one sentence
    assert re.search(r'class="room room-given">24-2403<', refused.text)
    assert re.search(r'class="room room-expected">24-2304<', refused.text)
    [event] = events(conn, "door_refused")
    assert (event["actor"], event["detail"]["given"], event["detail"]["via"],
            event["detail"]["source"]) == ("zhang@web", "24-2403", "sticker", "web")
    assert rows(conn, "SELECT status FROM door_tasks WHERE id = ?", task) == [{"status": "open"}]
    english = text_of(client.post(f"/tasks/{task}/door?lang=en", data={
        "csrf_token": csrf(client), "building": "24", "room": "2403"}).text)
    assert "this is 24-2403 ; the parcel is for 24-2304" in english

    delivered = post_photo(client, task, door_photo(community, "24-2304"))
    assert delivered.status_code == 302 and delivered.location == f"/tasks/{task}"
    page = text_of(client.get(f"{delivered.location}?lang=zh").text)
    assert "已送达 24-2304：2 件 12-03 11:05，Zhang 确认" in page
    assert [r["status"] for r in rows(conn, "SELECT status FROM parcels WHERE id IN (?, ?)",
                                      *day["parcels"])] == ["collected", "collected"]
    assert [(e["actor"], e["detail"]["via"]) for e in events(conn, "delivered")] == [
        ("zhang@web", "sticker"), ("zhang@web", "sticker")]
    assert len(rows(conn, "SELECT * FROM outbox WHERE kind = 'door_delivered'")) == 1
    assert "24-2304" not in signed_in(site, "zhang").get("/tasks").text


def test_a_typed_room_delivers_and_a_second_delivery_is_refused_in_words(site, day, conn):
    client = signed_in(site, "li")
    task = day["committee"]
    done = client.post(f"/tasks/{task}/door", data={"csrf_token": csrf(client),
                                                    "building": " 29", "room": "1004 "})
    assert done.status_code == 302
    again = client.post(f"/tasks/{task}/door", data={"csrf_token": csrf(client),
                                                     "building": "29", "room": "1004"})
    assert again.status_code == 409
    assert "这个任务已经送达过了（12-03 11:05，Li），不能再送一次。" in text_of(again.text)
    assert [e["detail"]["via"] for e in events(conn, "delivered")] == ["typed"]


def test_a_cancelled_task_and_bad_input_are_refused_with_the_reason(site, day, community, conn):
    client = signed_in(site, "zhang")
    task = day["property"]
    half = client.post(f"/tasks/{task}/door", data={"csrf_token": csrf(client), "room": "2304"})
    assert half.status_code == 422 and "请分别输入楼栋和房号" in text_of(half.text)
    label = client.post(f"/tasks/{task}/door", data={"csrf_token": csrf(client), "door": make_label(
        community.label_secret, HouseholdId.parse("24-2304"), "SF1").encode()})
    assert "这不是门贴二维码" in text_of(label.text)
    blank = Image.new("L", (800, 600), 200)
    out = io.BytesIO()
    blank.save(out, format="PNG")
    assert "照片里没有找到二维码" in text_of(post_photo(client, task, out.getvalue()).text)
    assert "这张照片打不开" in text_of(post_photo(client, task, b"not a photo").text)
    huge = post_photo(client, task, b"\xff" * (9 * 1024 * 1024))
    assert huge.status_code == 413 and "照片太大（最多 8 MB）" in text_of(huge.text)

    set_observation("24-2304", False, SqliteUnitOfWork(conn), Rules.from_config(community),
                    day["clock"], actor="test")
    cancelled = client.post(f"/tasks/{task}/door", data={"csrf_token": csrf(client),
                                                         "building": "24", "room": "2304"})
    assert cancelled.status_code == 409
    assert "这个任务已经取消：住户已解除居家观察" in text_of(cancelled.text)
    assert "任务已取消" in text_of(client.get(f"/tasks/{task}").text)
    assert events(conn, "delivered") == []


def test_nothing_of_a_photo_is_opened_before_its_turn(site, day, monkeypatch):
    """A photo is opened, sized and decoded only holding the one-at-a-time lock: while another
    is being read, this one is told to try again, unopened (four decoded at once were 1.15 GB)."""
    client = signed_in(site, "zhang")
    monkeypatch.setattr(tasks, "PHOTO_READ_WAIT_S", 0.01)
    damaged = hostile.big_png()[:5000]  # its header says 7000 x 7000; its pixels are cut off
    assert tasks.PHOTO_READS.acquire(timeout=10)  # another photo is being read
    try:
        waiting = post_photo(client, day["property"], damaged)
    finally:
        tasks.PHOTO_READS.release()
    assert waiting.status_code == 503 and "正在识别别人的照片" in text_of(waiting.text)
    opened = post_photo(client, day["property"], damaged)  # its turn: opened, and refused
    assert opened.status_code == 413 and "照片像素太多" in text_of(opened.text)


def test_without_a_decoder_the_door_page_asks_for_the_room(community, day):
    app = make_app(with_staff(community), day["clock"])
    client = signed_in(app, "zhang")
    page = client.get(f"/tasks/{day['property']}").text
    assert 'capture="environment"' not in page and 'name="room"' in page
    refused = post_photo(client, day["property"], b"\xff\xd8")
    assert "这个服务器不能识别照片：请输入房号。" in text_of(refused.text)


def test_the_door_page_has_the_camera_input_and_csrf(site, day):
    client = signed_in(site, "zhang")
    page = client.get(f"/tasks/{day['property']}").text
    assert '<input type="file" id="door-photo" name="photo" accept="image/*" ' \
           'capture="environment"' in page
    assert page.count('name="csrf_token"') == 3  # sign out, the photo, the typed room
    assert client.get("/tasks/999").status_code == 404
    missing = client.post(f"/tasks/{day['property']}/door", data={"building": "24",
                                                                  "room": "2304"})
    assert missing.status_code == 400


# --- counts -----------------------------------------------------------------------------------

def test_the_day_s_counts_page_and_csv_with_bom(site, day, conn):
    zhang = signed_in(site, "zhang")
    zhang.post(f"/tasks/{day['property']}/door", data={"csrf_token": csrf(zhang),
                                                        "building": "24", "room": "2304"})
    li = signed_in(site, "li")
    page = li.get("/counts?date=2026-12-03").text
    assert re.search(r'data-team="property">.*?data-count="delivered">2<', page, re.S)
    assert re.search(r'data-person="zhang@web"><th scope="row">Zhang</th>', page)
    assert "2026-12-03（Asia/Shanghai）" in page

    response = li.get("/counts.csv?date=2026-12-03&lang=en")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="counts-2026-12-03.csv"' in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    by = {(r["Scope"], r["Team"], r["Person"]): r for r in table}
    assert by[("all", "", "")]["Checked in"] == "3"
    assert by[("all", "", "")]["Delivered to doors"] == "2"
    assert by[("team", "property", "")]["Delivered to doors"] == "2"
    assert by[("team", "committee", "")]["Still waiting at day's end"] == "1"
    assert by[("person", "property", "zhang@web")]["Name"] == "Zhang"
    chinese = li.get("/counts.csv?date=2026-12-03&lang=zh").data.decode("utf-8-sig")
    assert chinese.splitlines()[0].startswith("日期,范围,团队,人员,姓名,入架")
    assert li.get("/counts.csv?date=2026-12-02").data.decode("utf-8-sig").count("\r\n") == 4
