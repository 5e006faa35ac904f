"""`shelf audit` for an operator without a phone, through real `shelf` processes on a real
store, SHELF_NOW as the clock: start, status, a missing and a moved parcel, pause, resume,
the slots confirmed one by one, the report; refusals as JSON and in Chinese."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import check_in

from kiosk.clock import ManualClock

ENV = {"GPIOZERO_PIN_FACTORY": "mock", "PATH": "/usr/bin:/bin"}
NOW = "2026-12-07T21:00:00+08:00"


def shelf(config, *args, now=NOW, lang="en"):
    return subprocess.run([sys.executable, "-m", "kiosk.app", "--config", str(config.path),
                           "--lang", lang, "audit", *map(str, args)], capture_output=True,
                          text=True, env={**ENV, "SHELF_NOW": now}, timeout=60)


def as_json(done) -> dict:
    [line] = done.stdout.splitlines()
    return json.loads(line)


def test_an_audit_from_the_command_line(community, conn):
    clock = ManualClock()
    parcels = [check_in(conn, community, clock, h, f"SF10000{n}")
               for n, h in enumerate(["24-2304", "2-902", "2-902"])]
    refused = shelf(community, "next", "--json")
    assert refused.returncode == 1 and as_json(refused)["error"] == "no_audit"
    started = shelf(community, "start", "--json")
    assert started.returncode == 0, started.stderr
    status = as_json(started)
    first = status["slot"]
    assert status["status"] == "running" and status["started_at"].startswith("2026-12-07T13:00")
    on_first = [p for p in parcels if p.slot == first]
    assert {p["parcel"] for p in status["listed"]} == {p.parcel for p in on_first}
    assert all(p["household"].endswith("**") for p in status["listed"])  # masked
    assert all(p["waybill_tail"].startswith("…") for p in status["listed"])
    other = next(p for p in parcels if p.slot != first)
    missing = shelf(community, "missing", f"#{on_first[0].parcel}", "--json")
    assert [p["kind"] for p in as_json(missing)["problems"]] == ["missing"]
    moved = shelf(community, "extra", f"SF10000{parcels.index(other)}", "--json")
    assert [p["kind"] for p in as_json(moved)["problems"]] == ["missing", "moved"]
    paused = shelf(community, "pause", "--json")
    assert as_json(paused)["status"] == "paused"
    zh = shelf(community, "next", lang="zh")
    assert zh.returncode == 1 and "盘点已暂停" in zh.stderr
    shelf(community, "resume")
    while (done := as_json(shelf(community, "next", "--json")))["audit"] is not None:
        assert done["slot"] != first
    report = shelf(community, "report", "--json", now="2026-12-07T21:30:00+08:00")
    body = as_json(report)
    assert body["status"] == "done" and body["slots_left"] == 0
    assert body["slots_checked"] == len({p.slot for p in parcels})
    assert [(p["kind"], p["parcel"]) for p in body["problems"]] == [
        ("missing", on_first[0].parcel), ("moved", other.parcel)]
    assert body["people"] and body["people"][0].endswith("@shell")
    assert {s["how"] for s in body["slots"]} == {"shell"}
    text = shelf(community, "report", lang="zh")
    assert "已盘" in text.stdout and "应在" in text.stdout
