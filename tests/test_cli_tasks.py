"""The door delivery story end to end through the `shelf` command, a day replayed with SHELF_NOW:
the committee's list puts 24-2304 under observation, its parcel checked in at 21:00 becomes the
property company's task, 2403's door sticker is refused, 2304's closes it, the day's counts show
it; the stickers are printed and every one decodes; the notice worker hands the committee's
tasks over at 17:30."""

from __future__ import annotations

import json
import subprocess
import sys

from test_labels_print import rasterise

from hardware.camera import read_image
from hardware.decoder import ZbarDecoder
from kiosk.app.sim.mailcatcher import MailCatcher
from kiosk.labels import parse_door

ENV = {"GPIOZERO_PIN_FACTORY": "mock", "PATH": "/usr/bin:/bin"}


def shelf(config, *args, now):
    return subprocess.run([sys.executable, "-m", "kiosk.app", "--config", str(config.path),
                           *map(str, args)], capture_output=True, text=True,
                          env={**ENV, "SHELF_NOW": now}, timeout=60)


def one_json(done) -> dict:
    [line] = done.stdout.splitlines()
    return json.loads(line)


def put_under_observation(community, tmp_path, *households):
    """The committee's list of the day, as it comes (GBK CSV, Chinese headers), applied."""
    rows = ["楼栋,房号,状态"] + [f"{h.split('-')[0]},{h.split('-')[1]},新增" for h in households]
    listed = tmp_path / "居家观察-1203.csv"
    listed.write_bytes(("\r\n".join(rows) + "\r\n").encode("gbk"))
    done = shelf(community, "observation", "apply", listed, "--date", "2026-12-03",
                 "--source", "committee", "--json", now="2026-12-03T08:00:00+08:00")
    assert done.returncode == 0, done.stderr
    report = one_json(done)
    assert report["applied"] is True
    assert [a["household"] for a in report["added"]] == list(households)


def stickers(community, tmp_path, building) -> dict[str, str]:
    """Print a building's door stickers; read every one back off the rasterised pages."""
    pdf = tmp_path / f"doors-{building}.pdf"
    done = shelf(community, "stickers", "--building", building, "--pdf", pdf, "--json",
                 now="2026-12-03T08:00:00+08:00")
    assert done.returncode == 0, done.stderr
    report = one_json(done)
    found = {}
    for page in rasterise(pdf, tmp_path / f"pages-{building}"):
        for symbol in ZbarDecoder().decode(read_image(page)):
            text = symbol.data.decode()
            found[str(parse_door(text, community.label_secret))] = text
    assert len(found) == report["stickers"]
    return found


def with_mail(community, port):
    text = community.path.read_text(encoding="utf-8")
    community.path.write_text(text.replace("port = 8025", f"port = {port}"), encoding="utf-8")


