"""Notices end to end: check a parcel in, deliver the outbox through a real local SMTP server."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import datetime, timedelta

import cv2
import numpy as np
import pytest
from conftest import PATIENCE_S
from pyzbar.pyzbar import decode

from kiosk.app.sim.mailcatcher import MailCatcher
from kiosk.channels.email import EmailChannel
from kiosk.community import open_store
from kiosk.config import ChannelConfig, Config
from kiosk.domain import HouseholdId
from kiosk.errors import NoticeError
from kiosk.labels import make_label
from kiosk.notices.delivery import (
    GIVE_UP_AFTER,
    MAX_ATTEMPTS,
    DeliveryReport,
    build_channels,
    deliver_due,
    render,
    retry_delay,
    run_worker,
)
from kiosk.outcome import Outcome
from kiosk.ports import Notice
from kiosk.queries import failed_notices
from kiosk.services import Rules, act_on_payload
from kiosk.store import SqliteUnitOfWork

RESIDENT = "24-2304"  # Chen Jie 陈杰, slot A-12, may come down
RESIDENT_EMAIL = "r24-2304@sample-garden.example"
OBSERVED = "4-1702"  # under home observation in the sample households.csv


class MailServer(MailCatcher):
    """The shared mail catcher, able to refuse chosen recipients as a real relay would."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refused:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"


class DownChannel:
    """A channel whose gateway is unreachable: records each notice it is given, then refuses."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tried: list[Notice] = []

    def send(self, notice: Notice) -> None:
        self.tried.append(notice)
        raise NoticeError(f"{self.name}: gateway unreachable")


@pytest.fixture
def mail():
    with MailServer() as server:
        yield server


@pytest.fixture
def channels(community: Config, mail: MailServer):
    """The sample configuration's channels, pointed at the test server."""
    return build_channels(_pointed_at(community, mail).channels)


def _pointed_at(config: Config, mail: MailServer) -> Config:
    moved = tuple(replace(c, options={**c.options, "host": "127.0.0.1", "port": mail.port})
                  for c in config.channels)
    return replace(config, channels=moved)


def check_in(conn, config: Config, clock, household: str = RESIDENT) -> Outcome:
    label = make_label(config.label_secret, HouseholdId.parse(household))
    result = act_on_payload(label.encode(), SqliteUnitOfWork(conn), Rules.from_config(config),
                            clock)
    assert result.action == "checkin", result
    return result


def outbox_rows(conn, parcel: int) -> list:
    return conn.execute("SELECT * FROM outbox WHERE parcel_id = ? ORDER BY id",
                        (parcel,)).fetchall()


def deliver(conn, channels, clock, config: Config, **options) -> DeliveryReport:
    return deliver_due(SqliteUnitOfWork(conn), channels, clock,
                       timezone=config.community.timezone, **options)


def qr_payloads(png: bytes) -> list[bytes]:
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    return [symbol.data for symbol in decode(image)]


def failed_events(conn) -> list[dict]:
    rows = conn.execute("SELECT * FROM events WHERE kind = 'notice_failed' ORDER BY id")
    return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]


