"""Staff accounts in the store: `shelf users` end to end, the config's [[web.users]] of before
copied in once (their PBKDF2 hashes still sign in, then become argon2), and the last admin kept.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import subprocess
import sys

import pytest
from conftest import ADMIN_PASSWORD, make_app

from kiosk.community import open_store
from kiosk.config import User
from kiosk.passwords import check_password, hash_password
from kiosk.staff import LastAdmin, disable_staff
from kiosk.store import SqliteUnitOfWork

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
ENV = {"GPIOZERO_PIN_FACTORY": "mock", "PATH": "/usr/bin:/bin", "SHELF_NOW":
       "2026-12-03T08:00:00+08:00"}
USER_KEYS = ["created_at", "disabled", "name", "role", "team", "updated_at", "username"]


def shelf(config, *args, password: str | None = None):
    """`shelf ARGS` as an operator runs it, the password (if any) on standard input."""
    return subprocess.run([sys.executable, "-m", "kiosk.app", "--config", str(config.path),
                           *args], input=None if password is None else password + "\n",
                          capture_output=True, text=True, env=ENV, timeout=60)


def users(config) -> dict[str, dict]:
    done = shelf(config, "users", "list", "--json")
    assert done.returncode == 0, done.stderr
    return {u["username"]: u for u in json.loads(done.stdout)["users"]}


def sign_in(app, username: str, password: str):
    """A browser signing in; its status: 302 in, 200 the form again (refused)."""
    client = app.test_client()
    token = CSRF_RE.search(client.get("/login").text)[1]
    response = client.post("/login", data={"csrf_token": token, "username": username,
                                           "password": password})
    return client, response.status_code


def signed_in(client) -> bool:
    return client.get("/").status_code == 200


def events(config, kind: str) -> list[tuple[str, dict]]:
    conn = open_store(config)
    try:
        rows = conn.execute("SELECT actor, detail FROM events WHERE kind = ? ORDER BY id",
                            (kind,)).fetchall()
    finally:
        conn.close()
    return [(row["actor"], json.loads(row["detail"])) for row in rows]


def test_shelf_users_add_disable_enable_reset_list(community, clock):
    assert list(users(community)) == ["admin"]
    added = shelf(community, "users", "add", "li", "--role", "committee", "--name", "李伟",
                  password="li's first pass")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "added li (committee, team committee)"
    listed = users(community)
    assert sorted(listed["li"]) == USER_KEYS  # never a password hash
    assert {k: listed["li"][k] for k in ("name", "role", "team", "disabled")} == {
        "name": "李伟", "role": "committee", "team": "committee", "disabled": False}
    assert listed["li"]["created_at"].startswith("2026-12-03T00:00:00")  # SHELF_NOW, in UTC
    assert "li's first pass" not in json.dumps(listed)

    app = make_app(community, clock)
    browser, status = sign_in(app, "li", "li's first pass")
    assert status == 302 and signed_in(browser)
    assert shelf(community, "users", "disable", "li").returncode == 0
    assert not signed_in(browser)  # the disable ended the session at once
    assert sign_in(app, "li", "li's first pass")[1] == 200
    assert users(community)["li"]["disabled"] is True

    assert shelf(community, "users", "enable", "li").returncode == 0
    browser, status = sign_in(app, "LI", "li's first pass")  # a username in any case
    assert status == 302
    reset = shelf(community, "users", "reset", "li", password="li's second pass")
    assert reset.returncode == 0, reset.stderr
    assert not signed_in(browser)
    assert sign_in(app, "li", "li's first pass")[1] == 200
    assert sign_in(app, "li", "li's second pass")[1] == 302

    kinds = ["staff_added", "staff_disabled", "staff_enabled", "staff_password_reset"]
    recorded = [events(community, kind) for kind in kinds]
    assert all(len(e) == 1 for e in recorded[1:]) and recorded[0][-1][1]["username"] == "li"
    assert all(actor.endswith("@shell") for e in recorded for actor, _ in e)
    assert recorded[1][0][1]["sessions_ended"] == 1


@pytest.mark.parametrize(("args", "password", "says"), [
    (["add", "li", "--role", "property", "--team", "nope"], "a fine password",
     "needs a team from [[teams]]: committee, property (not 'nope')"),
    (["add", "li", "--role", "admin", "--team", "property"], "a fine password",
     "works for no team"),
    (["add", "li wei", "--role", "gate"], "a fine password", "use 1-32 letters"),
    (["add", "ADMIN", "--role", "gate"], "a fine password", "'ADMIN' exists already"),
    (["add", "li", "--role", "gate"], "short", "at least 8 characters"),
    (["disable", "nobody"], None, "no staff account 'nobody'"),
    (["reset", "nobody"], "a fine password", "no staff account 'nobody'"),
    (["disable", "admin"], None, "admin is the last enabled admin"),
    (["change", "admin", "--role", "gate"], None, "admin is the last enabled admin and stays "
     "admin"),
    (["change", "admin", "--role", "property", "--team", "nope"], None,
     "needs a team from [[teams]]: committee, property (not 'nope')"),
    (["change", "admin", "--team", "property"], None, "works for no team"),
    (["change", "nobody", "--name", "X"], None, "no staff account 'nobody'"),
])
def test_a_refused_change_says_why_in_one_line(community, args, password, says):
    done = shelf(community, "users", *args, password=password)
    assert done.returncode == 2
    lines = [x for x in done.stderr.splitlines() if " WARNING " not in x]  # a file's mode ...
    assert len(lines) == 1, done.stderr
    line = lines[0]
    assert line.startswith("shelf: error: ") and says in line
    listed = users(community)
    assert list(listed) == ["admin"] and not listed["admin"]["disabled"]
    assert (listed["admin"]["role"], listed["admin"]["team"]) == ("admin", None)


def test_shelf_users_change_name_role_and_team(community, clock):
    assert shelf(community, "users", "add", "li", "--role", "committee",
                 password="li's first pass").returncode == 0
    app = make_app(community, clock)
    browser, _ = sign_in(app, "li", "li's first pass")
    renamed = shelf(community, "users", "change", "li", "--name", "李 伟", "--team", "property")
    assert renamed.returncode == 0, renamed.stderr
    assert renamed.stdout.strip() == "changed li (committee, team property): 李 伟"
    assert signed_in(browser)  # the same role: the session goes on
    done = shelf(community, "users", "change", "li", "--role", "admin", "--json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert sorted(shown) == USER_KEYS
    assert (shown["name"], shown["role"], shown["team"]) == ("李 伟", "admin", None)
    assert {k: users(community)["li"][k] for k in ("name", "role", "team")} == {
        "name": "李 伟", "role": "admin", "team": None}
    assert not signed_in(browser)  # a new role: the old session is gone
    assert sign_in(app, "li", "li's first pass")[1] == 302
    said = shelf(community, "users", "change", "li", "--role", "gate")
    assert said.stdout.strip() == "changed li (gate): 李 伟; a new role, signed out everywhere"
    changed = events(community, "staff_changed")
    assert [actor.endswith("@shell") for actor, _ in changed] == [True] * 3
    assert [d["changes"] for _, d in changed] == [
        {"name": ["li", "李 伟"], "team": ["committee", "property"]},
        {"role": ["committee", "admin"], "team": ["property", None]},
        {"role": ["admin", "gate"]}]
    assert [d["sessions_ended"] for _, d in changed] == [0, 1, 1]
    assert all("argon2" not in json.dumps(d) for _, d in changed)  # never the hash


def test_the_password_is_never_taken_from_the_command_line(community):
    done = shelf(community, "users", "add", "li", "--role", "gate", "--password", "x" * 10)
    assert done.returncode == 2 and "unrecognized arguments: --password" in done.stderr


def test_the_last_enabled_admin_stays(conn, clock):
    uow = SqliteUnitOfWork(conn)
    with pytest.raises(LastAdmin):
        disable_staff(uow, clock.now(), "admin", "li@web")
    assert uow.staff.get("admin").disabled is False


def with_config_users(config, *extra: User):
    return dataclasses.replace(config, web=dataclasses.replace(config.web, users=extra))


def test_config_users_are_copied_once_and_their_old_hashes_upgraded(community, clock, caplog):
    old = hash_password("zhang's pass", iterations=1000)  # what `shelf hash-password` made
    assert old.startswith("pbkdf2_sha256$1000$")
    zhang = User("zhang", old, "property", "Zhang Min")
    caplog.set_level(logging.WARNING, logger="kiosk.staff")
    app = make_app(with_config_users(community, zhang), clock)
    [warning] = [r.getMessage() for r in caplog.records]
    assert "remove the [[web.users]] tables" in warning and "added 1 (zhang)" in warning

    browser, status = sign_in(app, "zhang", "zhang's pass")
    assert status == 302 and signed_in(browser)
    conn = open_store(community)
    stored = SqliteUnitOfWork(conn).staff.get("zhang")
    conn.close()
    assert stored.role == "property" and stored.team == "property"
    assert stored.password_hash.startswith("$argon2id$")  # upgraded at that sign-in
    assert check_password(stored.password_hash, "zhang's pass")
    assert signed_in(browser)  # the upgrade kept the session
    assert [actor for actor, _ in events(community, "staff_password_rehashed")] == ["zhang@web"]
    assert sign_in(app, "zhang", "zhang's pass")[1] == 302

    # The config is no longer read for zhang: a new hash there changes nothing.
    changed = User("zhang", hash_password("config's new pass", iterations=1000), "admin", "Z")
    later = make_app(with_config_users(community, changed), clock)
    assert sign_in(later, "zhang", "config's new pass")[1] == 200
    assert sign_in(later, "zhang", "zhang's pass")[1] == 302
    report = shelf(community, "users", "import-config", "--json")
    assert json.loads(report.stdout) == {"added": [], "kept": [], "refused": []}  # none left


def test_import_config_reports_what_it_copied(community, tmp_path):
    text = community.path.read_text(encoding="utf-8")
    legacy = hash_password("old admin pass", iterations=1000)
    community.path.write_text(text + f'''
[[web.users]]
username = "admin"
role = "admin"
password_hash = "{legacy}"

[[web.users]]
username = "wang"
name = "Wang"
role = "committee"
password_hash = "{legacy}"

[[web.users]]
username = "bad name"
role = "committee"
password_hash = "{legacy}"
''', encoding="utf-8")
    done = shelf(community, "users", "import-config", "--json")
    assert done.returncode == 1  # one was refused
    report = json.loads(done.stdout)
    assert report["added"] == ["wang"] and report["kept"] == ["admin"]
    assert [r["username"] for r in report["refused"]] == ["bad name"]
    assert users(community)["wang"]["team"] == "committee"
    app = make_app(community, None)
    assert sign_in(app, "admin", ADMIN_PASSWORD)[1] == 302  # the store's admin, not the config's
    assert sign_in(app, "admin", "old admin pass")[1] == 200


def test_an_update_from_the_config_accounts_of_before_keeps_the_admin_signing_in(community,
                                                                                clock):
    """A shelf of before: its database at schema 11, its admin in [[web.users]] (PBKDF2) with a
    live session. After the update the admin signs in with the same password; that session,
    made with the credential of before, signs nobody in."""
    import hashlib
    import sqlite3

    from kiosk.migrations import load
    from kiosk.store import migrate

    community.database.unlink()
    old = sqlite3.connect(community.database, isolation_level=None)
    migrate(old, target=11)
    key = hashlib.sha256(b"a token of before").hexdigest()
    old.execute("INSERT INTO sessions (id, username, credential, created_at, last_seen) VALUES "
                "(?, 'admin', '0123456789abcdef', ?, ?)", (key, clock.now().isoformat(),
                                                          clock.now().isoformat()))
    old.close()
    legacy = hash_password("the admin's old pass", iterations=1000)
    app = make_app(with_config_users(community, User("admin", legacy, "admin", "Admin")), clock)

    stale = app.test_client()
    with stale.session_transaction() as session:
        session["_user_id"] = "a token of before"  # the cookie, as Flask-Login reads it
    assert not signed_in(stale)
    browser, status = sign_in(app, "admin", "the admin's old pass")
    assert status == 302 and signed_in(browser)
    conn = open_store(community)
    try:
        row = conn.execute("SELECT ended_at FROM sessions WHERE id = ?", (key,)).fetchone()
        assert row is None or row["ended_at"]  # ended, and forgotten at the next sign-in
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(load("sqlite"))
    finally:
        conn.close()


def test_a_role_is_taken_in_chinese_too_and_a_wrong_one_lists_both(community):
    added = shelf(community, "users", "add", "wang", "--role", "居委会", password="wang's pass 1")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "added wang (committee, team committee)"
    assert users(community)["wang"]["role"] == "committee"  # stored, and --json, as the id
    changed = shelf(community, "--lang", "zh", "users", "change", "wang", "--role", "门岗")
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.startswith("已修改 wang（门岗）")
    assert users(community)["wang"]["role"] == "gate"

    wrong = shelf(community, "users", "add", "zhao", "--role", "boss", password="zhao pass 12")
    assert wrong.returncode == 2
    assert wrong.stderr.splitlines()[-1] == (
        "shelf: error: role 'boss': allowed roles are admin (管理员), committee (居委会), "
        "property (物业), gate (门岗)")
    assert "zhao" not in users(community)
