"""Carriers' waybills from the command line, as other tools drive them: `shelf scan` on a real
Code 128 image (ZBar through pyzbar), `shelf expect`, `shelf checkin`; one JSON object each."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import cv2
from code128 import image as code128_image
from conftest import real_time_since
from test_cli_scan import KEYS

ENV = {"GPIOZERO_PIN_FACTORY": "mock", "PATH": "/usr/bin:/bin"}
NOW = "2026-12-03T21:10:00+08:00"  # the moment the commands are run at (SHELF_NOW)


def shelf(config, *args, now=NOW):
    return subprocess.run([sys.executable, "-m", "kiosk.app", "--config", str(config.path),
                           *map(str, args)], capture_output=True, text=True,
                          env={**ENV, "SHELF_NOW": now}, timeout=60)


def one_json(done) -> dict:
    [line] = done.stdout.splitlines()
    return json.loads(line)


def waybill(tmp_path, code):
    """A photo of a waybill's barcode: Code 128, as SF and JD print it."""
    path = tmp_path / f"{code}.png"
    cv2.imwrite(str(path), code128_image(code))
    return path


def test_an_unannounced_code_128_waybill_needs_a_room_then_checks_in(community, tmp_path):
    photo = waybill(tmp_path, "SF1234567890")
    asked = shelf(community, "scan", "--json", photo)
    assert asked.returncode == 0, asked.stderr
    scanned = one_json(asked)
    assert set(scanned) >= KEYS | {"code", "suggestions"}
    assert (scanned["action"], scanned["code"], scanned["parcel"], scanned["error"]) == (
        "needs_room", "SF1234567890", None, None)
    line = shelf(community, "scan", photo).stdout
    assert "needs_room SF1234567890" in line and "shelf checkin" in line

    # The courier typed 2304, but the waybill's phone (138****2403) is 2403's.
    wrong = shelf(community, "checkin", "--code", "SF1234567890", "--room", "24-2304",
                  "--phone-tail", "2403", "--json")
    assert wrong.returncode == 1
    refused = one_json(wrong)
    assert set(refused) >= KEYS | {"code", "suggestions"}
    assert (refused["action"], refused["error"], refused["suggestions"], refused["code"]) == (
        "rejected", "phone_mismatch", ["24-2403"], "SF1234567890")
    done = shelf(community, "checkin", "--code", "SF1234567890", "--room", "24-2403",
                 "--phone-tail", "2403", "--json")
    assert done.returncode == 0, done.stderr
    checked = one_json(done)
    assert (checked["action"], checked["household"], checked["code"], checked["room_confirmed"]
            ) == ("checkin", "24-2403", "SF1234567890", True)
    assert checked["results"] == [{k: v for k, v in checked.items()
                                   if k not in ("image", "results")}]

    again = one_json(shelf(community, "scan", "--json", photo))  # the same parcel, scanned again
    assert (again["action"], again["parcel"], again["slot"], again["repeat"]) == (
        "checkin", checked["parcel"], checked["slot"], True)
    db = sqlite3.connect(community.database)
    assert db.execute("SELECT COUNT(*) FROM parcels").fetchone()[0] == 1
    symbology = db.execute("SELECT detail FROM events WHERE kind = 'needs_room'").fetchone()[0]
    assert json.loads(symbology)["symbology"] == "CODE128"
    assert "24-2403" not in asked.stderr + wrong.stderr + done.stderr  # logs mask households