def test_pickup_notice_arrives_with_slot_code_and_a_qr_that_opens_the_slot(
        conn, community, clock, mail, channels):
    parcel = check_in(conn, community, clock)
    [row] = outbox_rows(conn, parcel.parcel)
    facts = json.loads(row["payload"])

    assert deliver(conn, channels, clock, community) == DeliveryReport(sent=1)

    [message] = mail.messages
    assert message["To"] == RESIDENT_EMAIL
    assert message["From"] == "shelf@sample-garden.example"
    code = facts["pickup_code"]
    # Each half of the subject in its own language, Chinese first; the slot and code in both.
    assert message["Subject"] == (f"【快递到了】货位 A-12 · 取件码 {code} | "
                                  f"Parcel ready: slot A-12, pickup code {code}")
    body = message.get_body(("plain",)).get_content()
    # The community and the shelf are named per language in the config: each half its own.
    for fact in ("陈杰", "到了示例花园的无接触快递架", "货位：A-12（门岗A架）",
                 "delivery shelf of Sample Garden.", "Slot: A-12 (Gate shelf A)",
                 f"取件码：{code}", f"Pickup code: {code}",
                 "2026-11-29 16:00 (Asia/Shanghai)",  # 08:00 UTC, as people at the gate read it
                 "所有待取的快递", "collects all your waiting parcels"):
        assert fact in body
    assert body.index("取件码") < body.index("Pickup code")  # Chinese first

    [attachment] = message.iter_attachments()
    assert attachment.get_content_type() == "image/png"
    [scanned] = qr_payloads(attachment.get_content())
    assert scanned.decode() == facts["pickup_qr"]
    # The resident holds the mailed QR to the camera: the parcel is handed out.
    pickup = act_on_payload(scanned, SqliteUnitOfWork(conn), Rules.from_config(community), clock)
    assert (pickup.action, pickup.parcels) == ("pickup", (parcel.parcel,))

    ready, collected = outbox_rows(conn, parcel.parcel)
    assert (ready["kind"], ready["status"], ready["attempts"], ready["last_error"]) == (
        "pickup_ready", "sent", 1, None)
    assert (collected["kind"], collected["status"]) == ("collected", "pending")
    # The next pass sends the pickup notice no more: only "collected" (已取件) goes.
    assert deliver(conn, channels, clock, community) == DeliveryReport(sent=1)
    assert [m["Subject"].split("】")[0] for m in mail.messages] == ["【快递到了", "【已取件"]
    assert deliver(conn, channels, clock, community) == DeliveryReport()  # each sent once only


def test_household_under_observation_is_told_staff_will_bring_it(
        conn, community, clock, mail, channels):
    parcel = check_in(conn, community, clock, OBSERVED)
    [row] = outbox_rows(conn, parcel.parcel)
    assert row["kind"] == "door_delivery"

    assert deliver(conn, channels, clock, community) == DeliveryReport(sent=1)

    [message] = mail.messages
    assert message["To"] == "r4-1702@sample-garden.example"
    body = message.get_body(("plain",)).get_content()
    assert "居家观察" in body and "送到您家门口" in body
    assert "under home observation" in body and "bring the parcel to your door" in body
    assert "取件码" not in message["Subject"] + body and "Pickup code" not in body
    assert not re.search(r"\b\d{6}\b", body)  # no code to type
    assert list(message.iter_attachments()) == []  # no QR to show


def test_server_down_keeps_the_notice_and_delivers_it_when_back(
        conn, community, clock, mail, channels, caplog):
    caplog.set_level(logging.INFO, logger="kiosk")
    mail.stop()
    parcel = check_in(conn, community, clock)
    failed_at = clock.now()

    assert deliver(conn, channels, clock, community) == DeliveryReport(retried=1)

    [row] = outbox_rows(conn, parcel.parcel)
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert "cannot send through 127.0.0.1" in row["last_error"]
    assert datetime.fromisoformat(row["next_attempt_at"]) == failed_at + timedelta(seconds=30)

    mail.start()
    assert deliver(conn, channels, clock, community) == DeliveryReport()  # not due yet
    clock.advance(30)
    assert deliver(conn, channels, clock, community) == DeliveryReport(sent=1)
    assert len(mail.messages) == 1
    [row] = outbox_rows(conn, parcel.parcel)
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 2, None)

    code = json.loads(row["payload"])["pickup_code"]
    assert "24-23**" in caplog.text
    for secret in (RESIDENT_EMAIL, code, "24-2304"):
        assert secret not in caplog.text


