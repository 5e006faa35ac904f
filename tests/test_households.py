from __future__ import annotations

import subprocess
import sys

import pytest

from kiosk.households import import_households
from kiosk.store import SqliteUnitOfWork


def write(tmp_path, text):
    path = tmp_path / "list.csv"
    path.write_text(text, encoding="utf-8")
    return path


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
    report = import_households(SqliteUnitOfWork(conn), community.community.buildings,
                               csv, clock.now())
    assert report.changed == ["24-2304"]
    assert report.unchanged == ["24-2403"]
    assert report.added == ["7-0101"]
    assert [line for line, _ in report.refused] == [5, 6, 7, 8, 9, 10]
    reasons = " | ".join(reason for _, reason in report.refused)
    for fragment in ("building 36 is not in", "room '01 01'", "'not-an-address' is not",
                     "under_observation 'maybe'", "already given on line 4",
                     "building 'x' is not a number"):
        assert fragment in reasons
    row = conn.execute("SELECT under_observation FROM households WHERE id = '24-2304'").fetchone()
    assert row[0] == 1


def test_a_header_with_unknown_columns_is_refused_whole(conn, community, clock, tmp_path):
    csv = write(tmp_path, "building,rooom,name\n24,2304,x\n")
    with pytest.raises(ValueError, match=r"missing: room; unknown: rooom"):
        import_households(SqliteUnitOfWork(conn), community.community.buildings, csv, clock.now())


def test_the_command_prints_the_report_and_fails_on_refusals(community, tmp_path):
    csv = write(tmp_path, "building,room\n24,2304\n99,1\n")
    done = subprocess.run([sys.executable, "-m", "kiosk.app", "households", "import", str(csv),
                           "--config", str(community.path)], capture_output=True, text=True)
    assert done.returncode == 1
    assert "refused 1" in done.stdout and "line 3: building 99" in done.stdout


def test_columns_left_out_keep_what_was_known(conn, community, clock, tmp_path):
    csv = write(tmp_path, "building,room,under_observation\n24,2304,yes\n")
    report = import_households(SqliteUnitOfWork(conn), community.community.buildings,
                               csv, clock.now())
    assert report.changed == ["24-2304"]
    row = conn.execute("SELECT * FROM households WHERE id = '24-2304'").fetchone()
    assert (row["email"], row["under_observation"]) == ("r24-2304@sample-garden.example", 1)
