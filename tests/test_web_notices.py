"""Notices that gave up: a banner on the live shelf page, a list, and sending them again."""

from __future__ import annotations

import json
import re

from conftest import check_in
from test_web import AuthActions

from kiosk.errors import NoticeError
from kiosk.notices.delivery import deliver_due
from kiosk.store import SqliteUnitOfWork

BANNER = re.compile(r"有 (\d+) 条通知未送达")


class DownChannel:
    """The e-mail channel as it is during an outage: every send fails."""

    name = "email"

    def send(self, notice) -> None:
        raise NoticeError("email: cannot send through 127.0.0.1:25: connection refused")


def give_up(conn, clock) -> None:
    report = deliver_due(SqliteUnitOfWork(conn), {"email": DownChannel()}, clock,
                         max_attempts=1)
    assert report.failed >= 1


def grid_html(client) -> str:
    return client.get("/shelf/grid", headers={"Accept": "application/json"}).json["html"]


def test_a_notice_that_gave_up_shows_on_the_live_page_and_is_sent_again(client, community,
                                                                       conn, clock):
    parcel = check_in(conn, community, clock, "24-2304")
    AuthActions(client).login()
    assert not BANNER.search(grid_html(client))
    give_up(conn, clock)
    assert BANNER.search(grid_html(client))[1] == "1"  # the poll carries it: no reload needed
    assert BANNER.search(client.get("/").text)[1] == "1"

    listing = client.get("/notices/failed").text
    assert "24-2304" in listing and "取件通知" in listing and "快递仍在架上" in listing
    [row] = conn.execute("SELECT id FROM outbox WHERE parcel_id = ?", (parcel.parcel,))
    token = AuthActions(client).csrf("/notices/failed")
    answer = client.post("/notices/retry", data={"csrf_token": token, "id": row["id"]},
                         follow_redirects=True)
    assert "已重新排队 1 条通知" in answer.text
    status = conn.execute("SELECT status, attempts FROM outbox WHERE id = ?",
                          (row["id"],)).fetchone()
    assert tuple(status) == ("pending", 0)
    event = conn.execute("SELECT actor, detail FROM events WHERE kind = 'notice_requeued'"
                         ).fetchone()
    assert event["actor"] == "admin@web" and json.loads(event["detail"])["notice"] == row["id"]
    assert not BANNER.search(grid_html(client))


def test_send_all_again_requeues_every_failed_notice(client, community, conn, clock):
    for household in ("24-2304", "24-2403"):
        check_in(conn, community, clock, household)
    give_up(conn, clock)
    AuthActions(client).login()
    token = AuthActions(client).csrf("/notices/failed")
    client.post("/notices/retry", data={"csrf_token": token, "all": "1"})
    counts = conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall()
    assert dict(map(tuple, counts)) == {"pending": 2}


def test_retrying_needs_a_signed_in_user_and_the_forms_token(client, community, conn, clock):
    check_in(conn, community, clock, "24-2304")
    give_up(conn, clock)
    assert client.post("/notices/retry", data={"all": "1"}).status_code == 302  # to sign in
    AuthActions(client).login()
    assert client.post("/notices/retry", data={"all": "1"}).status_code == 400  # no token
    assert conn.execute("SELECT COUNT(*) FROM outbox WHERE status = 'failed'").fetchone()[0]
