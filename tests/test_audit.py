"""The shelf audit (kiosk.audit) on a real SQLite store: the slots visited in order, planted
discrepancies reported (a parcel removed, one added, one moved), pause and resume across a
restart, and what a button press means while a courier checks a parcel in. Decided by the
order of events and the tests' own clock, never by wall-clock time."""

from __future__ import annotations

import json

import pytest
from buttons import add_buttons
from conftest import check_in, pickup_code, wait_for

from kiosk import audit
from kiosk.audit_views import audit_now
from kiosk.community import open_store
from kiosk.placing import press
from kiosk.services import Rules, pick_up
from kiosk.store import SqliteUnitOfWork

STAFF = "li@web"


@pytest.fixture
def config(community):
    return add_buttons(community.path)


@pytest.fixture
def store(config):
    connection = open_store(config)
    yield connection
    connection.close()


def lights(conn, clock) -> dict[str, str]:
    return SqliteUnitOfWork(conn).signals.active(clock.now())


def fill(store, config, clock) -> dict[str, list[int]]:
    """Parcels in four slots; slot -> its parcel ids."""
    held: dict[str, list[int]] = {}
    for n, household in enumerate(["24-2304", "24-2403", "2-902", "13-1102", "29-1004",
                                   "24-2304", "2-902"]):
        result = check_in(store, config, clock, household, f"AU{n:03d}")
        held.setdefault(result.slot, []).append(result.parcel)
    clock.advance(config.kiosk.place_s + 1)  # the check-ins' own lights are over
    SqliteUnitOfWork(store).signals.clear()
    return held


def shelf_order(store, slots) -> list[str]:
    rows = store.execute("SELECT code FROM slots ORDER BY position").fetchall()
    return [r[0] for r in rows if r[0] in slots]


def ref_of(store, parcel: int) -> str:
    return store.execute("SELECT ref FROM parcels WHERE id = ?", (parcel,)).fetchone()[0]


def test_an_audit_visits_each_slot_holding_parcels_in_order_then_ends(store, config, clock):
    held = fill(store, config, clock)
    uow = SqliteUnitOfWork(store)
    order = shelf_order(store, held)
    step = audit.start(uow, clock, STAFF)
    assert step.slot == order[0]
    assert lights(store, clock) == {order[0]: "audit"}
    visited = []
    while step.slot is not None:
        visited.append(step.slot)
        clock.advance(20)
        step = audit.all_here(uow, clock, STAFF, "phone")
    assert visited == order
    assert step.status == "done"
    assert lights(store, clock) == {}
    row = store.execute("SELECT status, slots_left, ended_at FROM audits").fetchone()
    assert (row["status"], row["slots_left"]) == ("done", 0) and row["ended_at"]
    listed = dict(store.execute("SELECT slot_code, listed FROM audit_slots").fetchall())
    assert listed == {slot: len(ids) for slot, ids in held.items()}


def test_planted_discrepancies_are_each_reported_once(store, config, clock):
    held = fill(store, config, clock)
    order = shelf_order(store, held)
    first, second = order[0], order[1]
    removed = held[first][0]  # taken off the shelf, the store still lists it
    moved = held[second][0]  # its own slot comes second; staff find it in the first
    uow = SqliteUnitOfWork(store)
    audit.start(uow, clock, STAFF)
    assert audit.missing(uow, clock, STAFF, removed).kind == "missing"
    assert audit.extra(uow, clock, STAFF, ref_of(store, moved).lower()).kind == "moved"
    assert audit.extra(uow, clock, STAFF, "SF1234567890").kind == "extra"  # never on the shelf
    assert audit.extra(uow, clock, STAFF).kind == "extra"  # "an extra parcel", no waybill
    step = audit.all_here(uow, clock, STAFF, "phone", first)
    assert step.slot == second
    # At the moved parcel's own slot it is not looked for, and not called missing again.
    assert audit.missing(uow, clock, STAFF, moved).kind == "moved"
    listed = {p["parcel"]: p for p in audit_now(store)["listed"]}
    assert listed[moved]["found_in"] == first  # on the list, shown found elsewhere
    assert [p for p, shown in listed.items() if shown["found_in"]] == [moved]
    while step.slot is not None:
        step = audit.all_here(uow, clock, STAFF, "phone")
    problems = store.execute("SELECT kind, slot_code, parcel_id, home_slot, waybill "
                             "FROM audit_problems ORDER BY id").fetchall()
    assert [tuple(p) for p in problems] == [
        ("missing", first, removed, None, None),
        ("moved", first, moved, second, ref_of(store, moved)),
        ("extra", first, None, None, "SF1234567890"),
        ("extra", first, None, None, None),
    ]
    kinds = [r[0] for r in store.execute(
        "SELECT kind FROM events WHERE kind LIKE 'audit_%' AND detail LIKE '%\"audit\": 1%' "
        "ORDER BY id")]
    assert kinds.count("audit_slot_checked") == len(held)
    assert [k for k in kinds if k in ("audit_missing", "audit_moved", "audit_extra")] == [
        "audit_missing", "audit_moved", "audit_extra", "audit_extra"]


