"""The day's observation list on real files (CSV in UTF-8, with a BOM, in GBK; XLSX written by
openpyxl) against a real SQLite file of the sample community, and `shelf observation`."""

from __future__ import annotations

import getpass
import hashlib
import json
import sqlite3
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from kiosk.observation_lists import compare_lists, read_list
from kiosk.observation_register import apply_list
from kiosk.queries import last_event_id

DAY = date(2026, 11, 29)
ENV = {"GPIOZERO_PIN_FACTORY": "mock", "PATH": "/usr/bin:/bin"}
NOW = "2026-11-29T09:05:00+08:00"


def csv_file(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    """A CSV as Excel saves it: CRLF line ends; ``utf-8-sig`` writes the BOM of "CSV UTF-8"."""
    path.write_bytes("\r\n".join(lines).encode(encoding) + b"\r\n")
    return path


def xlsx_file(path: Path, rows: list[list[object]], **other_sheets: list[list[object]]) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = "名单"
    for row in rows:
        sheet.append(row)
    for title, more in other_sheets.items():
        extra = book.create_sheet(title)
        for row in more:
            extra.append(row)
    book.save(path)
    return path


def apply(path: Path, uow, rules, clock, **options):
    options.setdefault("list_date", DAY)
    options.setdefault("actor", "chen@shell")
    return apply_list(path.read_bytes(), path.name, uow, rules, clock, **options)


def under(conn) -> set[str]:
    return {r[0] for r in conn.execute("SELECT id FROM households WHERE under_observation = 1")}


@pytest.fixture
def sample_under(conn) -> set[str]:
    """Who the sample household list has under observation before any list is applied."""
    found = under(conn)
    assert {"29-1004", "6-904"} <= found and "24-2304" not in found
    return found


def households(entries) -> list[str]:
    return [e.household for e in entries]


def kinds(report) -> list[tuple[int | None, str]]:
    return [(p.line, p.kind) for p in report.problems]


def snapshot(conn) -> dict[str, list[tuple]]:
    """Everything an apply may touch."""
    return {table: [tuple(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY 1")]
            for table in ("households", "events", "observation_lists", "observation_files")}


def test_a_status_list_in_gbk_adds_and_releases_and_records_who_applied_it(
        conn, uow, rules, clock, sample_under, tmp_path):
    path = csv_file(tmp_path / "11月29日变动.csv", [
        "楼栋,房号,状态,备注",
        "24,2304,新增,密接",
        "29,1004,解除,",
        "6,904,居家观察,",  # already under observation
    ], "gbk")
    before = last_event_id(conn)  # the sample's own import put its households under observation
    report = apply(path, uow, rules, clock, source="committee")
    assert report.day_list.encoding == "gbk" and report.day_list.format == "status"
    assert households(report.added) == ["24-2304"]
    assert households(report.released) == ["29-1004"]
    assert households(report.unchanged) == ["6-904"]
    assert report.unknown == [] and report.problems == [] and report.applied
    assert under(conn) == sample_under - {"29-1004"} | {"24-2304"}

    entry = conn.execute("SELECT * FROM observation_lists").fetchone()
    assert entry["id"] == report.register_id
    assert (entry["actor"], entry["list_date"], entry["source"], entry["file_name"],
            entry["format"], entry["added"], entry["released"], entry["unchanged"]) == (
        "chen@shell", "2026-11-29", "committee", "11月29日变动.csv", "status", 1, 1, 1)
    assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    kept = conn.execute("SELECT data FROM observation_files WHERE sha256 = ?",
                        (entry["sha256"],)).fetchone()
    assert bytes(kept["data"]) == path.read_bytes()  # what was applied can be read again
    events = conn.execute("SELECT kind, actor, household_id, detail FROM events"
                          " WHERE kind LIKE 'observation_%' AND id > ? ORDER BY id",
                          (before,)).fetchall()
    assert [(e["kind"], e["actor"], e["household_id"], json.loads(e["detail"]).get("list"))
            for e in events] == [
        ("observation_added", "chen@shell", "24-2304", entry["id"]),
        ("observation_released", "chen@shell", "29-1004", entry["id"]),
        ("observation_list_applied", "chen@shell", None, entry["id"])]


def test_a_utf8_list_with_a_bom_and_english_headers_names_households_whole(
        conn, uow, rules, clock, tmp_path):
    path = csv_file(tmp_path / "changes.csv", [
        "Household,Status",
        "24-2304,Added",
        "24栋2403室,added",
        " 029-01004 ,Released",  # as a spreadsheet may pad it
    ], "utf-8-sig")
    report = apply(path, uow, rules, clock)
    assert report.day_list.encoding == "utf-8-sig"
    assert households(report.added) == ["24-2304", "24-2403"]
    assert households(report.released) == ["29-1004"]
    assert report.problems == [] and report.applied


def test_a_full_list_puts_everyone_listed_under_observation_and_releases_everyone_else(
        conn, uow, rules, clock, sample_under, tmp_path):
    path = csv_file(tmp_path / "full.csv", ["楼栋,房号,姓名", "24,2304,陈杰", "29,1004,孙"])
    report = apply(path, uow, rules, clock)
    assert report.day_list.format == "full" and report.day_list.encoding == "utf-8"
    assert households(report.added) == ["24-2304"]
    assert households(report.unchanged) == ["29-1004"]
    assert sorted(households(report.released)) == sorted(sample_under - {"29-1004"})
    assert {e.line for e in report.released} == {None}  # released because not listed
    assert under(conn) == {"24-2304", "29-1004"}


def test_an_xlsx_list_with_a_title_above_its_header_and_numbers_in_its_cells(
        conn, uow, rules, clock, sample_under, tmp_path):
    path = xlsx_file(tmp_path / "list.xlsx", [
        ["示例花园 11月29日 居家观察变动名单"],
        [],
        ["日期", "楼栋", "房号", "变动"],
        [datetime(2026, 11, 29), 24, 2304, "新增"],
        ["2026/11/29", "29栋", "1004室", "解除隔离"],
        [datetime(2026, 11, 28), 24, 2403, "新增"],  # yesterday's row, pasted in
    ])
    report = apply(path, uow, rules, clock)
    assert report.day_list.encoding == "xlsx" and report.day_list.format == "status"
    assert households(report.added) == ["24-2304"]
    assert households(report.released) == ["29-1004"]
    assert kinds(report) == [(6, "wrong_date")]
    assert "2026-11-28" in report.problems[0].message
    assert not report.applied and under(conn) == sample_under


def test_an_xlsx_list_on_several_sheets_says_only_the_first_is_read(conn, uow, rules, clock,
                                                                     tmp_path):
    path = xlsx_file(tmp_path / "two.xlsx", [["户号", "状态"], ["24-2304", "新增"]],
                     解除=[["户号"], ["29-1004"]])
    report = apply(path, uow, rules, clock, dry_run=True)
    assert kinds(report) == [(None, "other_sheets")] and "解除" in report.problems[0].message
    assert households(report.added) == ["24-2304"]


def test_an_unknown_room_is_reported_with_the_rooms_easily_confused_with_it(
        conn, uow, rules, clock, sample_under, tmp_path):
    conn.execute("DELETE FROM households WHERE id = '24-2403'")  # a community without 2403
    path = csv_file(tmp_path / "day.csv", ["楼栋,房号,状态", "24,2403,新增", "29,1004,解除"])
    report = apply(path, uow, rules, clock)
    [unknown] = report.unknown
    assert (unknown.household, unknown.line, unknown.near) == ("24-2403", 2,
                                                               ("24-2003", "24-2304"))
    assert kinds(report) == [(2, "unknown_room")]
    assert "did you mean 24-2003 or 24-2304?" in report.problems[0].message
    assert not report.applied and report.needs_confirmation
    assert under(conn) == sample_under

    confirmed = apply(path, uow, rules, clock, confirm=True)  # the operator: apply the rest
    assert confirmed.applied and households(confirmed.released) == ["29-1004"]
    assert under(conn) == sample_under - {"29-1004"}
    assert conn.execute("SELECT problems FROM observation_lists").fetchone()[0] == 1


def test_a_full_list_never_releases_the_flat_its_unknown_room_may_mean(
        conn, uow, rules, clock, sample_under, tmp_path):
    conn.execute("UPDATE households SET under_observation = 1 WHERE id = '24-2304'")
    conn.execute("DELETE FROM households WHERE id = '24-2403'")
    lines = ["户号", *sorted(sample_under), "24-2403"]  # 2304 typed as 2403
    report = apply(csv_file(tmp_path / "full.csv", lines), uow, rules, clock, confirm=True)
    assert report.applied and report.released == []
    assert ("held", "24-2304") in [(p.kind, p.household) for p in report.problems]
    assert "24-2304" in under(conn)


def test_duplicates_conflicts_bad_rooms_and_statuses_are_reported_line_by_line(
        conn, uow, rules, clock, sample_under, tmp_path):
    path = csv_file(tmp_path / "messy.csv", [
        "楼栋,房号,状态",
        "24,2304,新增",
        "24,2304,新增",  # 3: a duplicate
        "24,2403,新增",
        "24,2403,解除",  # 5: both added and released
        "24,23-04,新增",  # 6: not a room
        "13,1102,待定",  # 7: not a status
        "29,1004,",  # 8: a full list's row in a status list
    ])
    report = apply(path, uow, rules, clock)
    assert kinds(report) == [(3, "duplicate"), (5, "conflict"), (6, "bad_room"),
                             (7, "bad_status"), (8, "mixed_format")]
    assert report.problems[0].other_line == 2 and report.problems[1].other_line == 4
    assert not report.applied and under(conn) == sample_under

    confirmed = apply(path, uow, rules, clock, confirm=True)
    assert households(confirmed.added) == ["24-2304"]  # never 24-2403: the list contradicts itself
    assert under(conn) == sample_under | {"24-2304"}


def test_a_file_in_another_encoding_applies_nothing_even_when_confirmed(
        conn, uow, rules, clock, sample_under, tmp_path):
    path = tmp_path / "utf16.csv"
    path.write_bytes("楼栋,房号,状态\r\n24,2304,新增\r\n".encode("utf-16-le"))  # no BOM
    report = apply(path, uow, rules, clock, confirm=True)
    assert kinds(report) == [(None, "encoding")] and "CSV UTF-8" in report.problems[0].message
    assert not report.applied and not report.readable and under(conn) == sample_under


def test_a_list_saved_again_in_the_wrong_encoding_is_refused_naming_the_encoding(
        conn, uow, rules, clock, tmp_path):
    # A GBK list opened as Western (Latin-1) and saved again as UTF-8: garbled but decodable.
    garbled = "楼栋,房号,状态".encode("gbk").decode("latin-1")
    path = csv_file(tmp_path / "resaved.csv", [garbled, "24,2304,新增"])
    report = apply(path, uow, rules, clock, confirm=True)
    assert kinds(report) == [(None, "no_columns")]
    assert "another encoding" in report.problems[0].message and not report.applied


def test_a_dry_run_changes_nothing(conn, uow, rules, clock, tmp_path):
    before = snapshot(conn)
    path = csv_file(tmp_path / "day.csv", ["户号,状态", "24-2304,新增", "29-1004,解除"])
    report = apply(path, uow, rules, clock, dry_run=True)
    assert households(report.added) == ["24-2304"] and not report.applied
    assert snapshot(conn) == before


def test_applying_is_one_transaction_a_failure_midway_leaves_nothing(conn, uow, rules, clock,
                                                                      tmp_path):
    before = snapshot(conn)
    # 24-2304 is put under observation first; then the store fails on 29-1004's release.
    conn.execute("CREATE TEMP TRIGGER break_release BEFORE UPDATE ON households "
                 "WHEN NEW.id = '29-1004' BEGIN SELECT RAISE(ABORT, 'disk trouble'); END")
    path = csv_file(tmp_path / "day.csv", ["户号,状态", "24-2304,新增", "29-1004,解除"])
    with pytest.raises(sqlite3.IntegrityError):
        apply(path, uow, rules, clock)
    assert snapshot(conn) == before


def test_the_same_list_applied_twice_changes_nothing_the_second_time(conn, uow, rules, clock,
                                                                      tmp_path):
    path = csv_file(tmp_path / "day.csv", ["户号,状态", "24-2304,新增", "29-1004,解除"])
    first = apply(path, uow, rules, clock, source="committee")
    after_first = snapshot(conn)
    again = apply(path, uow, rules, clock, source="committee", actor="li@web")
    assert first.applied and not again.applied
    assert again.added == again.released == [] and len(again.unchanged) == 2
    assert again.already is not None and again.already.id == first.register_id
    assert snapshot(conn) == after_first


def test_two_lists_for_the_same_day_are_compared_household_by_household(tmp_path):
    committee = csv_file(tmp_path / "committee.csv", [
        "楼栋,房号,状态", "24,2304,新增", "29,1004,解除", "13,1102,新增"], "gbk")
    property_ = xlsx_file(tmp_path / "property.xlsx", [
        ["户号", "状态"], ["24-2304", "新增"], ["29-1004", "新增"], ["24-2403", "新增"]])
    comparison = compare_lists(read_list(committee.read_bytes(), committee.name),
                               read_list(property_.read_bytes(), property_.name))
    found = comparison.as_json()
    assert found["a"]["file"] == "committee.csv" and found["b"]["file"] == "property.xlsx"
    assert found["only_in_a"] == [{"household": "13-1102", "status": "added", "line": 4}]
    assert found["only_in_b"] == [{"household": "24-2403", "status": "added", "line": 4}]
    assert found["status_differs"] == [{"household": "29-1004", "a": "released", "b": "added",
                                        "line_a": 3, "line_b": 3}]
    assert found["agreed"] == 1 and found["same"] is False


# --- the command ----------------------------------------------------------------------------

def shelf(config, *args):
    return subprocess.run([sys.executable, "-m", "kiosk.app", "--config", str(config.path),
                           *map(str, args)], capture_output=True, text=True,
                          env={**ENV, "SHELF_NOW": NOW}, timeout=60)


APPLY_KEYS = {"file", "sha256", "format", "encoding", "rows", "date", "source", "added",
              "released", "unchanged", "unknown", "problems", "applied", "dry_run",
              "needs_confirmation", "register_id", "already_applied", "diff_key"}


def test_shelf_observation_apply_shows_the_difference_then_applies_on_confirmation(
        community, tmp_path):
    path = csv_file(tmp_path / "day.csv", ["楼栋,房号,状态", "24,2304,新增", "24,2340,新增",
                                           "29,1004,解除"], "gbk")
    shown = shelf(community, "observation", "apply", path, "--date", "2026-11-29", "--source",
                  "committee", "--json")
    assert shown.returncode == 1, shown.stderr  # a problem: nothing applied
    report = json.loads(shown.stdout)
    assert set(report) == APPLY_KEYS
    assert report["added"] == [{"household": "24-2304", "line": 2}]
    assert report["unknown"] == [{"household": "24-2340", "line": 3, "near": ["24-2304"]}]
    assert (report["applied"], report["needs_confirmation"]) == (False, True)

    done = shelf(community, "observation", "apply", path, "--date", "2026-11-29", "--source",
                 "committee", "--apply-valid-rows")
    assert done.returncode == 0, done.stderr
    assert "applied as register entry 1: 1 added, 1 released" in done.stdout
    conn = sqlite3.connect(community.database)
    actor = conn.execute("SELECT actor FROM observation_lists").fetchone()[0]
    assert actor == f"{getpass.getuser()}@shell"

    again = shelf(community, "observation", "apply", path, "--date", "2026-11-29", "--source",
                  "committee", "--apply-valid-rows", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["already_applied"]["id"] == 1


def test_shelf_observation_compare_exits_1_where_the_lists_disagree(community, tmp_path):
    a = csv_file(tmp_path / "a.csv", ["户号,状态", "24-2304,新增"])
    b = csv_file(tmp_path / "b.csv", ["楼栋,房号,状态", "24,2304,新增"], "utf-8-sig")
    c = csv_file(tmp_path / "c.csv", ["户号,状态", "24-2304,解除"])
    same = shelf(community, "observation", "compare", a, b, "--json")
    assert same.returncode == 0 and json.loads(same.stdout)["same"] is True
    differ = shelf(community, "observation", "compare", a, c)
    assert differ.returncode == 1
    assert "differs: 24-2304: A added (line 2), B released (line 2)" in differ.stdout
