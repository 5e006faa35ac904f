"""`shelf scan IMAGE... --json`: the kiosk's own path on real images, as other tools call it."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import numpy as np
import segno

from kiosk.domain import HouseholdId
from kiosk.labels import make_label

KEYS = {"image", "action", "household", "slot", "parcel", "error", "message", "results"}


def shelf(config, *args):
    return subprocess.run([sys.executable, "-m", "kiosk.app", "--config", str(config.path), *args],
                          capture_output=True, text=True, env={"GPIOZERO_PIN_FACTORY": "mock",
                                                               "PATH": "/usr/bin:/bin"})


def qr_png(path, payload):
    segno.make(payload, error="m").save(str(path), kind="png", scale=6, border=4)
    return path


def test_scan_checks_in_repeats_refuses_and_picks_up(community, tmp_path):
    label = tmp_path / "label.png"
    made = shelf(community, "label", "--household", "24-2304", "--ref", "SF42", "--png", label)
    assert made.returncode == 0, made.stderr
    forged = qr_png(tmp_path / "forged.png",
                    make_label(b"some-other-community-key", HouseholdId(24, "2304")))
    stray = qr_png(tmp_path / "stray.png", "https://example.com/coupon")
    blank = tmp_path / "blank.png"
    import cv2

    cv2.imwrite(str(blank), np.full((240, 320), 255, np.uint8))
    done = shelf(community, "scan", "--json", label, label, forged, stray, blank)
    assert done.returncode == 0, done.stderr
    outcomes = [json.loads(line) for line in done.stdout.splitlines()]
    assert all(set(o) >= KEYS for o in outcomes)
    first, again, bad, garbage, nothing = outcomes
    assert (first["action"], first["household"], first["slot"]) == ("checkin", "24-2304", "A-12")
    assert isinstance(first["parcel"], int) and first["error"] is None
    assert (again["action"], again["parcel"], again["repeat"]) == ("checkin", first["parcel"], True)
    assert (bad["action"], bad["error"]) == ("rejected", "forged")
    assert (garbage["action"], garbage["error"]) == ("rejected", "garbage")
    assert (nothing["action"], nothing["error"]) == ("none", None)
    assert "24-2304" not in done.stderr  # the log masks households

    mailed = sqlite3.connect(community.database).execute(
        "SELECT payload FROM outbox WHERE household_id = '24-2304'").fetchone()[0]
    pickup = qr_png(tmp_path / "pickup.png", json.loads(mailed)["pickup_qr"])
    done = shelf(community, "scan", "--json", pickup)
    [outcome] = [json.loads(line) for line in done.stdout.splitlines()]
    assert (outcome["action"], outcome["household"], outcome["parcel"]) == (
        "pickup", "24-2304", first["parcel"])


def test_scan_says_which_image_it_could_not_read(community, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    done = shelf(community, "scan", "--json", text, tmp_path / "absent.png")
    assert done.returncode == 1
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    assert first["error"] == second["error"] == "unreadable_image"
    assert "no such file" in second["message"]


def test_scan_lists_every_symbol_read_with_its_text_and_symbology(community, tmp_path):
    import cv2
    from code128 import image as code128_image

    label = tmp_path / "label.png"
    made = shelf(community, "label", "--household", "24-2304", "--ref", "SF42", "--png", label)
    assert made.returncode == 0, made.stderr
    waybill = tmp_path / "waybill.png"
    cv2.imwrite(str(waybill), code128_image("SF1234567890"))
    both = tmp_path / "both.png"
    label_image = cv2.imread(str(label), cv2.IMREAD_GRAYSCALE)
    bars = code128_image("SF1234567890")
    page = np.full((label_image.shape[0] + bars.shape[0] + 40,
                    max(label_image.shape[1], bars.shape[1])), 255, np.uint8)
    page[:label_image.shape[0], :label_image.shape[1]] = label_image
    page[-bars.shape[0]:, :bars.shape[1]] = bars  # a label stuck beside a waybill
    cv2.imwrite(str(both), page)
    long_text = "https://example.com/" + "x" * 300
    stray = qr_png(tmp_path / "stray.png", long_text)
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((240, 320), 255, np.uint8))

    done = shelf(community, "scan", "--json", label, waybill, both, stray, blank)
    assert done.returncode == 0, done.stderr
    first, carrier, two, garbage, nothing = (json.loads(line) for line in done.stdout.splitlines())
    payload = first["results"][0]["code"]
    assert payload.startswith("DS1:24-2304:")  # the label's own text
    assert [(r["action"], r["symbology"]) for r in first["results"]] == [("checkin", "QRCODE")]
    assert [(r["action"], r["code"], r["symbology"]) for r in carrier["results"]] == [
        ("needs_room", "SF1234567890", "CODE128")]
    assert sorted((r["action"], r["code"], r["symbology"]) for r in two["results"]) == [
        ("checkin", payload, "QRCODE"), ("needs_room", "SF1234567890", "CODE128")]
    [read] = garbage["results"]
    assert (read["action"], read["error"], read["symbology"]) == ("rejected", "garbage", "QRCODE")
    assert read["code"] == long_text[:200]
    assert nothing["results"] == [] and nothing["action"] == "none"
    # The first result's fields stay the image's own, as before.
    assert {k: first[k] for k in first["results"][0]} == first["results"][0]