def test_a_parcel_missing_first_and_found_later_is_one_moved_problem(store, config, clock):
    held = fill(store, config, clock)
    first, second = shelf_order(store, held)[:2]
    lost = held[first][0]
    uow = SqliteUnitOfWork(store)
    audit.start(uow, clock, STAFF)
    audit.missing(uow, clock, STAFF, lost)
    audit.all_here(uow, clock, STAFF, "phone", first)
    found = audit.extra(uow, clock, STAFF, ref_of(store, lost), second)
    assert (found.kind, found.slot, found.home_slot) == ("moved", second, first)
    assert store.execute("SELECT COUNT(*) FROM audit_problems").fetchone()[0] == 1


def test_refusals_say_what_does_not_fit(store, config, clock):
    uow = SqliteUnitOfWork(store)
    with pytest.raises(audit.ShelfEmpty):
        audit.start(uow, clock, STAFF)
    assert store.execute("SELECT COUNT(*) FROM audits").fetchone()[0] == 0  # rolled back
    held = fill(store, config, clock)
    first, second = shelf_order(store, held)[:2]
    with pytest.raises(audit.NoAudit):
        audit.all_here(uow, clock, STAFF, "phone")
    audit.start(uow, clock, STAFF)
    with pytest.raises(audit.AuditOpen):
        audit.start(uow, clock, STAFF)
    with pytest.raises(audit.OnList):
        audit.extra(uow, clock, STAFF, ref_of(store, held[first][0]))
    with pytest.raises(audit.NotListed):
        audit.missing(uow, clock, STAFF, held[second][0])
    with pytest.raises(audit.WrongSlot):  # a page still showing the slot before
        audit.all_here(uow, clock, STAFF, "phone", second)
    audit.pause(uow, clock, STAFF)
    with pytest.raises(audit.AuditPaused):
        audit.all_here(uow, clock, STAFF, "phone")
    assert store.execute("SELECT COUNT(*) FROM audit_problems").fetchone()[0] == 0


def test_a_paused_audit_goes_on_after_a_restart_where_it_was(store, config, clock):
    held = fill(store, config, clock)
    order = shelf_order(store, held)
    uow = SqliteUnitOfWork(store)
    audit.start(uow, clock, STAFF)
    audit.all_here(uow, clock, STAFF, "phone")
    audit.missing(uow, clock, STAFF, held[order[1]][0])
    audit.pause(uow, clock, STAFF)
    assert lights(store, clock) == {}  # paused: dark
    store.close()
    again = open_store(config)  # the kiosk restarted
    try:
        uow = SqliteUnitOfWork(again)
        assert uow.audits.open().status == "paused"
        step = audit.resume(uow, clock, STAFF)
        assert step.slot == order[1]
        assert lights(again, clock) == {order[1]: "audit"}
        assert [p.kind for p in uow.audits.problems(step.audit)] == ["missing"]
    finally:
        again.close()


def test_a_slot_emptied_while_paused_is_passed_over_on_resume(store, config, clock):
    held = fill(store, config, clock)
    order = shelf_order(store, held)
    uow = SqliteUnitOfWork(store)
    audit.start(uow, clock, STAFF)
    audit.pause(uow, clock, STAFF)
    households = {r[0] for r in store.execute(
        "SELECT household_id FROM parcels WHERE slot_code = ?", (order[0],))}
    for household in households:
        pick_up(pickup_code(store, household), uow, Rules.from_config(config), clock)
    still = [s for s in order[1:] if store.execute(
        "SELECT 1 FROM parcels WHERE status = 'waiting' AND slot_code = ?", (s,)).fetchone()]
    assert audit.resume(uow, clock, STAFF).slot == still[0]


