"""[community] id, [gate] and [centre]: a gate of a compound, or its centre; checked as read."""

from __future__ import annotations

import pytest

from kiosk.community import write_sample
from kiosk.config import load_config
from kiosk.errors import ConfigError

TOKEN = "g" * 10 + "4Fq9-Zx81LmNb2Vc7Yt0Ws6Rk3Pj5Hd"
GATE = f"""
[gate]
id = "north"
name = {{ zh = "北门", en = "North gate" }}

[centre]
url = "https://centre.example.org/"
token = "{TOKEN}"
sync_seconds = 5
"""
CENTRE = """
[centre]
database = "postgresql://shelf:pw@localhost/shelf"
"""


@pytest.fixture
def sample(tmp_path):
    path, _ = write_sample(tmp_path / "c", "a password")
    return path


def with_text(path, extra: str, community_id: str | None = 'id = "xujiahui-garden"'):
    text = path.read_text(encoding="utf-8")
    if community_id:
        text = text.replace('[community]\n', f'[community]\n{community_id}\n', 1)
    path.write_text(text + extra, encoding="utf-8")
    return path


def test_without_centre_nothing_changes(sample):
    config = load_config(sample)
    assert config.centre is None and config.gate is None and config.community.id == ""


def test_a_gate_of_a_compound(sample):
    config = load_config(with_text(sample, GATE))
    assert config.community.id == "xujiahui-garden"
    assert config.gate.id == "north" and config.gate.name.in_language("en") == "North gate"
    assert config.centre.url == "https://centre.example.org"  # one way to write it
    assert config.centre.token == TOKEN and config.centre.sync_s == 5
    assert not config.centre.is_centre
    assert TOKEN not in repr(config)  # never in a log line that prints the config


def test_the_centre_needs_no_shelves_of_its_own(sample):
    text = sample.read_text(encoding="utf-8")
    text = text[:text.index("# Shelf A")] + text[text.index("[[channels]]"):]
    sample.write_text(text, encoding="utf-8")
    config = load_config(with_text(sample, CENTRE))
    assert config.centre.is_centre and config.layout.slots == () and config.centre.url == ""
    assert "pw" not in repr(config.centre)


@pytest.mark.parametrize("extra, community_id, message", [
    (GATE, None, r"\[community\] id is missing: with \[centre\]"),
    (GATE, 'id = "Xujiahui Garden"', r"\[community\] id = 'Xujiahui Garden': a stable slug"),
    (GATE.replace('id = "north"', 'id = "North"'), 'id = "x"', r"\[gate\] id = 'North'"),
    (GATE.replace("[gate]\nid", "[gate]\nidd"), 'id = "x"',
     r"\[gate\] is missing the key 'id' .*is 'idd' a typo"),
    (GATE.replace("sync_seconds", "sync_second"), 'id = "x"',
     r"\[centre\] has unknown key 'sync_second'; allowed keys: database, journal_days, "
     r"sync_seconds, timeout_seconds, token, url"),
    (GATE.replace("sync_seconds = 5", "sync_seconds = 0"), 'id = "x"',
     r"sync_seconds = 0: allowed range is 1 to 3600"),
    (GATE.replace("https://centre", "ftp://centre"), 'id = "x"',
     r"\[centre\] url = 'ftp://centre.example.org/': the centre's address"),
    (GATE.replace(f'token = "{TOKEN}"', 'token = "short"'), 'id = "x"',
     r"\[centre\] token must be at least 32 bytes"),
    (GATE.replace(f'token = "{TOKEN}"\n', ""), 'id = "x"', r"missing the key 'token'"),
    (GATE.split("[centre]")[0], 'id = "x"', r"\[gate\] needs a \[centre\] section"),
    ("\n[centre]\nsync_seconds = 3\n", 'id = "x"', r"give either url and token .* or database"),
    (GATE + 'database = "postgresql://x@y/z"\n', 'id = "x"', r"not both"),
    (CENTRE + 'url = "centre.example.org"\n', 'id = "x"', r"url = 'centre.example.org': the"),
    (CENTRE.replace("postgresql:", "mysql:"), 'id = "x"',
     r"\[centre\] database = 'mysql://shelf:\*\*\*@localhost/shelf': a PostgreSQL URL"),
    (CENTRE + GATE.split("[centre]")[0], 'id = "x"', r"\[gate\] is a gate's section"),
])
def test_a_mistake_names_the_key_and_what_is_allowed(sample, extra, community_id, message):
    with pytest.raises(ConfigError, match=message) as refused:
        load_config(with_text(sample, extra, community_id))
    assert "shelf:pw@" not in str(refused.value)  # a password in the URL is never shown
