"""The shelf audit on the staff site (web.audit): start it on a phone, follow its slot, note a
missing, an extra and a moved parcel, confirm each slot; a page left behind by a press at the
shelf is refused, not applied to the next slot; the problems show on the exceptions list with
the audit's id and on the printable report. A real app on a real store; no pins: the site
only writes the audit to the store (the kiosk lights it)."""

from __future__ import annotations

import re

import pytest
from conftest import check_in, make_app
from test_web import AuthActions

from kiosk import audit
from kiosk.store import SqliteUnitOfWork

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def admin(community, clock):
    client = make_app(community, clock).test_client()
    AuthActions(client).login()
    return client


def post(client, path: str, **form):
    token = CSRF_RE.search(client.get("/audit").text)[1]
    return client.post(path, data={"csrf_token": token, **form})


def state(conn) -> tuple:
    row = conn.execute("SELECT id, status, slot_code FROM audits ORDER BY id DESC").fetchone()
    return tuple(row) if row else ()


def test_an_audit_on_the_phone_from_start_to_report(admin, conn, community, clock):
    parcels = {n: check_in(conn, community, clock, h, f"SF20000{n}")
               for n, h in enumerate(["24-2304", "2-902", "2-902", "13-1102"])}
    page = admin.get("/audit?lang=en").text
    assert "No audit is open" in page and "Start an audit" in page
    assert post(admin, "/audit/start").status_code == 302
    audit_id, status, slot = state(conn)
    assert status == "running"
    here = [p for p in parcels.values() if p.slot == slot]
    elsewhere = next(p for p in parcels.values() if p.slot != slot)
    page = admin.get("/audit").text
    assert f'data-slot="{slot}"' in page
    listed = page.split('class="audit-list"')[1].split("</ul>")[0]
    for n, parcel in parcels.items():  # masked household, the waybill's tail; never whole
        assert (f'data-parcel="{parcel.parcel}"' in listed) == (parcel in here)
        assert (f"…000{n}" in listed) == (parcel in here)
        assert parcel.household not in listed
    assert post(admin, "/audit/missing", slot=slot, parcel=here[0].parcel).status_code == 302
    moved_ref = f"SF20000{[k for k, v in parcels.items() if v is elsewhere][0]}"
    assert post(admin, "/audit/extra", slot=slot, waybill=moved_ref).status_code == 302
    assert post(admin, "/audit/extra", slot=slot, waybill="").status_code == 302
    page = admin.get("/audit").text
    assert "The rest is here" in page and "belongs in" in page
    # A press at the shelf moves the audit on while the phone still shows the slot before:
    audit.all_here(SqliteUnitOfWork(conn), clock, "kiosk", "button", slot)
    stale = post(admin, "/audit/all-here", slot=slot)
    assert stale.status_code == 409 and 'data-refusal="not_current"' in stale.text
    assert post(admin, "/audit/pause").status_code == 302
    assert state(conn)[1] == "paused"
    assert "Resume the audit" in admin.get("/audit").text
    post(admin, "/audit/resume")
    while (now := state(conn))[1] == "running":
        assert post(admin, "/audit/all-here", slot=now[2]).status_code == 302
    assert state(conn)[1] == "done"
    exceptions = admin.get("/exceptions").text
    section = exceptions.split('id="exc-audit"')[1].split("</section>")[0]
    assert section.count(f'data-audit="{audit_id}"') == 3
    assert {"missing", "moved", "extra"} == set(re.findall(r'data-kind="(\w+)"', section))
    report = admin.get(f"/audit/{audit_id}")
    assert report.status_code == 200
    assert '<dd data-count="problems">3</dd>' in report.text
    assert f'<dd data-count="slots">{len({p.slot for p in parcels.values()})}</dd>' in \
        report.text
    assert "Print" in report.text and "button" in report.text  # the shelf's press, named
    zh = admin.get(f"/audit/{audit_id}?lang=zh").text
    assert "货架盘点报告" in zh and "放错格口" in zh
    assert admin.get("/audit/999").status_code == 404


def test_a_missing_parcel_collected_since_leaves_the_exceptions_list(admin, conn, community,
                                                                       clock):
    from conftest import pickup_code

    from kiosk.services import Rules, pick_up

    parcel = check_in(conn, community, clock, "24-2304", "SF3000")
    post(admin, "/audit/start")
    post(admin, "/audit/missing", slot=parcel.slot, parcel=parcel.parcel)
    section = admin.get("/exceptions").text.split('id="exc-audit"')[1].split("</section>")[0]
    assert 'data-kind="missing"' in section
    pick_up(pickup_code(conn, "24-2304"), SqliteUnitOfWork(conn), Rules.from_config(community),
            clock)
    section = admin.get("/exceptions").text.split('id="exc-audit"')[1].split("</section>")[0]
    assert 'data-kind="missing"' not in section


def test_starting_twice_or_on_an_empty_shelf_is_refused_in_words(admin, conn, community,
                                                                  clock):
    empty = post(admin, "/audit/start")
    assert empty.status_code == 409 and 'data-refusal="shelf_empty"' in empty.text
    check_in(conn, community, clock, "24-2304", "SF4000")
    post(admin, "/audit/start")
    admin.get("/audit?lang=zh")  # the session remembers the language
    again = post(admin, "/audit/start")
    assert again.status_code == 409 and 'data-refusal="audit_open"' in again.text
    assert "已有一次盘点未结束" in again.text
    assert admin.get("/audit/state").get_json()["version"].endswith(":0")
