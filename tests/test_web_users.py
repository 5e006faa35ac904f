"""The staff accounts page (/admin/users): an admin adds, disables, enables and resets, each
an event naming them; a disable or a reset ends a copied cookie at once; /tasks follows the
account's team, not its role's name."""

from __future__ import annotations

import json
import re

from conftest import ADMIN_PASSWORD, add_member, check_in

from kiosk.observation import set_observation
from kiosk.services import Rules
from kiosk.store import SqliteUnitOfWork

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def sign_in(app, username: str = "admin", password: str = ADMIN_PASSWORD):
    client = app.test_client()
    token = CSRF_RE.search(client.get("/login").text)[1]
    response = client.post("/login", data={"csrf_token": token, "username": username,
                                           "password": password})
    return client, response.status_code


def copy_of(app, client):
    """A second browser holding a copy of ``client``'s session cookie (a stolen one)."""
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def signed_in(client) -> bool:
    return client.get("/").status_code == 200


def admin_post(client, path: str, **form: str):
    token = CSRF_RE.search(client.get("/admin/users").text)[1]
    return client.post(path, data={"csrf_token": token, **form})


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_an_admin_adds_an_account_that_then_signs_in(app, conn):
    admin, _ = sign_in(app)
    page = admin.get("/admin/users").text
    assert "工作人员账号" in page and "门岗（只读）" in page
    added = admin_post(admin, "/admin/users", username="li", name="李伟", role="committee",
                       team="", password="li's pass 1")
    assert added.status_code == 302
    assert "已添加账号 li" in admin.get("/admin/users").text
    li, status = sign_in(app, "li", "li's pass 1")
    assert status == 302 and "李伟" in li.get("/").text
    row = conn.execute("SELECT role, team, password_hash FROM staff WHERE username = 'li'"
                       ).fetchone()
    assert (row["role"], row["team"]) == ("committee", "committee")
    assert row["password_hash"].startswith("$argon2id$")
    [event] = conn.execute("SELECT actor, detail FROM events WHERE kind = 'staff_added' "
                           "AND detail LIKE '%\"li\"%'").fetchall()
    assert event["actor"] == "admin@web"
    assert "li's pass 1" not in event["detail"] and "argon2" not in event["detail"]


def test_a_refusal_is_said_in_the_page_s_language(app, conn):
    admin, _ = sign_in(app)
    admin.get("/admin/users?lang=en")
    short = admin_post(admin, "/admin/users", username="li", role="gate", password="short")
    assert short.status_code == 302
    assert "A password needs at least 8 characters." in admin.get("/admin/users").text
    admin.get("/admin/users?lang=zh")
    admin_post(admin, "/admin/users", username="wu", role="property", team="nope",
               password="a long pass")
    assert "居委会和物业账号需要选择一个班组：committee、property。" in text_of(
        admin.get("/admin/users").text)
    admin_post(admin, "/admin/users/admin/disable")
    assert "这是最后一个启用的管理员账号" in admin.get("/admin/users").text
    assert conn.execute("SELECT COUNT(*) FROM staff").fetchone()[0] == 1


def test_disabling_on_the_page_ends_a_copied_session_for_good(app, community):
    add_member(community, "zhang", "property")
    zhang, _ = sign_in(app, "zhang", "zhang pass")
    thief = copy_of(app, zhang)
    assert signed_in(thief)
    admin, _ = sign_in(app)
    assert admin_post(admin, "/admin/users/zhang/disable").status_code == 302
    assert not signed_in(zhang) and not signed_in(thief)
    assert sign_in(app, "zhang", "zhang pass")[1] == 200
    assert "已停用" in admin.get("/admin/users").text
    admin_post(admin, "/admin/users/zhang/enable")
    assert not signed_in(thief)  # enabled again: that cookie stays dead
    assert sign_in(app, "zhang", "zhang pass")[1] == 302


def test_a_reset_on_the_page_ends_the_old_sessions(app, community, conn):
    add_member(community, "zhang", "property")
    zhang, _ = sign_in(app, "zhang", "zhang pass")
    thief = copy_of(app, zhang)
    admin, _ = sign_in(app)
    assert admin_post(admin, "/admin/users/zhang/reset", password="zhang's new pass"
                      ).status_code == 302
    assert not signed_in(zhang) and not signed_in(thief)
    assert sign_in(app, "zhang", "zhang pass")[1] == 200
    assert sign_in(app, "zhang", "zhang's new pass")[1] == 302
    assert signed_in(admin)  # the admin's own session goes on
    [detail] = [json.loads(r["detail"]) for r in conn.execute(
        "SELECT detail FROM events WHERE kind = 'staff_password_reset'")]
    assert detail["username"] == "zhang" and detail["sessions_ended"] == 1