def test_gives_up_after_max_attempts_and_tells_the_staff(conn, community, clock, mail, channels):
    mail.stop()
    parcel = check_in(conn, community, clock)
    waits = []
    for _ in range(3):
        before = clock.now()
        deliver(conn, channels, clock, community, max_attempts=3)
        [row] = outbox_rows(conn, parcel.parcel)
        waits.append(datetime.fromisoformat(row["next_attempt_at"]) - before)
        clock.advance(3600)

    assert (row["status"], row["attempts"]) == ("failed", 3)
    assert waits[:2] == [timedelta(seconds=30), timedelta(seconds=60)]
    [event] = failed_events(conn)
    assert (event["parcel_id"], event["household_id"]) == (parcel.parcel, RESIDENT)
    assert event["detail"]["channel"] == "email" and event["detail"]["attempts"] == 3
    assert "cannot send through" in event["detail"]["error"]

    mail.start()
    clock.advance(3600)
    assert deliver(conn, channels, clock, community) == DeliveryReport()
    assert mail.messages == []


def test_a_notice_is_retried_for_a_day_before_it_gives_up_and_is_listed_for_the_staff(
        conn, community, clock, mail, channels):
    mail.stop()  # a long outage of the mail relay
    parcel = check_in(conn, community, clock)
    first = clock.now()
    attempts_at = []
    while True:
        attempts_at.append(clock.now() - first)
        deliver(conn, channels, clock, community)
        [row] = outbox_rows(conn, parcel.parcel)
        if row["status"] != "pending":
            break
        clock.current = datetime.fromisoformat(row["next_attempt_at"])  # the fake clock jumps

    assert (row["status"], row["attempts"]) == ("failed", MAX_ATTEMPTS)
    assert timedelta(hours=24) <= attempts_at[-1] < timedelta(hours=24, minutes=30)
    assert attempts_at[7] < timedelta(hours=2)  # where it used to give up: now it goes on
    [listed] = failed_notices(conn)
    assert listed == {
        "id": row["id"], "household": RESIDENT, "parcel": parcel.parcel, "parcel_waiting": True,
        "channel": "email", "kind": "pickup_ready", "attempts": MAX_ATTEMPTS,
        "last_error": row["last_error"], "created_at": row["created_at"]}
    assert "cannot send through" in listed["last_error"]
    assert RESIDENT_EMAIL not in listed["last_error"]


def test_max_attempts_is_the_fewest_that_span_a_day():
    def span(attempts):
        return sum((retry_delay(n) for n in range(1, attempts)), timedelta())

    assert span(MAX_ATTEMPTS) >= GIVE_UP_AFTER == timedelta(hours=24)
    assert span(MAX_ATTEMPTS - 1) < GIVE_UP_AFTER


def test_shelf_notices_retry_requeues_failed_notices_and_says_who(
        conn, community, clock, mail, channels):
    mail.stop()
    parcels = [check_in(conn, community, clock, h).parcel for h in (RESIDENT, "2-902")]
    for _ in parcels:  # a channel that fails is left alone for the rest of a pass
        deliver(conn, channels, clock, community, max_attempts=1)
    failed, other = (outbox_rows(conn, p)[0] for p in parcels)
    assert failed["status"] == other["status"] == "failed"

    def shelf(*args):
        return subprocess.run([sys.executable, "-m", "kiosk.app", "notices", "retry", *args,
                               "--config", str(community.path)], capture_output=True, text=True,
                              env={**os.environ, "SHELF_NOW": clock.now().isoformat()})

    asked = shelf("--id", str(failed["id"]), "999", "--json")
    assert asked.returncode == 1, asked.stderr
    assert json.loads(asked.stdout) == {"requeued": [failed["id"]], "skipped": [
        {"id": 999, "reason": "there is no such notice"}]}
    row = outbox_rows(conn, parcels[0])[0]
    assert (row["status"], row["attempts"], row["last_error"]) == ("pending", 0, None)
    assert outbox_rows(conn, parcels[1])[0]["status"] == "failed"  # not asked for
    event = conn.execute("SELECT * FROM events WHERE kind = 'notice_requeued'").fetchone()
    assert event["actor"].endswith("@shell") and event["household_id"] == RESIDENT
    assert json.loads(event["detail"])["notice"] == failed["id"]
    assert [n["id"] for n in failed_notices(conn)] == [other["id"]]

    mail.start()
    clock.advance(60)  # the command's clock ran on from SHELF_NOW while it started
    assert deliver(conn, channels, clock, community) == DeliveryReport(sent=1)
    everything = shelf("--all-failed")
    assert everything.returncode == 0, everything.stderr
    assert f"requeued 1 notice(s): {other['id']}" in everything.stdout
    again = shelf("--id", str(failed["id"]))
    assert again.returncode == 1 and "it was sent already" in again.stdout
    unsaid = shelf()
    assert unsaid.returncode == 2 and "--id N ... or --all-failed" in unsaid.stderr
    assert failed_notices(conn) == []


