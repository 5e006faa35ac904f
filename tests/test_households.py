"""The household list import: a preview by default, applied whole or not at all."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kiosk.domain import HouseholdId
from kiosk.errors import HouseholdChanged, InvalidEmail, InvalidName, InvalidPhone, UnknownHousehold
from kiosk.households import Refusal, contact_version, edit_household, import_households
from kiosk.services import Rules
from kiosk.store import SqliteUnitOfWork

HEADER = "building,room,name,phone,email,under_observation\n"
CHEN = "Chen Jie 陈杰,13800002304,r24-2304@sample-garden.example"  # 24-2304 as stored


def write(tmp_path, text, encoding="utf-8", name="list.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def run(conn, community, clock, path, apply=True):
    return import_households(SqliteUnitOfWork(conn), community.community.buildings, path,
                             clock.now(), apply=apply, rules=Rules.from_config(community))


def stored(conn, household, column="email"):
    row = conn.execute(f"SELECT {column} FROM households WHERE id = ?", (household,)).fetchone()
    return row[0] if row else None


def shelf(community, *args):
    return subprocess.run([sys.executable, "-m", "kiosk.app", "households", "import", *args,
                           "--config", str(community.path)], capture_output=True, text=True)


def test_import_reports_added_changed_unchanged_and_refused_with_lines(conn, community, clock,
                                                                        tmp_path):
    csv = write(tmp_path, "\n".join([
        "building,room,name,phone,email,under_observation",
        "24,2304,Chen Jie 陈杰,13800002304,r24-2304@sample-garden.example,yes",  # changed
        "24,2403,Zhou Min 周敏,13800002403,r24-2403@sample-garden.example,no",  # unchanged
        "7,0101,New,,,no",                                                     # added
        "36,101,Nobody,,,no",                                                  # no building 36
        "7,01 01,Bad room,,,no",
        "7,102,Bad mail,,not-an-address,no",
        "7,103,Bad flag,,,maybe",
        "7,0101,Twice,,,no",
        "x,1,Bad building,,,no",
    ]) + "\n")
    report = run(conn, community, clock, csv, apply=False)
    assert report.changed == ["24-2304"]
    assert report.diffs["24-2304"] == {"under_observation": (False, True)}
    assert report.unchanged == ["24-2403"]
    assert report.added == ["7-101"]  # leading zeros dropped, as HouseholdId.parse does
    assert [(r.line, r.kind) for r in report.refused] == [
        (5, "unknown_building"), (6, "bad_room"), (7, "bad_email"), (8, "bad_flag"),
        (9, "duplicate"), (10, "bad_building")]
    reasons = " | ".join(r.message for r in report.refused)
    # The bad e-mail is refused masked, as every contact the report shows is.
    assert "not-an-address" not in reasons
    for fragment in ("building 36 is not in", "room '01 01'", "e-mail '***' is not",
                     "under_observation 'maybe'", "already given on line 4",
                     "building 'x' is not a number"):
        assert fragment in reasons


def test_nothing_is_stored_without_apply_nor_when_any_row_is_refused(conn, community, clock,
                                                                     tmp_path):
    good = write(tmp_path, HEADER + "24,2304,Chen,13900001111,new@example.org,no\n7,101,New,,,no\n")
    preview = run(conn, community, clock, good, apply=False)
    assert (preview.changed, preview.added, preview.applied) == (["24-2304"], ["7-101"], False)
    assert preview.verdict == "preview"
    assert stored(conn, "24-2304") == "r24-2304@sample-garden.example"
    assert stored(conn, "7-101") is None

    bad = write(tmp_path, HEADER + "24,2304,Chen,13900001111,new@example.org,no\n99,1,x,,,no\n",
                name="bad.csv")
    refused = run(conn, community, clock, bad)
    assert (refused.applied, refused.verdict) == (False, "refused")
    assert [(r.line, r.kind, r.text, r.message) for r in refused.refused] == [
        (3, "unknown_building", "99", "building 99 is not in [community] buildings")]
    assert stored(conn, "24-2304") == "r24-2304@sample-garden.example"

    applied = run(conn, community, clock, good)
    assert applied.applied and applied.verdict == "applied"
    assert (stored(conn, "24-2304"), stored(conn, "7-101", "name")) == ("new@example.org", "New")


def test_a_contact_typed_onto_a_confusable_room_is_warned_and_masked(conn, community, clock,
                                                                     tmp_path):
    # 2304's line retyped with the room 2403: 2304's notices would go to the other flat.
    csv = write(tmp_path, HEADER + f"24,2403,{CHEN},no\n")
    report = run(conn, community, clock, csv, apply=False)
    assert report.changed == ["24-2403"]
    phone, email = report.warnings  # one for each contact that moves
    assert [(w.line, w.kind) for w in (phone, email)] == [(2, "confusable_rooms")] * 2
    assert phone.message == ("24-2403 gets the phone 138****2304 that 24-2304 has: "
                             "24-2304 and 24-2403 are easily confused; check the room")
    assert email.message.startswith("24-2403 gets the e-mail r***@sample-garden.example")
    shown = report.shown("24-2403")  # what the command and the page show of the change
    assert shown["phone"] == {"before": "138****2403", "after": "138****2304"}
    assert shown["email"] == {"before": "r***@sample-garden.example",
                              "after": "r***@sample-garden.example"}
    assert "13800002304" not in str(shown) and "r24-2304@" not in str(shown)
    assert "13800002304" not in json.dumps(report.as_json())


def test_the_same_contact_on_two_households_is_warned(conn, community, clock, tmp_path):
    csv = write(tmp_path, HEADER + "2,902,Wu,13800002304,,no\n")
    [warning] = run(conn, community, clock, csv, apply=False).warnings
    assert warning.kind == "shared_contact"
    assert warning.message == "the phone 138****2304 would be on 2-902 and 24-2304"


def test_a_household_may_have_several_phones_separated_by_semicolons(conn, community, clock,
                                                                     tmp_path):
    csv = write(tmp_path, HEADER + "7,101,Two,13912340000 ； 138-0000-7777 ;,,no\n")
    report = run(conn, community, clock, csv)
    assert report.added == ["7-101"] and not report.refused
    assert stored(conn, "7-101", "phone") == "13912340000;138-0000-7777"
    [household] = [h for h in SqliteUnitOfWork(conn).households.all() if str(h.id) == "7-101"]
    assert household.phone_tails == {"0000", "7777"}  # what the gate matches waybills against


def test_a_second_phone_shared_with_a_confusable_room_is_warned_and_masked(conn, community,
                                                                            clock, tmp_path):
    csv = write(tmp_path, HEADER + "24,2403,Zhou Min 周敏,13800002403;13800002304,,no\n")
    report = run(conn, community, clock, csv, apply=False)
    [phone] = report.warnings
    assert phone.message == ("24-2403 gets the phone 138****2304 that 24-2304 has: "
                             "24-2304 and 24-2403 are easily confused; check the room")
    assert report.shown("24-2403")["phone"] == {"before": "138****2403",
                                                "after": "138****2403;138****2304"}
    assert "13800002304" not in json.dumps(report.as_json())


def test_unknown_columns_are_warned_and_their_values_ignored(conn, community, clock, tmp_path):
    csv = write(tmp_path, "building,room,name,emial,notes\n24,2304,Chen Jie 陈杰,x@example.org,"
                "gate code 1234\n")
    report = run(conn, community, clock, csv)
    messages = [w.message for w in report.warnings]
    assert any("'emial'" in m and "typo for 'email'" in m for m in messages)
    assert any("'notes' is not one the import knows" in m for m in messages)
    assert report.unchanged == ["24-2304"]
    assert stored(conn, "24-2304") == "r24-2304@sample-garden.example"


def test_a_header_without_the_room_is_refused_whole(conn, community, clock, tmp_path):
    csv = write(tmp_path, "building,rooom,name\n24,2304,x\n")
    with pytest.raises(ValueError, match=r"missing: room; unknown: rooom"):
        run(conn, community, clock, csv)


@pytest.mark.parametrize("text, line, what", [
    (HEADER + '24,2304,"Chen,13800002304,,no\n24,2403,Zhou,,,no\n', 2, "never closed"),
    (HEADER + "24,2403,Zhou,,,no\n24,2304,Chen, Jie,138,,no\n", 3, "7 values, but the header"),
    (HEADER + '24,2304,"' + "x" * 140_000 + '",,,no\n', 2, "longer than 128 KB"),
    (HEADER + '24,2304,"Chen" Jie,,,no\n', 2, "closes in the middle of a value"),
])
def test_malformed_csv_is_refused_whole_naming_the_line(conn, community, clock, tmp_path, text,
                                                        line, what):
    csv = write(tmp_path, text)
    with pytest.raises(ValueError, match=f"line {line}: .*{what}") as refused:
        run(conn, community, clock, csv)
    assert "\n" not in str(refused.value)
    assert stored(conn, "24-2304", "name") == "Chen Jie 陈杰"


def test_leading_zeros_name_the_same_flat_in_the_import_and_everywhere(conn, community, clock,
                                                                       tmp_path):
    assert HouseholdId.parse("024-02304") == HouseholdId(24, "2304")
    csv = write(tmp_path, HEADER + f"024,02304,{CHEN},no\n7,02310,A,,,no\n7,2310,B,,,no\n")
    report = run(conn, community, clock, csv, apply=False)
    assert report.unchanged == ["24-2304"] and report.added == ["7-2310"]
    assert report.refused == [Refusal(4, "duplicate", "7-2310 already given on line 3",
                                      "7-2310", "3")]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "utf-16"])
def test_utf8_gbk_and_utf16_files_are_read(conn, community, clock, tmp_path, encoding):
    csv = write(tmp_path, HEADER + "24,2304,陈杰,13800002304,,no\r\n", encoding)
    report = run(conn, community, clock, csv)
    assert report.changed == ["24-2304"] and report.applied
    assert stored(conn, "24-2304", "name") == "陈杰"


@pytest.mark.parametrize("data", [
    (HEADER + "24,2304,Chen,,,no\n").encode("utf-16-le"),  # UTF-16 without its BOM
    HEADER.encode() + b"24,2304,M\xff\xffller,,,no\n",
])
def test_other_encodings_are_refused_with_what_to_do(conn, community, clock, tmp_path, data):
    csv = tmp_path / "list.csv"
    csv.write_bytes(data)
    with pytest.raises(ValueError, match="list.csv: not UTF-8 or GBK: save as CSV UTF-8"):
        run(conn, community, clock, csv)


def test_the_command_previews_applies_and_fails_on_refusals(community, tmp_path):
    csv = write(tmp_path, HEADER + "24,2304,Chen,13900001111,,no\n")
    preview = shelf(community, str(csv))
    assert preview.returncode == 0, preview.stderr
    assert "changed 1" in preview.stdout and "139****1111" in preview.stdout
    assert "13900001111" not in preview.stdout
    assert "run again with --apply" in preview.stdout
    done = shelf(community, str(csv), "--apply", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report) >= {"added", "changed", "unchanged", "refused", "warnings", "applied"}
    assert report["applied"] is True
    assert report["changed"] == [{"line": 2, "household": "24-2304", "fields": {
        "name": {"before": "Chen Jie 陈杰", "after": "Chen"},
        "phone": {"before": "138****2304", "after": "139****1111"},
        "email": {"before": "r***@sample-garden.example", "after": ""}}}]

    bad = write(tmp_path, "building,room\n24,2304\n99,1\n", name="bad.csv")
    refused = shelf(community, str(bad), "--apply")
    assert refused.returncode == 1
    assert "refused 1" in refused.stdout
    assert "  Line 3: building 99 is not one of the community's\n" in refused.stdout
    assert "nothing applied" in refused.stdout
    broken = shelf(community, str(write(tmp_path, HEADER + '24,"2304\n', name="broken.csv")))
    assert broken.returncode == 2 and "line 2:" in broken.stderr and broken.stdout == ""


def test_columns_left_out_keep_what_was_known(conn, community, clock, tmp_path):
    csv = write(tmp_path, "building,room,under_observation\n24,2304,yes\n")
    report = run(conn, community, clock, csv)
    assert report.changed == ["24-2304"]
    row = conn.execute("SELECT * FROM households WHERE id = '24-2304'").fetchone()
    assert (row["email"], row["under_observation"]) == ("r24-2304@sample-garden.example", 1)


# --- what committees actually have: Chinese headers, XLSX, bad phones --------------------------

CHINESE = "楼栋,房号,姓名,电话,邮箱\r\n24,2304,陈杰,13800002304;13911112222,chen@example.org\r\n"


def workbook(tmp_path, rows, name="名单.xlsx", more_sheets=()):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    for title in more_sheets:
        book.create_sheet(title).append(["备注"])
    path = tmp_path / name
    book.save(path)
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_chinese_headers_are_read_in_every_encoding(conn, community, clock, tmp_path, encoding):
    report = run(conn, community, clock, write(tmp_path, CHINESE, encoding))
    assert report.changed == ["24-2304"] and report.applied and not report.warnings
    assert (stored(conn, "24-2304", "name"), stored(conn, "24-2304", "phone"),
            stored(conn, "24-2304")) == ("陈杰", "13800002304;13911112222", "chen@example.org")


def test_a_workbook_is_read_from_its_first_sheet(conn, community, clock, tmp_path):
    # Excel keeps a phone typed without a quote as a number; a room as a number too.
    path = workbook(tmp_path, [["楼栋", "房号", "姓名", "手机号"], [24, 2304, "陈杰", 13800009999],
                               [7, 101, "新住户", None]], more_sheets=["说明"])
    report = run(conn, community, clock, path)
    assert report.encoding == "xlsx" and report.applied
    assert report.changed == ["24-2304"] and report.added == ["7-101"]
    assert stored(conn, "24-2304", "phone") == "13800009999"  # not 13800009999.0
    [caution] = report.warnings
    assert caution.kind == "other_sheets" and "说明" in caution.message


def test_two_columns_for_one_field_are_refused(conn, community, clock, tmp_path):
    with pytest.raises(ValueError, match="the columns 'phone' and '电话' both give phone"):
        run(conn, community, clock, write(tmp_path, "building,room,phone,电话\n24,2304,1,2\n"))


@pytest.mark.parametrize("phone, shown", [
    ("138-0000-23O4", "138****23O4"),  # a letter O for a zero
    ("13800002304;2304", "****"),  # a phone's tail typed as a second number
    ("1380000230412345678", "138****5678"),
])
def test_a_phone_that_is_not_one_is_refused_masked(conn, community, clock, tmp_path, phone,
                                                   shown):
    report = run(conn, community, clock, write(tmp_path, HEADER + f"24,2304,Chen,{phone},,no\n"))
    [refusal] = report.refused
    assert refusal.line == 2 and f"phone '{shown}' is not a phone number" in refusal.message
    assert (refusal.kind, refusal.text, refusal.other) == ("bad_phone", shown, "")
    assert not report.applied and stored(conn, "24-2304", "phone") == "13800002304"


def test_phones_may_be_written_as_people_write_them(conn, community, clock, tmp_path):
    csv = write(tmp_path, HEADER + "24,2304,Chen,+86 138 0000 2304；(021) 6432-1234,,no\n")
    report = run(conn, community, clock, csv)
    assert report.applied
    assert stored(conn, "24-2304", "phone") == "+86 138 0000 2304;(021) 6432-1234"


def test_a_missing_file_and_a_bad_encoding_are_one_line_on_the_command_line(community,
                                                                             tmp_path):
    missing = shelf(community, str(tmp_path / "nowhere.csv"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    where = tmp_path / "nowhere.csv"
    assert missing.stderr == f"shelf: error: {where}: no such file or directory\n"
    odd = tmp_path / "odd.csv"
    odd.write_bytes(HEADER.encode() + b"24,2304,M\xff\xffller,,,no\n")
    bad = shelf(community, str(odd))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr == "shelf: error: odd.csv: not UTF-8 or GBK: save as CSV UTF-8\n"


def test_the_command_imports_a_workbook(community, tmp_path):
    path = workbook(tmp_path, [["building", "room", "phone"], [24, 2304, 13900001111]])
    done = shelf(community, str(path), "--apply", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["encoding"] == "xlsx" and report["applied"] is True
    assert report["changed"][0]["fields"] == {
        "phone": {"before": "138****2304", "after": "139****1111"}}


def test_a_preview_applies_only_while_the_difference_is_the_one_shown(conn, community, clock,
                                                                      tmp_path):
    csv = write(tmp_path, HEADER + "24,2304,Chen,13900001111,,no\n")
    shown = run(conn, community, clock, csv, apply=False)
    conn.execute("UPDATE households SET name = 'Someone else' WHERE id = '24-2304'")
    late = import_households(SqliteUnitOfWork(conn), community.community.buildings, csv,
                             clock.now(), apply=True, rules=Rules.from_config(community),
                             expected_diff=shown.diff_key)
    assert late.stale and not late.applied and late.diff_key != shown.diff_key
    assert stored(conn, "24-2304", "phone") == "13800002304"
    assert late.verdict == "stale"
    again = import_households(SqliteUnitOfWork(conn), community.community.buildings, csv,
                              clock.now(), apply=True, rules=Rules.from_config(community),
                              expected_diff=late.diff_key)
    assert again.applied and stored(conn, "24-2304", "phone") == "13900001111"


# --- one household edited -------------------------------------------------------------------

def edit(conn, clock, household="24-2304", **fields):
    typed = {"name": "Chen Jie 陈杰", "phone": "13800002304",
             "email": "r24-2304@sample-garden.example", **fields}
    return edit_household(SqliteUnitOfWork(conn), household, **typed, now=clock.now(),
                          actor="li@web")


def edits(conn):
    return [(r["actor"], r["household_id"], json.loads(r["detail"])) for r in conn.execute(
        "SELECT * FROM events WHERE kind = 'household_edited' ORDER BY id")]


def test_an_edit_is_checked_stored_and_recorded_with_its_actor(conn, clock):
    with pytest.raises(InvalidPhone, match=r"phone '139\*\*\*\*12x4' is not a phone number"):
        edit(conn, clock, phone="13800002304;1390000 12x4")
    with pytest.raises(InvalidEmail):
        edit(conn, clock, email="chen@example,org")
    with pytest.raises(InvalidName):
        edit(conn, clock, name="Chen\nJie")
    assert stored(conn, "24-2304", "phone") == "13800002304" and edits(conn) == []

    done = edit(conn, clock, phone=" 13800002304 ; 13911112222 ", email="chen@example.org")
    assert stored(conn, "24-2304", "phone") == "13800002304;13911112222"
    assert set(done.changed) == {"phone", "email"} and done.cautions == []
    assert edits(conn) == [("li@web", "24-2304", {
        "fields": ["phone", "email"],
        "phone": ["138****2304", "138****2304;139****2222"],
        "email": ["r***@sample-garden.example", "c***@example.org"]})]
    assert edit(conn, clock, phone="13800002304;13911112222",
                email="chen@example.org").changed == {}
    assert len(edits(conn)) == 1  # nothing changed, nothing recorded


def test_an_edit_leaves_the_observation_state_alone(conn, clock):
    conn.execute("UPDATE households SET under_observation = 1 WHERE id = '24-2304'")
    edit(conn, clock, name="Chen")
    assert stored(conn, "24-2304", "under_observation") == 1


def test_an_edit_over_someone_elses_is_refused(conn, clock, uow):
    seen = contact_version(uow.households.get(HouseholdId(24, "2304")))
    edit(conn, clock, name="Chen (edited by Wang)")
    with pytest.raises(HouseholdChanged):
        edit_household(uow, "24-2304", name="Chen", phone="13800002304", email="",
                       now=clock.now(), actor="li@web", seen=seen)
    assert stored(conn, "24-2304", "name") == "Chen (edited by Wang)"


def test_a_phone_typed_onto_the_confusable_room_is_a_caution(conn, clock):
    done = edit(conn, clock, household="24-2403", name="Zhou Min 周敏",
                phone="13800002403;13800002304", email="r24-2403@sample-garden.example")
    [caution] = done.cautions
    assert (caution.kind, caution.household, caution.other, caution.text) == (
        "confusable_rooms", "24-2403", "24-2304", "138****2304")


def test_an_unknown_household_is_refused_masked(conn, clock):
    with pytest.raises(UnknownHousehold, match=r"^24-99\*\* is not in the household list$"):
        edit(conn, clock, household="24-9999")
