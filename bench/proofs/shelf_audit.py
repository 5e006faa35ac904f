"""A full shelf audited by light (issue 24): 28 slots, 112 parcels, a press per slot.

The sample community with a button at every slot on simulated 74HC165 chains (the rig of
``wrong_puts``) and the real kiosk loop (``Scanner.run``) in a thread. The store puts four
parcels in each of the 28 slots; the shelf itself (what a person would find there) differs in
three planted ways: a parcel removed, a stray parcel added (a waybill the shelf never had),
one parcel moved to another slot. A simulated staff member, on a connection of their own as
the phone's site would be, starts the audit; at each slot the audit blinks they compare the
list (``kiosk.audit_views.audit_now``) with the shelf, note what differs (``kiosk.audit``),
then press the slot's button on the chain. It holds when the audit visited all 28 slots, the
kiosk had the slot blinking ``audit`` before each press, every press was "all here" (no
``wrong_slot``) and the report names exactly the three planted discrepancies.

The time per slot is the system's, not a person's: from the press (the chain input going low)
until the store has the audit at its next slot (the kiosk's poll, debounce, wake-up and
transaction), and the whole audit's time with the simulated staff acting at once.
"""

from __future__ import annotations

import random
import sqlite3
import time
from datetime import UTC, datetime, timedelta

from bench.proofs.verdict import Verdict
from bench.proofs.wrong_puts import PATIENCE_S, Rig, kiosk_on_a_rig
from bench.stats import percentile
from kiosk import audit
from kiosk.audit_views import audit_now, audit_report
from kiosk.clock import SystemClock
from kiosk.community import open_store
from kiosk.config import Config
from kiosk.store import SqliteUnitOfWork

PER_SLOT = 4
STAFF = "auditor@web"
STRAY = "SF-STRAY-0001"  # the waybill of the parcel the shelf never had


def prove() -> Verdict:
    with kiosk_on_a_rig("shelf-audit-") as (config, rig, clock):
        return _audit(config, rig, clock)


def _fill(conn: sqlite3.Connection, slots: list[str]) -> dict[str, list[int]]:
    """Four waiting parcels in every slot, as the store knows them (checked in earlier in the
    day: no slot waits for a courier's press)."""
    uow = SqliteUnitOfWork(conn)
    households = [r[0] for r in conn.execute("SELECT id FROM households ORDER BY id")]
    held: dict[str, list[int]] = {}
    now = datetime.now(UTC) - timedelta(hours=2)
    with uow:
        for s, slot in enumerate(slots):
            for k in range(PER_SLOT):
                n = s * PER_SLOT + k
                parcel = uow.parcels.add(f"AUDIT-{n:04d}", f"SF9{n:07d}",
                                         households[n % len(households)], slot, None, now)
                uow.parcels.place(parcel, now)  # its courier pressed the slot's button
                held.setdefault(slot, []).append(parcel)
    return held


def _audit(config: Config, rig: Rig, clock: SystemClock) -> Verdict:
    conn = open_store(config)
    conn.row_factory = sqlite3.Row
    slots = sorted(rig.chains)
    held = _fill(conn, slots)
    rng = random.Random(24)
    removed_slot, stray_slot, from_slot, to_slot = rng.sample(slots, 4)
    removed = held[removed_slot][1]
    moved = held[from_slot][2]
    shelf = {slot: set(ids) for slot, ids in held.items()}  # what is really there
    shelf[removed_slot].discard(removed)
    shelf[from_slot].discard(moved)
    shelf[to_slot].add(moved)
    strays = {stray_slot: [STRAY]}
    ref = {r["id"]: r["ref"] for r in conn.execute("SELECT id, ref FROM parcels")}
    uow = SqliteUnitOfWork(conn)
    started = time.perf_counter()
    step = audit.start(uow, clock, STAFF)
    visited, lit_audit, latencies_ms = [], 0, []
    while step.slot is not None:
        slot = step.slot
        visited.append(slot)
        lit_audit += _wait_lit(uow, clock, slot)
        now = audit_now(conn)
        assert now is not None
        listed = {p["parcel"] for p in now["listed"] if not p["found_in"]}
        for parcel in sorted(listed - shelf[slot]):
            audit.missing(uow, clock, STAFF, parcel, slot)
        listed_all = {p["parcel"] for p in now["listed"]}
        for parcel in sorted(shelf[slot] - listed_all):
            audit.extra(uow, clock, STAFF, ref[parcel], slot)
        for waybill in strays.get(slot, []):
            audit.extra(uow, clock, STAFF, waybill, slot)
        pressed = rig.press(slot)
        step = _wait_moved_on(conn, step.audit, slot)
        latencies_ms.append((time.perf_counter() - pressed) * 1000)
        rig.release(slot)
    total_s = time.perf_counter() - started
    report = audit_report(conn, visited and step.audit or 0)
    wrong = conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'wrong_slot'").fetchone()[0]
    conn.close()
    assert report is not None
    found = sorted((p["kind"], p["parcel"] or p["waybill"]) for p in report["problems"])
    planted = sorted([("missing", removed), ("moved", moved), ("extra", STRAY)])
    buttons = sum(1 for s in report["slots"] if s["how"] == "button")
    ok = (found == planted and len(visited) == len(set(visited)) == len(slots)
          and report["slots_checked"] == len(slots) and report["slots_left"] == 0
          and lit_audit == len(slots) and buttons == len(slots) and wrong == 0)
    return Verdict(ok, f"{len(slots)} slots, {sum(map(len, held.values()))} parcels: "
                       f"{report['slots_checked']} checked by {buttons} presses in "
                       f"{total_s:.1f} s; press -> next slot p50 "
                       f"{percentile(latencies_ms, 50):.0f} ms, p95 "
                       f"{percentile(latencies_ms, 95):.0f} ms, max {max(latencies_ms):.0f} ms "
                       f"per slot; planted {len(planted)} (removed, added, moved), reported "
                       f"{len(found)}: {'all' if found == planted else found}; "
                       f"{lit_audit} slots blinked 'audit' before their press, {wrong} wrong")


def _wait_lit(uow: SqliteUnitOfWork, clock: SystemClock, slot: str) -> bool:
    """Whether the store had ``slot`` blinking ``audit`` (what the kiosk shows) in time."""
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        if uow.signals.active(clock.now()).get(slot) == "audit":
            return True
        time.sleep(0.001)
    return False


def _wait_moved_on(conn: sqlite3.Connection, audit_id: int, slot: str) -> audit.Step:
    """Wait until the kiosk confirmed ``slot`` (its press); where the audit is now."""
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        row = conn.execute("SELECT status, slot_code FROM audits WHERE id = ?",
                           (audit_id,)).fetchone()
        if row["status"] == "done" or row["slot_code"] != slot:
            return audit.Step(audit_id, row["status"], row["slot_code"])
        time.sleep(0.001)
    raise RuntimeError(f"the press of {slot} was not answered within {PATIENCE_S} s")