def test_backoff_doubles_from_30_seconds_up_to_30_minutes():
    assert [retry_delay(n).total_seconds() for n in range(1, 10)] == [
        30, 60, 120, 240, 480, 960, 1800, 1800, 1800]


def test_notice_for_a_channel_no_longer_configured_moves_on_or_fails_once_and_cleanly(
        conn, community, clock, mail, channels):
    old = ChannelConfig("wecom-old", "email", dict(community.channels[0].options))
    parcel = check_in(conn, replace(community, channels=(old, *community.channels)), clock)
    alone = check_in(conn, replace(community, channels=(old,)), clock, "2-902")

    # The first notice moves on to its next contact; the other has none and gives up.
    assert deliver(conn, channels, clock, community) == DeliveryReport(retried=1, failed=1)
    assert deliver(conn, channels, clock, community) == DeliveryReport(sent=1)

    [sent] = outbox_rows(conn, parcel.parcel)
    assert (sent["channel"], sent["status"]) == ("email", "sent") and len(mail.messages) == 1
    [gone] = outbox_rows(conn, alone.parcel)
    assert (gone["channel"], gone["status"]) == ("wecom-old", "failed")
    assert "'wecom-old' is not configured" in gone["last_error"]
    [event] = failed_events(conn)
    assert event["detail"]["channel"] == "wecom-old"
    clock.advance(3600)
    assert deliver(conn, channels, clock, community) == DeliveryReport()  # not retried forever


def test_a_failing_channel_does_not_hold_up_the_others(conn, community, clock, mail, channels):
    # The broken gateway's rows come first in the outbox, more of them than the batch allows.
    sms = ChannelConfig("sms", "email", dict(community.channels[0].options))
    by_sms = replace(community, channels=(sms,))
    parcels = [check_in(conn, by_sms, clock, h).parcel for h in (RESIDENT, "2-902", "4-1104")]
    for household in ("2-2603", "3-301", "3-310"):
        check_in(conn, community, clock, household)
    down = DownChannel("sms")

    report = deliver(conn, {**channels, "sms": down}, clock, community, batch=4)

    assert report == DeliveryReport(sent=3, retried=1)
    assert sorted(m["To"] for m in mail.messages) == sorted(
        f"r{h}@sample-garden.example" for h in ("2-2603", "3-301", "3-310"))
    assert len(down.tried) == 1  # tried once, then left alone for this pass
    sms_rows = [outbox_rows(conn, p)[0] for p in parcels]
    assert [(r["status"], r["attempts"]) for r in sms_rows] == [
        ("pending", 1), ("pending", 0), ("pending", 0)]


class CourierDuringSend:
    """A slow channel: while it 'sends', a courier checks another parcel in at the kiosk."""

    def __init__(self, name: str, kiosk_conn, config: Config, clock) -> None:
        self.name = name
        self.kiosk_conn, self.config, self.clock = kiosk_conn, config, clock
        self.checked_in: list[Outcome] = []

    def send(self, notice: Notice) -> None:
        if not self.checked_in:
            self.checked_in.append(check_in(self.kiosk_conn, self.config, self.clock, "2-902"))


def test_sending_never_holds_the_database_lock(conn, community, clock):
    kiosk_conn = open_store(community)
    kiosk_conn.execute("PRAGMA busy_timeout = 0")  # a held write lock fails at once
    try:
        parcel = check_in(conn, community, clock)
        slow = CourierDuringSend("email", kiosk_conn, community, clock)

        report = deliver(conn, {"email": slow}, clock, community)
    finally:
        kiosk_conn.close()
    assert len(slow.checked_in) == 1
    assert report == DeliveryReport(sent=2)  # the first parcel's notice, then the second's
    assert outbox_rows(conn, parcel.parcel)[0]["status"] == "sent"