def test_the_parcel_for_2304_reaches_2304_not_2403(community, tmp_path):
    put_under_observation(community, tmp_path, "24-2304")
    doors = stickers(community, tmp_path, 24)
    assert sorted(doors) == ["24-2001", "24-2003", "24-2304", "24-2403", "24-501"]

    checked = shelf(community, "checkin", "--code", "SF1234567890", "--room", "24-2304",
                    "--phone-tail", "2304", "--json", now="2026-12-03T21:00:00+08:00")
    assert checked.returncode == 0, checked.stderr
    parcel = one_json(checked)
    assert (parcel["action"], parcel["household"], parcel["door_delivery"]) == (
        "checkin", "24-2304", True)
    task = parcel["door_task"]
    assert (task["team"], task["fresh"]) == ("property", False)
    assert parcel["results"][0]["door_task"] == task

    label = tmp_path / "fresh.png"  # a group-buy's fresh food for the same flat, at 21:05
    assert shelf(community, "label", "--household", "24-2304", "--ref", "TG1", "--fresh",
                 "--png", label, now="2026-12-03T21:05:00+08:00").returncode == 0
    scanned = one_json(shelf(community, "scan", "--json", label,
                             now="2026-12-03T21:05:00+08:00"))
    assert scanned["action"] == "checkin"
    assert scanned["door_task"] == {"id": task["id"], "team": "property", "fresh": True}

    listed = shelf(community, "tasks", "--team", "property", "--json",
                   now="2026-12-03T21:10:00+08:00")
    assert listed.returncode == 0, listed.stderr
    [building] = json.loads(listed.stdout)["buildings"]
    [open_task] = building["tasks"]
    assert (building["building"], open_task["id"], open_task["household"], open_task["fresh"],
            [p["id"] for p in open_task["parcels"]]) == (
        24, task["id"], "24-2304", True, [parcel["parcel"], scanned["parcel"]])
    text = shelf(community, "tasks", now="2026-12-03T21:10:00+08:00").stdout
    assert f"#{task['id']} 24-2304  property  2 parcel(s)" in text and "FRESH" in text

    # At 24-2403's door: the volunteer scans its sticker. Refused, both flats named.
    wrong = shelf(community, "deliver", task["id"], "--door-code", doors["24-2403"], "--json",
                  now="2026-12-03T21:20:00+08:00")
    assert wrong.returncode == 1
    refused = one_json(wrong)
    assert (refused["action"], refused["error"], refused["expected"], refused["given"]) == (
        "rejected", "wrong_door", "24-2304", "24-2403")
    assert "24-2403" not in wrong.stderr and "24-2304" not in wrong.stderr  # logs mask

    right = shelf(community, "deliver", task["id"], "--door-code", doors["24-2304"], "--json",
                  now="2026-12-03T21:25:00+08:00")
    assert right.returncode == 0, right.stderr
    done = one_json(right)
    assert (done["action"], done["household"], done["parcels"], done["door_task"]["id"]) == (
        "delivered", "24-2304", [parcel["parcel"], scanned["parcel"]], task["id"])
    twice = one_json(shelf(community, "deliver", task["id"], "--room", "24-2304", "--json",
                           now="2026-12-03T21:30:00+08:00"))
    assert (twice["action"], twice["error"]) == ("rejected", "task_closed")

    counted = shelf(community, "counts", "--date", "2026-12-03", "--json",
                    now="2026-12-04T09:00:00+08:00")
    assert counted.returncode == 0, counted.stderr
    counts = json.loads(counted.stdout)
    assert counts["totals"] == {"checked_in": 2, "door_tasks": 1, "delivered": 2,
                                "handed_out": 0, "waiting": 0, "escalated": 0}
    assert {t["team"]: t["delivered"] for t in counts["teams"]} == {"committee": 0,
                                                                    "property": 2}
    [staff] = [p for p in counts["people"] if p["delivered"]]
    assert staff["person"].endswith("@shell") and staff["team"] == "property"
    assert "delivered 2" in shelf(community, "counts", "--date", "2026-12-03",
                                  now="2026-12-04T09:00:00+08:00").stdout


def test_the_notice_worker_hands_over_at_17_30_and_tells_the_team(community, tmp_path):
    with MailCatcher() as mail:
        with_mail(community, mail.port)
        checked = one_json(shelf(community, "checkin", "--code", "SF1234567890", "--room",
                                 "29-1004", "--json", now="2026-12-03T17:00:00+08:00"))
        assert checked["door_task"]["team"] == "committee"
        before = shelf(community, "notices", "--once", now="2026-12-03T17:29:00+08:00")
        assert before.returncode == 0, before.stderr
        after = shelf(community, "notices", "--once", now="2026-12-03T17:30:00+08:00")
        assert after.returncode == 0, after.stderr
        messages = mail.wait_for(2)
    to_team = [m for m in messages if m["To"] == "property@sample-garden.example"]
    [handover] = to_team
    assert "Handed over" in handover["Subject"]
    assert "29-1004" in handover.get_content()
    listed = json.loads(shelf(community, "tasks", "--json",
                              now="2026-12-03T17:31:00+08:00").stdout)
    assert listed["handed_over"] == []  # done once, by the worker
    assert listed["buildings"][0]["tasks"][0]["team"] == "property"


def test_stickers_for_a_building_without_households_are_refused(community, tmp_path):
    done = shelf(community, "stickers", "--building", 1, "--pdf", tmp_path / "s.pdf",
                 now="2026-12-03T08:00:00+08:00")
    assert done.returncode == 2 and not (tmp_path / "s.pdf").exists()
    assert "building 1 has no households in the list" in done.stderr
