"""Names in the config (community, shelves, teams, the overflow place) given per language: the
site shows each page's language, notices each half's, and a plain string still works."""

from __future__ import annotations

import html
import json
import re

import pytest
from conftest import check_in, make_app
from test_web import AuthActions

from kiosk.config import load_config
from kiosk.notices.render import render
from kiosk.store import SqliteUnitOfWork


def page_text(client, path: str) -> str:
    """What a person reads on the page: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", client.get(path).text))


@pytest.fixture
def admin(client):
    AuthActions(client).login()
    return client


def test_the_sample_names_things_in_both_languages(community):
    names = [community.community.name, community.layout.shelves[0].name,
             community.teams[0].name, community.layout.overflow_name]
    assert [(n, n.in_language("en")) for n in names] == [
        ("示例花园", "Sample Garden"), ("门岗A架", "Gate shelf A"),
        ("居委会", "Residents' committee"), ("B架旁地面暂存区", "Marked floor area beside shelf B")]


def test_pages_show_the_names_in_their_language(admin, conn, community, clock):
    check_in(conn, community, clock, "24-2304")  # shelf A, so its card shows
    chinese = page_text(admin, "/?lang=zh")
    assert "示例花园" in chinese and "门岗A架" in chinese and "门岗B架" in chinese
    assert "Sample Garden" not in chinese and "Gate shelf A" not in chinese
    english = page_text(admin, "/?lang=en")
    assert "Sample Garden" in english and "Gate shelf A" in english
    assert "示例花园" not in english and "门岗A架" not in english
    tasks = page_text(admin, "/tasks?lang=en")
    assert "Residents' committee" in tasks and "Property company" in tasks
    assert "居委会" in page_text(admin, "/tasks?lang=zh")


def test_the_api_keeps_the_community_as_one_string(admin, community):
    body = admin.get("/api/slots").json
    assert body["community"] == "示例花园"  # the default language's: the contract's type


def test_a_plain_string_is_the_name_in_every_language(community, clock):
    text = community.path.read_text(encoding="utf-8")
    community.path.write_text(text.replace('name = { zh = "示例花园", en = "Sample Garden" }',
                                           'name = "Sample Garden 示例花园"'), encoding="utf-8")
    config = load_config(community.path)
    assert config.community.name.in_language("en") == "Sample Garden 示例花园"
    client = make_app(config, clock).test_client()
    AuthActions(client).login()
    for lang in ("zh", "en"):
        assert "Sample Garden 示例花园" in page_text(client, f"/?lang={lang}")


def test_each_half_of_a_notice_names_things_in_its_language(conn, community, clock):
    parcel = check_in(conn, community, clock, "24-2304")
    row = SqliteUnitOfWork(conn).outbox.due(clock.now())[0]
    assert row.parcel_id == parcel.parcel
    body = render(row.kind, json.loads(row.payload), row.recipient,
                  community.community.timezone).body
    chinese, english = body.split("\n\nSlot: ", 1)  # each half leads with its slot line
    assert "到了示例花园的无接触快递架" in chinese and "（门岗A架）" in chinese
    assert "shelf of Sample Garden." in english and "(Gate shelf A)" in english
    assert "Sample Garden" not in chinese and "示例花园" not in english