def test_the_audited_slots_button_is_all_here_and_a_check_in_keeps_its_own_press(
        store, config, clock):
    """A courier checks a parcel in while staff audit: the check-in's slot takes its press
    (placed), the audited slot's press is "all here", neither sets off the other's alarm."""
    uow, rules = SqliteUnitOfWork(store), Rules.from_config(config)
    check_in(store, config, clock, "2-902", "AU-B")  # shelf B: buttons on the chain
    check_in(store, config, clock, "29-1004", "AU-C")
    clock.advance(config.kiosk.place_s + 1)
    uow.signals.clear()
    step = audit.start(uow, clock, STAFF)
    audited = step.slot
    courier = check_in(store, config, clock, "24-2304", "AU-NEW")  # A-12, lit "on"
    assert courier.slot != audited
    assert lights(store, clock) == {audited: "audit", courier.slot: "on"}
    pressed = press(audited, uow, rules, clock)
    assert pressed.action == "audit"
    assert not store.execute("SELECT 1 FROM events WHERE kind = 'wrong_slot'").fetchone()
    nxt = uow.audits.open()
    assert nxt is None or nxt.slot != audited
    assert press(courier.slot, uow, rules, clock).action == "placed"


def test_a_check_in_into_the_audited_slot_takes_the_first_press(store, config, clock):
    uow, rules = SqliteUnitOfWork(store), Rules.from_config(config)
    first = check_in(store, config, clock, "24-2304", "AU-1")
    clock.advance(config.kiosk.place_s + 1)
    uow.signals.clear()
    audit.start(uow, clock, STAFF)
    assert uow.audits.open().slot == first.slot
    again = check_in(store, config, clock, "24-2304", "AU-2")  # into the audited slot
    assert again.slot == first.slot
    assert lights(store, clock) == {first.slot: "on"}  # the courier's light shows over it
    assert press(first.slot, uow, rules, clock).action == "placed"
    assert lights(store, clock) == {first.slot: "audit"}
    assert press(first.slot, uow, rules, clock).action == "audit"
    checked = store.execute("SELECT listed, how FROM audit_slots").fetchone()
    assert tuple(checked) == (2, "button")  # the parcel just placed is on the list


def test_a_press_of_another_slot_during_an_audit_means_nothing(store, config, clock):
    held = fill(store, config, clock)
    uow, rules = SqliteUnitOfWork(store), Rules.from_config(config)
    step = audit.start(uow, clock, STAFF)
    other = next(code for code in ("A-11", "A-12", "B-01") if code != step.slot)
    assert press(other, uow, rules, clock).action == "idle"
    assert uow.audits.open().slot == step.slot
    assert len(held) >= 2


def test_every_audit_event_names_its_audit(store, config, clock):
    fill(store, config, clock)
    uow = SqliteUnitOfWork(store)
    step = audit.start(uow, clock, STAFF)
    audit.pause(uow, clock, STAFF)
    audit.resume(uow, clock, STAFF)
    audit.extra(uow, clock, STAFF)
    audit.end(uow, clock, "root@shell")
    rows = store.execute("SELECT kind, detail FROM events WHERE kind LIKE 'audit_%' "
                         "ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["audit_started", "audit_paused", "audit_resumed",
                                    "audit_extra", "audit_ended"]
    assert {json.loads(r[1])["audit"] for r in rows} == {step.audit}
    ended = store.execute("SELECT slots_left, ended_by FROM audits").fetchone()
    assert ended["slots_left"] >= 1 and ended["ended_by"] == "root@shell"


