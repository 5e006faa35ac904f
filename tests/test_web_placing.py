"""What the staff and other tools learn of slot buttons: ``placed`` per parcel in
GET /api/slots, and "not confirmed on the shelf" on the exceptions page."""

from __future__ import annotations

import pytest
from buttons import add_buttons
from conftest import check_in, make_app
from test_web import AuthActions

from kiosk.community import open_store
from kiosk.placing import press, record_unplaced
from kiosk.services import Rules
from kiosk.store import SqliteUnitOfWork


@pytest.fixture
def buttoned(community):
    return add_buttons(community.path)


@pytest.fixture
def conn(buttoned):
    """The store, its slots' buttons mirrored as the kiosk does at start."""
    connection = open_store(buttoned)
    yield connection
    connection.close()


@pytest.fixture
def admin(buttoned, clock):
    client = make_app(buttoned, clock).test_client()
    AuthActions(client).login()
    return client


def parcels_of(client) -> dict[int, dict]:
    body = client.get("/api/slots").get_json()
    return {p["id"]: p for slot in body["slots"] for p in slot["parcels"]}


def test_api_slots_says_placed_per_parcel_and_null_without_a_button(admin, conn, buttoned,
                                                                     clock):
    in_a12 = check_in(conn, buttoned, clock, "24-2304").parcel  # a button
    in_a01 = check_in(conn, buttoned, clock, "2-902").parcel  # none
    assert parcels_of(admin)[in_a12]["placed"] is False
    assert parcels_of(admin)[in_a01]["placed"] is None
    press("A-12", SqliteUnitOfWork(conn), Rules.from_config(buttoned), clock)
    assert parcels_of(admin)[in_a12]["placed"] is True


def test_a_parcel_never_pressed_in_is_an_exception(admin, conn, buttoned, clock):
    late = check_in(conn, buttoned, clock, "24-2304").parcel
    clock.advance(1)
    fine = check_in(conn, buttoned, clock, "33-1102").parcel  # B-07
    press("B-07", SqliteUnitOfWork(conn), Rules.from_config(buttoned), clock)
    page = admin.get("/exceptions?lang=en").text
    section = page[page.index('id="exc-not-placed"'):page.index('id="exc-refused"')]
    assert 'data-parcel=' not in section
    clock.advance(buttoned.kiosk.place_s)
    record_unplaced(SqliteUnitOfWork(conn), Rules.from_config(buttoned), clock)
    page = admin.get("/exceptions?lang=en").text
    section = page[page.index('id="exc-not-placed"'):page.index('id="exc-refused"')]
    assert "Not confirmed on the shelf" in section
    assert f'data-parcel="{late}"' in section and f'data-parcel="{fine}"' not in section
