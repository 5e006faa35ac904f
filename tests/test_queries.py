"""The read side against a real SQLite file: what the pages and the API are built from."""

from __future__ import annotations

import sqlite3

import pytest
from conftest import check_in, fill_floor

from kiosk.community import open_store
from kiosk.queries import FIRST_WAITING_PARCELS, slot_view, slots_view

FLOOR_PARCELS = 15


@pytest.fixture
def crowded(conn, community, clock):
    """A shelf whose slots are full and whose overflow place holds FLOOR_PARCELS."""
    fill_floor(conn, community, clock, FLOOR_PARCELS)
    return conn


def test_a_cut_view_counts_every_parcel_but_lists_the_oldest(crowded, clock):
    full = slots_view(crowded, clock.now())
    cut = slots_view(crowded, clock.now(), parcels_per_slot=3)

    assert [s["code"] for s in cut] == [s["code"] for s in full]
    for whole, part in zip(full, cut, strict=True):
        assert part["count"] == whole["count"] == len(whole["parcels"])
        assert part["parcels"] == whole["parcels"][:3]
        assert {k: v for k, v in part.items() if k != "parcels"} == {
            k: v for k, v in whole.items() if k != "parcels"}
    floor = next(s for s in full if s["overflow"])
    assert floor["count"] == FLOOR_PARCELS
    assert [p["id"] for p in floor["parcels"]] == sorted(p["id"] for p in floor["parcels"])


def test_a_cut_view_does_not_fetch_the_parcels_it_leaves_out(crowded, clock):
    """The page's query returns the few parcels it shows, not all of them to throw away."""
    parcel_rows: list[tuple] = []

    def counting_row(cursor: sqlite3.Cursor, row: tuple) -> sqlite3.Row:
        if "ref" in (column[0] for column in cursor.description):
            parcel_rows.append(row)
        return sqlite3.Row(cursor, row)

    crowded.row_factory = counting_row
    slots = slots_view(crowded, clock.now(), parcels_per_slot=2)
    crowded.row_factory = sqlite3.Row

    shown = sum(len(s["parcels"]) for s in slots)
    assert shown <= sum(s["count"] for s in slots) - (FLOOR_PARCELS - 2)
    assert len(parcel_rows) == shown


def test_the_page_query_goes_slot_by_slot(conn):
    """Slots outside, each slot's few parcels inside.

    A planner that starts from the parcels table reads every parcel once per slot: half a
    second instead of a third of a millisecond at 2,000 waiting parcels.
    """
    plan = [row["detail"] for row in conn.execute(
        f"EXPLAIN QUERY PLAN {FIRST_WAITING_PARCELS}", {"limit": 6})]
    assert plan[0].startswith("SCAN s")
    assert any(step.startswith("SEARCH parcels USING INDEX parcels_waiting")
               and step.endswith("(slot_code=?)") for step in plan), plan


@pytest.mark.parametrize("cut", [None, 3])
def test_a_view_reads_one_state_while_a_check_in_commits(crowded, community, clock, cut):
    """The kiosk may commit between the view's statements: counts still match the lists."""
    kiosk = open_store(community)
    landed: list[int] = []

    def check_in_midway(sql: str) -> None:
        if "COUNT(*)" in sql and not landed:  # after the parcels were read, before counting
            landed.append(check_in(kiosk, community, clock, "24-2304", "MIDWAY").parcel)

    crowded.set_trace_callback(check_in_midway)
    try:
        slots = slots_view(crowded, clock.now(), parcels_per_slot=cut)
    finally:
        crowded.set_trace_callback(None)
        kiosk.close()

    assert landed, "the check-in did not happen during the view"
    floor = next(s for s in slots if s["overflow"])
    assert floor["count"] == FLOOR_PARCELS  # the state before the check-in, all through
    assert landed[0] not in [p["id"] for p in floor["parcels"]]
    assert slots_view(crowded, clock.now())[-1]["count"] == FLOOR_PARCELS + 1


def test_a_cut_view_needs_at_least_one_parcel_per_slot(conn, clock):
    with pytest.raises(ValueError, match="at least 1"):
        slots_view(conn, clock.now(), parcels_per_slot=0)


def test_one_slot_is_shaped_like_its_item_in_the_whole_view(crowded, clock):
    for item in slots_view(crowded, clock.now()):
        assert slot_view(crowded, clock.now(), item["code"]) == item
    assert slot_view(crowded, clock.now(), "NO-SUCH-SLOT") is None
