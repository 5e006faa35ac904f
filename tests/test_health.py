"""GET /healthz: the kiosk's heartbeat, the outbox's backlog, the last backup; no login."""

from __future__ import annotations

import signal
import time
from datetime import timedelta

from conftest import PATIENCE_S, check_in, make_app, wait_for
from test_cli_run import labels
from test_sdnotify import Listener, start_kiosk

from kiosk.app.sim.label_video import write_label_video
from kiosk.clock import SystemClock
from kiosk.store import SqliteUnitOfWork, connect, record_heartbeat
from kiosk.timefmt import iso


def test_no_heartbeat_yet_is_unhealthy(client):
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json["status"] == "kiosk_stale"
    assert answer.json["kiosk_heartbeat_age_s"] is None
    assert answer.json["last_frame_at"] is None


def test_a_fresh_heartbeat_is_healthy_and_a_stale_one_is_not(community, conn, clock, client):
    record_heartbeat(conn, clock.now() - timedelta(seconds=5), clock.now() - timedelta(seconds=6))
    answer = client.get("/healthz")
    assert answer.status_code == 200, answer.json
    assert answer.json["status"] == "ok"
    assert answer.json["kiosk_heartbeat_age_s"] == 5.0
    assert answer.json["last_frame_at"] == iso(clock.now() - timedelta(seconds=6))
    assert answer.headers["Cache-Control"] == "no-store"

    clock.advance(26)  # 31 s since the last beat: three beats missed
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json["status"] == "kiosk_stale"
    assert answer.json["kiosk_heartbeat_age_s"] == 31.0


def test_a_kiosk_alive_without_its_camera_is_unhealthy(community, conn, clock, client):
    """Waiting for a camera unplugged (or never found at start) it beats on, but it checks
    nothing in: a monitor must hear it."""
    with SqliteUnitOfWork(conn) as uow:
        uow.events.add("camera_lost", "kiosk", clock.now(), reason="not found at start")
    record_heartbeat(conn, clock.now(), None)
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert (answer.json["status"], answer.json["camera_lost"]) == ("camera_lost", True)
    assert answer.json["kiosk_heartbeat_age_s"] == 0.0

    clock.advance(3)
    with SqliteUnitOfWork(conn) as uow:
        uow.events.add("camera_back", "kiosk", clock.now())
    record_heartbeat(conn, clock.now(), clock.now())
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert (answer.json["status"], answer.json["camera_lost"]) == ("ok", False)


def test_outbox_backlog_and_last_backup_without_personal_data(community, conn, clock, client):
    record_heartbeat(conn, clock.now(), clock.now())
    empty = client.get("/healthz").json
    assert (empty["outbox_pending"], empty["outbox_failed"]) == (0, 0)
    assert empty["outbox_oldest_pending_age_s"] is None and empty["last_backup_at"] is None

    check_in(conn, community, clock, "24-2304")  # its pickup notice waits in the outbox
    backup_at = clock.now() + timedelta(minutes=1)
    with SqliteUnitOfWork(conn) as uow:
        uow.events.add("backup_made", "backup", backup_at,
                       path="/var/backups/shelf/shelf-20261129-0801.db", bytes=123456)
    clock.advance(90)
    record_heartbeat(conn, clock.now(), clock.now())
    answer = client.get("/healthz")
    assert answer.status_code == 200
    body = answer.json
    assert body["outbox_pending"] == 1
    assert body["outbox_oldest_pending_age_s"] == 90.0
    assert body["last_backup_at"] == iso(backup_at)
    text = answer.get_data(as_text=True)
    assert "2304" not in text and "@" not in text and "shelf-2026" not in text


def test_a_store_that_does_not_answer_is_503(community, clock):
    app = make_app(community, clock)
    community.database.write_bytes(b"this is not a database" * 100)
    answer = app.test_client().get("/healthz")
    assert answer.status_code == 503
    assert answer.json == {"status": "store_unavailable"}


def test_the_running_kiosk_keeps_healthz_healthy(community, tmp_path):
    heard = Listener(f"@shelf-health-{time.monotonic_ns()}")
    video = write_label_video(tmp_path / "gate.avi", labels(community, "24-2304", "24-2403"),
                              hold_s=1.0, gap_s=1.0)
    kiosk = start_kiosk(community, tmp_path, heard, video)
    try:
        heard.wait_for("READY=1")
        client = make_app(community, SystemClock()).test_client()
        answers = []

        def healthy() -> bool:
            answers.append(client.get("/healthz"))
            return answers[-1].status_code == 200

        wait_for(healthy, every=0.2)
        answer = answers[-1]  # healthy: a heartbeat under HEARTBEAT_STALE_S old (not timed here)
        assert answer.json["status"] == "ok" and answer.json["kiosk_heartbeat_age_s"] >= 0
        assert answer.json["last_frame_at"] is not None
        kiosk.send_signal(signal.SIGTERM)
        _, err = kiosk.communicate(timeout=PATIENCE_S)
        assert kiosk.returncode == 0, err
    finally:
        kiosk.kill()
        heard.close()
    row = connect(community.database).execute("SELECT beat_at, last_frame_at"
                                              " FROM kiosk_heartbeat").fetchone()
    assert row["last_frame_at"] <= row["beat_at"]