def test_the_kiosk_blinks_the_audited_slot_and_its_button_confirms_it(config, clock, factory):
    """On gpiozero's mock pins, through the kiosk loop's own steps: the web (here: this test)
    writes the audit to the store, the kiosk lights it at its next refresh, and the slot's
    button is "all here" with the short beep."""
    from buttons import CHAIN_PINS, GPIO_BUTTONS, LEDS

    from hardware.sim import QuietCamera
    from kiosk.app.wiring import build_scanner

    factory.pin(CHAIN_PINS["data"]).drive_high()  # shelf B's chain, idle
    conn = open_store(config)
    scanner = build_scanner(config, conn, clock, source=QuietCamera(), pin_factory=factory)
    try:
        parcel = check_in(conn, config, clock, "24-2304", "AU-K")
        clock.advance(config.kiosk.place_s + 1)
        SqliteUnitOfWork(conn).signals.clear()
        other = SqliteUnitOfWork(open_store(config))  # the staff site's own connection
        audit.start(other, clock, STAFF)
        other.conn.close()
        led = factory.pin(LEDS[parcel.slot])
        scanner.refresh_lights()
        assert scanner.lights.parts[0]._shown[parcel.slot] == "audit"
        assert led.state  # its pattern starts lit
        buzzer = factory.pin(18)
        factory.pin(GPIO_BUTTONS[parcel.slot]).drive_low()
        assert [p.action for p in scanner.handle_presses()] == ["audit"]
        wait_for(lambda: [s.state for s in buzzer.states].count(True) == 1)  # one short beep
        status = conn.execute("SELECT status FROM audits").fetchone()[0]
        assert status == "done"  # the only slot holding parcels: the audit ended
        scanner.refresh_lights()
        assert scanner.lights.parts[0]._shown[parcel.slot] is None
    finally:
        scanner.close()
        conn.close()


def test_the_audits_light_shows_over_a_teams_collect_and_under_the_gates(store, config,
                                                                          clock):
    held = fill(store, config, clock)
    uow = SqliteUnitOfWork(store)
    slot = audit.start(uow, clock, STAFF).slot
    until = clock.now().replace(year=clock.now().year + 1)
    with uow:
        uow.signals.set(slot, "collect", until, "task")
    assert lights(store, clock)[slot] == "audit"
    with uow:
        uow.signals.set(slot, "blink", until, "pickup")
    assert lights(store, clock)[slot] == "blink"
    audit.pause(uow, clock, STAFF)
    with uow:
        uow.signals.clear(slot)
    assert lights(store, clock) == {slot: "collect"}  # paused: the team's pattern again
    assert slot in held


def test_a_courier_checks_in_during_an_audit_through_the_kiosk_loop(config, clock, factory):
    """The camera reads a courier's label for the household whose slot is being audited, on
    mock pins through the kiosk's own steps: the check-in's light takes the slot while it
    waits, its button's first press places the parcel, the next is the audit's "all here"."""
    import numpy as np
    from buttons import CHAIN_PINS, GPIO_BUTTONS

    from hardware.sim import QuietCamera
    from kiosk.app.sim.label_video import Scene, label_frame
    from kiosk.app.wiring import build_scanner
    from kiosk.domain import HouseholdId
    from kiosk.labels import make_label

    factory.pin(CHAIN_PINS["data"]).drive_high()  # shelf B's chain, idle
    conn = open_store(config)
    scanner = build_scanner(config, conn, clock, source=QuietCamera(), pin_factory=factory)
    try:
        held = check_in(conn, config, clock, "24-2304", "AU-HELD")
        clock.advance(config.kiosk.place_s + 1)
        SqliteUnitOfWork(conn).signals.clear()
        other = SqliteUnitOfWork(open_store(config))  # the staff site's own connection
        assert audit.start(other, clock, STAFF).slot == held.slot
        other.conn.close()
        scanner.refresh_lights()
        assert scanner.lights.parts[0]._shown[held.slot] == "audit"

        label = make_label(config.label_secret, HouseholdId.parse("24-2304"), "AU-NEW")
        frame = label_frame(Scene(label), np.random.default_rng(7))
        [came] = scanner.process_frame(frame)
        assert (came.action, came.slot) == ("checkin", held.slot)
        scanner.refresh_lights()
        assert scanner.lights.parts[0]._shown[held.slot] not in (None, "audit", "alarm")

        button = factory.pin(GPIO_BUTTONS[held.slot])
        button.drive_low()
        assert [p.action for p in scanner.handle_presses()] == ["placed"]
        button.drive_high()
        placed = conn.execute("SELECT placed_at FROM parcels WHERE id = ?",
                              (came.parcel,)).fetchone()[0]
        assert placed is not None
        assert conn.execute("SELECT status FROM audits").fetchone()[0] == "running"
        scanner.refresh_lights()
        assert scanner.lights.parts[0]._shown[held.slot] == "audit"  # the audit's again
        button.drive_low()
        assert [p.action for p in scanner.handle_presses()] == ["audit"]
        assert conn.execute("SELECT status FROM audits").fetchone()[0] == "done"
        assert conn.execute("SELECT count(*) FROM events WHERE kind = 'wrong_slot'"
                            ).fetchone()[0] == 0
    finally:
        scanner.close()
        conn.close()
