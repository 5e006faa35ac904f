"""Uploads on the staff site (issue 18): a list larger than any real one is refused at its
upload in words naming the limit, and not kept; one read is kept with the upload; a door photo
is sized before it is decoded; uploads are kept ``[web] uploads_days``, then deleted.

The attacks run against the real server (``shelf web``, waitress in its own process), where
their cost lived; the finer rules through Flask's client. What each attack costs the server is
measured by ``make proofs`` (bench/proofs/uploads.py), not here."""

from __future__ import annotations

import html
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from conftest import add_member, check_in
from test_web import AuthActions

from bench import hostile
from bench.served import Answer, Site
from kiosk.observation import set_observation
from kiosk.services import Rules
from kiosk.store import SqliteUnitOfWork, connect, migrate

LIST = "户号,状态\r\n24-2304,新增\r\n29-1004,解除\r\n".encode()


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


def text(page: str) -> str:
    """What a person reads on the page."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def kept(conn, table: str = "observation_files") -> int:
    return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


# --- on the real server -------------------------------------------------------------------------

def test_workbooks_larger_than_any_list_are_refused_at_the_upload_and_not_kept(community, conn,
                                                                               tmp_path):
    add_member(community, "wang", "property")
    add_member(community, "li", "committee")
    with Site(community, tmp_path / "web.log") as site:
        wang = site.browser()
        wang.sign_in("wang", "wang pass")

        def upload(data: bytes, name: str = "名单.xlsx", form: str = "/observation") -> Answer:
            return wang.post("/observation/upload", {"date": "2026-11-29"}, form=form,
                             files={"list": (name, data)})

        for data, says in [(hostile.dimension_bomb(), "一份名单最多 20,000 行"),
                           (hostile.deflate_bomb(), "工作簿解压后最多 16 MB"),
                           (hostile.wide_row(), "一份名单最多 100 列")]:
            refused = upload(data)
            assert refused.status == 200 and urlparse(refused.url).path == "/observation"
            assert f"名单.xlsx：超过上限，{says}" in text(refused.text)
        li = site.browser()
        li.sign_in("li", "li pass")
        refused = li.post("/households/import", {}, form="/households/import",
                          files={"list": ("住户.xlsx", hostile.deflate_bomb())})
        assert "住户.xlsx：超过上限，工作簿解压后最多 16 MB" in text(refused.text)
        assert kept(conn) == 0 and kept(conn, "household_files") == 0

        honest = upload(hostile.compound_list(5_000), "全部.xlsx")  # a large compound's list
        assert "/observation/list/" in honest.url and "5000 行" in text(honest.text)
        english = upload(hostile.dimension_bomb(), form="/observation?lang=en")
        assert "名单.xlsx: over the limit: a list has at most 20,000 rows" in text(english.text)
        assert site.alive()


def test_a_door_photo_of_more_pixels_than_allowed_is_refused_before_it_is_decoded(
        community, conn, clock, tmp_path):
    set_observation("24-2304", True, SqliteUnitOfWork(conn), Rules.from_config(community), clock,
                    actor="test")
    task = check_in(conn, community, clock, "24-2304").door_task.id
    add_member(community, "li", "committee")
    photo = hostile.big_png()  # 185 KB on the wire, 196 MB decoded
    with Site(community, tmp_path / "web.log") as site:
        li = site.browser()
        li.sign_in("li", "li pass")
        for form, says in [(f"/tasks/{task}", "照片像素太多（上限 1600 万像素"),
                           (f"/tasks/{task}?lang=en", "at most 16 megapixels")]:
            refused = li.post(f"/tasks/{task}/door", {}, form=form,
                              files={"photo": ("door.png", photo)})
            assert refused.status == 413 and says in text(refused.text)


# --- the size of an upload ------------------------------------------------------------------------

@pytest.mark.parametrize("path, form, field", [
    ("/observation/upload", "/observation", {"date": "2026-11-29"}),
    ("/households/import", "/households/import", {}),
])
def test_a_list_over_the_upload_limit_is_refused_unread(client, auth, conn, path, form, field):
    auth.login()
    big = LIST + b"#" * (1024 * 1024)  # over 1 MB: no compound's list is this large
    refused = client.post(path, content_type="multipart/form-data", follow_redirects=True, data={
        "csrf_token": auth.csrf(form), **field, "list": (io.BytesIO(big), "名单.csv")})
    assert refused.request.path == form
    assert "文件太大（上限 1 MB）：一个小区的名单不会这么大。没有保存。" in text(refused.text)
    assert kept(conn) == 0 and kept(conn, "household_files") == 0


# --- read once, at the upload -------------------------------------------------------------------

def upload(client, auth, data: bytes = LIST, name: str = "11月29日.csv"):
    return client.post("/observation/upload", content_type="multipart/form-data", data={
        "csrf_token": auth.csrf("/observation"), "date": "2026-11-29", "source": "committee",
        "list": (io.BytesIO(data), name)})


def test_a_preview_shows_what_the_upload_read_without_reading_the_file_again(client, auth, conn):
    auth.login()
    uploaded = upload(client, auth, hostile.compound_list(300), "名单.xlsx")
    assert uploaded.status_code == 302
    conn.execute("UPDATE observation_files SET data = X'504B0304'")  # the bytes, now unreadable
    page = text(client.get(uploaded.location).text)
    assert "名单.xlsx · 变动名单（新增 / 解除） · xlsx · 300 行" in page
    assert "文件无法读取" not in page


# --- kept for [web] uploads_days, then deleted -------------------------------------------------

def prune(config, clock, days: float) -> dict:
    """`shelf stills prune --json`, ``days`` after the site's clock."""
    later = clock.now() + timedelta(days=days)
    done = subprocess.run([sys.executable, "-m", "kiosk.app", "--config", str(config.path),
                           "stills", "prune", "--json"], capture_output=True, text=True,
                          env={**os.environ, "SHELF_NOW": later.isoformat()}, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_an_upload_is_deleted_after_its_days_and_the_register_keeps_the_rest(
        client, auth, conn, community, clock):
    auth.login()
    preview = client.get(upload(client, auth).location)
    form = dict(re.findall(r'name="(sha256|date|source|diff_key|csrf_token)" value="([^"]*)"',
                           preview.text))
    assert client.post("/observation/apply", data=form).status_code == 302
    sha256 = form["sha256"]

    assert prune(community, clock, 29)["uploads"]["deleted"] == 0  # a day short: kept
    report = prune(community, clock, 30.1)
    assert report["uploads"] == {"deleted": 1, "days": 30, "before": report["uploads"]["before"]}
    assert report["deleted"] == 0  # the stills' own figures, as before
    row = conn.execute("SELECT data, reading, deleted_at FROM observation_files").fetchone()
    assert row["data"] is None and row["reading"] is None and row["deleted_at"]
    entry = conn.execute("SELECT sha256, added, released FROM observation_lists").fetchone()
    assert tuple(entry) == (sha256, 1, 1)  # the register: its fingerprint and its counts

    register = text(client.get("/observation").text)
    assert "11月29日.csv 文件已在 30 天后删除" in register
    gone = client.get(f"/observation/file/{sha256}", follow_redirects=True)
    assert gone.request.path == "/observation"
    assert "这份上传的文件已按规定在 30 天后删除：请重新上传。" in text(gone.text)
    again = client.get(upload(client, auth).location)  # the same bytes, uploaded again
    assert again.status_code == 200 and client.get(f"/observation/file/{sha256}").data == LIST


def test_a_household_list_is_deleted_after_its_days_too(client, auth, conn, community, clock):
    auth.login()
    uploaded = client.post("/households/import", content_type="multipart/form-data", data={
        "csrf_token": auth.csrf("/households/import"),
        "list": (io.BytesIO("楼栋,房号,电话\r\n24,2304,13911112222\r\n".encode()), "住户.csv")})
    assert client.get(uploaded.location).status_code == 200
    assert prune(community, clock, 31)["uploads"]["deleted"] == 1
    page = client.get(uploaded.location)
    assert page.status_code == 400
    assert "这份上传的文件已按规定在 30 天后删除" in text(page.text)


def test_migration_21_keeps_every_upload_and_the_register_s_references(tmp_path):
    """A store from before (schema 20, foreign keys on): the upload tables are rebuilt so that
    their bytes may be deleted; every upload and the register's reference to it survive, and
    an upload kept before it is read from its bytes."""
    old = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    old.execute("PRAGMA foreign_keys = ON")
    migrate(old, target=20)
    at = "2026-11-29T01:00:00.000+00:00"
    old.execute("INSERT INTO observation_files VALUES ('aa', '名单.csv', ?, ?, 'li@web')",
                (LIST, at))
    old.execute("INSERT INTO household_files VALUES ('bb', '住户.csv', X'00', ?, 'li@web')", (at,))
    old.execute("INSERT INTO observation_lists (applied_at, actor, list_date, file_name, sha256,"
                " format, added, released, unchanged, unknown, problems) VALUES (?, 'li@web',"
                " '2026-11-29', '名单.csv', 'aa', 'status', 1, 1, 0, 0, 0)", (at,))
    old.close()

    conn = connect(tmp_path / "old.db")
    uow = SqliteUnitOfWork(conn)
    found = uow.observation.files.get("aa")
    assert (found.name, found.data, found.reading, found.deleted_at) == ("名单.csv", LIST, None,
                                                                        None)
    assert uow.households.files.get("bb").data == b"\x00"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    with pytest.raises(sqlite3.IntegrityError):  # the register still refers to its file
        conn.execute("DELETE FROM observation_files WHERE sha256 = 'aa'")