def test_an_announced_waybill_is_confirmed_by_the_waybills_phone(community, tmp_path):
    announced = shelf(community, "expect", "--household", "24-2304", "--code", "jd0001234567890",
                      "--json")
    assert announced.returncode == 0, announced.stderr
    made = one_json(announced)
    assert set(made) == {"code", "household", "announced_by", "announced_at", "used_at",
                         "parcel", "created", "fresh"}
    assert (made["code"], made["household"], made["used_at"], made["parcel"], made["created"]
            ) == ("JD0001234567890", "24-2304", None, None, True)
    assert made["announced_by"].endswith("@shell")
    assert made["announced_at"].startswith("2026-12-03T13:10:0")  # SHELF_NOW, in UTC
    photo = waybill(tmp_path, "JD0001234567890")
    scanned = one_json(shelf(community, "scan", "--json", photo))
    assert (scanned["action"], scanned["announced"], scanned["parcel"], scanned["code"]) == (
        "needs_room", "24-2304", None, "JD0001234567890")
    line = shelf(community, "scan", photo).stdout
    assert "announced for 24-2304" in line and "--phone-tail" in line
    asked = shelf(community, "checkin", "--code", "JD0001234567890")
    assert asked.returncode == 1
    assert asked.stdout.strip() == ("needs_room JD0001234567890: announced for 24-2304; give "
                                    "--phone-tail NNNN (the waybill's phone) or --room "
                                    "BUILDING-ROOM from the waybill")
    wrong = shelf(community, "checkin", "--code", "JD0001234567890", "--phone-tail", "3544")
    assert wrong.returncode == 1
    assert wrong.stderr.strip().splitlines()[-1].startswith(
        "shelf: refused (announcement_mismatch): the phone on the waybill is not the phone of "
        "24-23**")
    done = one_json(shelf(community, "checkin", "--code", "JD0001234567890", "--phone-tail",
                          "2304", "--json"))
    assert (done["action"], done["household"], done["slot"], done["room_confirmed"],
            done["announced"]) == ("checkin", "24-2304", "A-12", True, "24-2304")
    row = sqlite3.connect(community.database).execute(
        "SELECT symbology, kind FROM parcels WHERE id = ?", (done["parcel"],)).fetchone()
    assert row == (None, "carrier")  # typed at the command line, not read from a barcode
    again = shelf(community, "expect", "--household", "24-2304", "--code", "JD0001234567890")
    assert again.returncode == 0
    assert again.stdout.strip() == (f"already announced: JD0001234567890 for 24-2304; parcel "
                                    f"{done['parcel']} is already checked in")


def test_expect_refuses_with_a_json_reason_and_suggestions(community):
    unknown = shelf(community, "expect", "--household", "15-1250", "--code", "SF1", "--json")
    assert (unknown.returncode, one_json(unknown)["error"]) == (1, "bad_carrier_code")
    unknown = shelf(community, "expect", "--household", "15-1250", "--code", "SF123456",
                    "--json")
    assert unknown.returncode == 1
    assert one_json(unknown) == {"error": "unknown_household", "suggestions": ["15-1205"],
                                 "message": "15-12** is not in the household list"}
    shelf(community, "expect", "--household", "24-2304", "--code", "SF123456")
    taken = shelf(community, "expect", "--household", "24-2403", "--code", "SF123456")
    assert taken.returncode == 1 and taken.stdout == ""
    assert taken.stderr.strip().splitlines()[-1] == (
        "shelf: refused (code_taken): SF123456 is announced for another household already: "
        "check the tracking number")


def test_checkin_without_a_room_says_it_needs_one_and_a_refusal_names_the_rooms_whole(community):
    asked = shelf(community, "checkin", "--code", "ZT5550001")
    assert asked.returncode == 1
    assert asked.stdout.strip() == "needs_room ZT5550001: nobody announced it; give --room " \
                                   "BUILDING-ROOM"
    # The operator sees the room they typed and the one they must tell it from; the log masks.
    near = shelf(community, "checkin", "--code", "ZT5550001", "--room", "3栋301室")
    assert near.returncode == 1
    *logged, said = near.stderr.strip().splitlines()
    assert said == (
        "shelf: refused (confusable_room): 3-301 is easily confused with another room: give the "
        "waybill phone's last 4 digits with --phone-tail (rooms easily confused with it: 3-310)")
    assert any("refused (confusable_room): 3-3** is easily confused" in line for line in logged)
    assert not any("3-301" in line or "3-310" in line for line in logged)
    unsure = shelf(community, "checkin", "--code", "ZT5550001", "--room", "3-301",
                   "--phone-tail", "1234")
    assert unsure.returncode == 0
    assert unsure.stdout.strip().endswith("room not confirmed: the staff will check it")


def test_checkin_runs_at_shelf_now(community):
    started = time.monotonic()
    done = shelf(community, "checkin", "--code", "EMS1234567", "--room", "24-501", "--json",
                 now="2026-12-03T21:10:00+08:00")
    assert one_json(done)["action"] == "checkin"
    at = datetime.fromisoformat(sqlite3.connect(community.database).execute(
        "SELECT checked_in_at FROM parcels").fetchone()[0])
    # at SHELF_NOW, moved on by no more than the command took
    assert timedelta(0) <= at - datetime(2026, 12, 3, 13, 10, tzinfo=UTC) \
        <= real_time_since(started), at
    assert os.environ.get("SHELF_NOW") is None  # the test's own process runs on real time