def test_refused_recipient_is_retried_without_leaking_the_address(
        conn, community, clock, mail, channels):
    mail.refused.add(RESIDENT_EMAIL)
    parcel = check_in(conn, community, clock)

    assert deliver(conn, channels, clock, community) == DeliveryReport(retried=1)

    [row] = outbox_rows(conn, parcel.parcel)
    assert "refused the recipient: 550" in row["last_error"]
    assert RESIDENT_EMAIL not in row["last_error"]
    assert mail.messages == []


def test_email_channel_wraps_failures_in_notice_error(mail):
    channel = EmailChannel("email", "127.0.0.1", mail.port, "shelf@example.org",
                           timeout=PATIENCE_S)
    mail.refused.add("nobody@example.org")
    with pytest.raises(NoticeError, match="refused the recipient: 550"):
        channel.send(Notice("nobody@example.org", "subject", "body"))
    mail.stop()
    with pytest.raises(NoticeError, match=r"cannot send through 127\.0\.0\.1"):
        channel.send(Notice("somebody@example.org", "subject", "body"))


def test_worker_delivers_until_stopped(conn, community, clock, mail, channels):
    parcel = check_in(conn, community, clock)
    stop = threading.Event()
    worker = threading.Thread(target=run_worker,
                              args=(SqliteUnitOfWork(conn), channels, clock, stop),
                              kwargs={"interval": 0.05, "timezone": community.community.timezone})
    worker.start()
    try:
        mail.wait_for(1, timeout=PATIENCE_S)
    finally:
        stop.set()
        worker.join(PATIENCE_S)
    assert not worker.is_alive()
    assert len(mail.messages) == 1
    [row] = outbox_rows(conn, parcel.parcel)
    assert row["status"] == "sent"


def test_a_round_that_fails_stops_neither_the_others_nor_the_sending(conn, community, clock, mail,
                                                                    channels):
    """Handovers, new tasks and reminders run before each pass, each on its own: a bug in the
    first must not cost the others (nor the notices) their pass."""
    check_in(conn, community, clock)
    stop, ran = threading.Event(), []

    def broken() -> None:
        raise RuntimeError("a bug in the handovers")

    def reminders() -> None:
        ran.append("reminders")

    worker = threading.Thread(target=run_worker,
                              args=(SqliteUnitOfWork(conn), channels, clock, stop),
                              kwargs={"interval": 0.05, "timezone": community.community.timezone,
                                      "each_pass": (broken, reminders)})
    worker.start()
    try:
        mail.wait_for(1, timeout=PATIENCE_S)
    finally:
        stop.set()
        worker.join(PATIENCE_S)
    assert ran and len(mail.messages) == 1


def test_unknown_notice_kind_is_refused():
    with pytest.raises(ValueError, match="unknown notice kind"):
        render("birthday", {}, "someone@example.org", None)


def test_notices_once_sends_everything_due_not_one_batch(community, conn, clock, mail):
    """``shelf notices --once`` says it sends what is due: 45 due notices are 45 mails, not
    the worker's batch of 20 (a real subprocess against the real SMTP catcher)."""
    from test_cli_tasks import shelf, with_mail

    with_mail(community, mail.port)
    households = ("2-902", "2-2603", "3-301", "3-310", RESIDENT)
    for n in range(45):
        check_in(conn, community, clock, households[n % len(households)])
    due = conn.execute("SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone()[0]
    assert due == 45
    done = shelf(community, "notices", "--once",
                 now=(clock.now() + timedelta(minutes=1)).isoformat())
    assert done.returncode == 0, done.stderr
    mail.wait_for(45)
    left = conn.execute("SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone()[0]
    assert (left, len(mail.messages)) == (0, 45)
