"""The database and the files fail safe: no fresh empty store by accident, private files, and a
clear word (not a traceback) for a full disk or a damaged file, with the kiosk still running."""

from __future__ import annotations

import logging
import os
import random
import re
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from conftest import ADMIN_PASSWORD
from test_scanner import make_scanner

from kiosk.community import init_community, open_store
from kiosk.config import load_config
from kiosk.domain import HouseholdId
from kiosk.errors import ConfigError, NotAStore
from kiosk.labels import make_label
from kiosk.migrations import load
from kiosk.store import APPLICATION_ID, connect, migrate
from web import create_app

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _empty_sqlite(db: Path) -> None:
    """What the old connect() left at a mistyped [database] path: SQLite's, with no shelf in it."""
    db.unlink()
    sqlite3.connect(db).execute("PRAGMA journal_mode = WAL").close()


def _foreign_sqlite(db: Path) -> None:
    db.unlink()
    other = sqlite3.connect(db)
    other.execute("CREATE TABLE notes (text TEXT)")
    other.commit()
    other.close()


DAMAGES = {
    "missing": (lambda db: db.unlink(), "does not exist; run `shelf init`"),
    "empty": (lambda db: db.write_bytes(b""), "is empty, not a shelf database"),
    "truncated": (lambda db: db.write_bytes(db.read_bytes()[:4096]),
                  "not a shelf database (empty or damaged"),
    "text": (lambda db: db.write_text("parcels: 12\n" * 400), "not a shelf database"),
    "random": (lambda db: db.write_bytes(random.Random(7).randbytes(8192)),
               "not a shelf database"),
    "empty sqlite": (_empty_sqlite, "not a shelf database"),
    "foreign sqlite": (_foreign_sqlite, "not a shelf database"),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_missing_or_damaged_database_is_refused_and_left_alone(community, damage):
    spoil, said = DAMAGES[damage]
    spoil(community.database)
    before = community.database.read_bytes() if community.database.exists() else None
    with pytest.raises(NotAStore) as refused:
        open_store(community).close()
    message = str(refused.value)
    assert said in message and str(community.database) in message
    assert f"[database] path in {community.path}" in message
    assert "\n" not in message
    after = community.database.read_bytes() if community.database.exists() else None
    assert after == before  # nothing made, nothing overwritten


def test_the_staff_site_refuses_to_start_without_its_database(community):
    community.database.unlink()
    with pytest.raises(NotAStore, match="does not exist"):
        create_app(community)
    assert not community.database.exists()


def test_a_database_deleted_under_the_site_gives_503_not_an_empty_shelf(community, clock):
    client = create_app(community, clock=clock).test_client()
    token = community.web.api_tokens[0]
    assert client.get("/api/slots", headers={"Authorization": f"Bearer {token}"}).status == "200 OK"
    community.database.unlink()
    api = client.get("/api/slots", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 503 and api.json["code"] == "not_a_store"
    assert api.headers["Retry-After"]
    assert not community.database.exists()


def test_a_database_from_before_the_mark_is_upgraded_and_marked(tmp_path):
    old = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    migrate(old, target=2)
    old.close()
    conn = connect(tmp_path / "old.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(load("sqlite"))
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_init_marks_its_database_in_the_header(tmp_path):
    config, _ = init_community(tmp_path / "c", ADMIN_PASSWORD)
    assert config.database.read_bytes()[68:72] == b"SHLF"


def test_init_will_not_overwrite_a_database(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "shelf.db").write_bytes(b"somebody's parcels")
    with pytest.raises(FileExistsError, match="not overwriting"):
        init_community(tmp_path / "c", ADMIN_PASSWORD)
    assert [p.name for p in (tmp_path / "c").iterdir()] == ["shelf.db"]
    assert (tmp_path / "c" / "shelf.db").read_bytes() == b"somebody's parcels"


@pytest.fixture
def open_umask():
    """The usual umask of a login shell, under which files come out world-readable."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def modes(*paths: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mode & 0o777 for p in paths}


@pytest.mark.parametrize("group_readable, mode", [(False, 0o600), (True, 0o640)])
def test_secrets_and_residents_data_are_private(tmp_path, open_umask, group_readable, mode):
    config, _ = init_community(tmp_path / "c", ADMIN_PASSWORD, group_readable=group_readable)
    conn = open_store(config)  # a running kiosk: its -wal and -shm exist
    with conn:
        conn.execute("UPDATE slots SET capacity = capacity")
    db = config.database
    files = [config.path, tmp_path / "c" / "households.csv", db,
             db.with_name("shelf.db-wal"), db.with_name("shelf.db-shm")]
    assert modes(*files) == {f.name: mode for f in files}
    conn.close()


def test_a_readable_database_and_config_are_named_with_the_fix(community, caplog):
    from kiosk.community import warn_if_exposed

    community.database.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        open_store(community).close()
        warn_if_exposed(community.path)
    assert not [r for r in caplog.records if str(community.path) in r.message]  # still 0600
    said = [r.message for r in caplog.records if "every user" in r.message]
    db = community.database
    assert said == [f"{db} can be read by every user of this machine (mode 0644);"
                    f" run: chmod 600 {db} {db}-wal {db}-shm"]  # SQLite copied the mode


# --- the configuration's encoding ----------------------------------------------------------

def test_a_config_saved_with_a_bom_loads(community):
    text = community.path.read_text(encoding="utf-8")
    community.path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    name = load_config(community.path).community.name
    assert (name, name.in_language("en")) == ("示例花园", "Sample Garden")


@pytest.mark.parametrize("encoding", ["gbk", "utf-16"])
def test_a_config_not_in_utf8_is_refused_with_what_to_do(community, encoding):
    text = community.path.read_text(encoding="utf-8")
    community.path.write_bytes(text.encode(encoding))
    with pytest.raises(ConfigError) as refused:
        load_config(community.path)
    assert str(refused.value).startswith(f"{community.path}: not UTF-8")
    assert str(refused.value).endswith("save it as UTF-8")


# --- a full disk ---------------------------------------------------------------------------

def community_on(disk, community):
    """Move the community onto ``disk`` (a small file system of its own)."""
    target = disk.path / "community"
    shutil.copytree(community.path.parent, target)
    return load_config(target / "config.toml")


class RecordingStop(threading.Event):
    """The loop's stop event; records how long the loop backed off each time."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0.0)
        return super().wait(timeout)


def full_messages(caplog) -> list[str]:
    return [r.message for r in caplog.records
            if r.levelno >= logging.WARNING and "full" in r.message]


def test_a_full_disk_refuses_check_ins_and_the_kiosk_carries_on(tiny_disk, community, clock,
                                                              caplog):
    config = community_on(tiny_disk, community)
    conn = open_store(config)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the next write must grow the WAL
    label = make_label(config.label_secret, HouseholdId.parse("24-2304")).encode()
    other = make_label(config.label_secret, HouseholdId.parse("24-2403")).encode()
    scanner, _, buzzer, results = make_scanner(conn, config, clock, [[label]] * 8)
    scanner.MAX_BACKOFF_S = 0.4  # a short test; the kiosk's own limit is 2 s
    tiny_disk.fill()
    stop = RecordingStop()
    with caplog.at_level(logging.INFO):
        assert scanner.run(stop) == 8  # the loop went on to the end of the frames
        # The label stayed in view: each sighting was tried again, and refused.
        assert [r.error for r in results] == ["storage_full"] * 8
        assert buzzer.sounds == ["warn"] * 8
        assert stop.waits == sorted(stop.waits) and stop.waits[0] >= 0.1
        assert stop.waits[-1] == 0.4
        assert len(full_messages(caplog)) == 1  # one line, not one a frame

        clock.advance(61)  # a minute on, still full: said once more
        scanner.source.frames = [[other]] * 2
        scanner.run(RecordingStop())
        assert len(full_messages(caplog)) == 2

        tiny_disk.free()
        scanner.source.frames = [[other]] * 3
        scanner.run(RecordingStop())
    assert [r.error for r in results[8:10]] == ["storage_full"] * 2
    assert [r.action for r in results[10:]] == ["checkin"]  # the same label, once space was freed
    assert buzzer.sounds[-1] == "confirm"
    assert "the storage saves again" in caplog.text
    saved = sqlite3.connect(config.database).execute("SELECT household_id FROM parcels").fetchall()
    assert saved == [("24-2403",)]
    scanner.close()
    conn.close()


def test_signing_in_on_a_full_disk_gives_a_clear_page(tiny_disk, community, clock):
    config = community_on(tiny_disk, community)
    kiosk = open_store(config)  # the kiosk holds the database open, as it does at the gate
    app = create_app(config, clock=clock)
    client = app.test_client()
    token = CSRF_RE.search(client.get("/login").text)[1]
    kiosk.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    tiny_disk.fill()
    page = client.post("/login", data={"csrf_token": token, "username": "admin",
                                       "password": ADMIN_PASSWORD})
    assert page.status_code == 503
    assert "存储空间已满" in page.text and "Traceback" not in page.text
    english = client.post("/login?lang=en", data={"csrf_token": token, "username": "admin",
                                                  "password": ADMIN_PASSWORD})
    assert english.status_code == 503 and "The storage is full" in english.text
    tiny_disk.free()
    signed_in = client.post("/login", data={"csrf_token": token, "username": "admin",
                                            "password": ADMIN_PASSWORD})
    assert signed_in.status_code == 302
    kiosk.close()