def test_a_copied_cookie_dies_at_sign_out(app):
    """Flask-Login keeps only a token in the cookie; signing out ends its row in the store."""
    client, _ = sign_in(app)
    thief = copy_of(app, client)
    token = CSRF_RE.search(client.get("/").text)[1]
    client.post("/logout", data={"csrf_token": token})
    assert not signed_in(thief)
    assert thief.get("/api/slots").status_code == 401


def test_tasks_follow_the_account_s_team(app, community, conn, clock):
    """A committee account lent to the property company's team sees that team's tasks."""
    rules = Rules.from_config(community)
    set_observation("24-2304", True, SqliteUnitOfWork(conn), rules, clock, actor="test")
    check_in(conn, community, clock, "24-2304", "SF2304")  # building 24: the property's
    add_member(community, "wu", "committee", team="property")
    add_member(community, "li", "committee")
    wu, _ = sign_in(app, "wu", "wu pass")
    li, _ = sign_in(app, "li", "li pass")
    assert "24-2304" in wu.get("/tasks").text
    assert "团队：物业" in text_of(wu.get("/tasks").text)  # the team's name in the page's language
    assert "24-2304" not in li.get("/tasks").text


def test_a_reset_during_a_sign_in_leaves_that_sign_in_dead(app, community, monkeypatch):
    """The password checks out, then an admin resets it before the session is stored: the
    session carries the old credential and signs nobody in."""
    from kiosk.community import open_store
    from kiosk.passwords import hash_password
    from kiosk.staff import reset_password
    from web import auth

    add_member(community, "zhang", "property")
    checked = auth.check_password

    def check_then_reset(stored: str, password: str, **how: int) -> bool:
        ok = checked(stored, password, **how)
        conn = open_store(community)
        try:
            reset_password(SqliteUnitOfWork(conn), app.config["CLOCK"].now(), "zhang",
                           hash_password("the admin's choice", iterations=1000), "admin@web")
        finally:
            conn.close()
        return ok

    monkeypatch.setattr(auth, "check_password", check_then_reset)
    zhang, status = sign_in(app, "zhang", "zhang pass")
    assert status == 302  # the password was right when it was checked ...
    assert not signed_in(zhang)  # ... but it is not the password any more


def test_a_role_changed_on_the_page_ends_a_copied_session(app, community, conn):
    add_member(community, "zhang", "admin")
    zhang, _ = sign_in(app, "zhang", "zhang pass")
    thief = copy_of(app, zhang)
    assert thief.get("/admin/users").status_code == 200
    admin, _ = sign_in(app)
    changed = admin_post(admin, "/admin/users/zhang/change", name="张敏", role="property",
                         team="committee")
    assert changed.status_code == 302
    assert "已修改 zhang 的角色，其原有登录已全部退出。" in admin.get("/admin/users").text
    assert not signed_in(zhang) and not signed_in(thief)
    assert thief.get("/admin/users").status_code != 200  # no admin rights left in that cookie
    zhang, status = sign_in(app, "zhang", "zhang pass")
    assert status == 302 and zhang.get("/admin/users").status_code == 403
    row = conn.execute("SELECT name, role, team FROM staff WHERE username = 'zhang'").fetchone()
    assert tuple(row) == ("张敏", "property", "committee")
    [event] = conn.execute("SELECT actor, detail FROM events WHERE kind = 'staff_changed'"
                           ).fetchall()
    detail = json.loads(event["detail"])
    assert event["actor"] == "admin@web" and detail["sessions_ended"] == 1
    assert detail["changes"]["role"] == ["admin", "property"]


def test_the_page_refuses_to_demote_the_last_admin_and_a_team_not_configured(app, community,
                                                                               conn):
    admin, _ = sign_in(app)
    admin_post(admin, "/admin/users/admin/change", name="Admin", role="committee",
               team="committee")
    assert "这是最后一个启用的管理员账号，不能改为其他角色" in admin.get("/admin/users").text
    assert signed_in(admin)
    add_member(community, "li", "committee")
    admin.get("/admin/users?lang=en")
    admin_post(admin, "/admin/users/li/change", name="Li", role="property", team="nope")
    assert ("Committee and property accounts need a team: committee, property." in
            text_of(admin.get("/admin/users").text))
    rows = conn.execute("SELECT username, role, team FROM staff ORDER BY username").fetchall()
    assert [tuple(r) for r in rows] == [("admin", "admin", None), ("li", "committee",
                                                                    "committee")]
