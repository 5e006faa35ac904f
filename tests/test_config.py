from __future__ import annotations

import re
import subprocess
import sys

import pytest

from kiosk.community import write_sample
from kiosk.config import ProxyTrust, load_config
from kiosk.errors import ConfigError


@pytest.fixture
def sample(tmp_path):
    path, _ = write_sample(tmp_path / "c", "a password")
    return path


def test_the_sample_describes_the_compound_in_the_brief(sample):
    config = load_config(sample)
    assert config.community.buildings == frozenset(range(1, 36))
    teams = {t.id: t for t in config.teams}
    assert teams["committee"].buildings == frozenset(range(29, 36))
    assert teams["property"].buildings == frozenset(range(1, 29))
    assert teams["property"].after_hours_for == ("committee",)
    assert [s.id for s in config.layout.shelves] == ["A", "B"]
    assert config.layout.shelves[1].leds == "74hc595"
    assert len(config.layout.slots) == 28
    assert config.database == sample.parent / "shelf.db"
    assert config.layout.overflow.overflow and config.layout.overflow.code == "FLOOR"
    assert config.channels[0].type == "email"


def edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, f"the sample no longer contains {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("old, new, message", [
    ('buildings = "1-35"', 'buidings = "1-35"',
     r"\[community\] is missing the key 'buildings' .*; is 'buidings' a typo for it\?"),
    ('name = { zh = "示例', 'nmae = { zh = "示例', r"missing the key 'name' .* is 'nmae' a typo"),
    ('en = "Sample Garden"', 'eng = "Sample Garden"',
     r"\[community\] name: 'eng' is not a language the site speaks \(is 'eng' a typo for "
     r"'en'\?\); allowed: zh, en"),
    ('zh = "居委会"', 'cn = "居委会"',
     r"\[teams #1\] name: 'cn' is not a language .*allowed: zh, en"),
    ('en = "Gate shelf B"', 'en = ""', r"\[shelves #2\] name.en = '': must be a name, not empty"),
    ('name = { zh = "B架旁', 'name = 7 #', r"\[overflow\] name = 7: must be a string, or one per "
     r"language like \{ zh = "),
    ("buzzer_pin = 18", "buzzer_pin = 40", r"buzzer_pin = 40: allowed range is 0 to 27"),
    ("buzzer_pin = 18", "buzzer_pin = 1", r"buzzer_pin = 1: allowed GPIO pins are 2 to 27"),
    ("starttls = false", "starttls = false\nstarttsl = true", r"unknown key 'starttsl'"),
    ('led = 5\n', 'led = 44\n', r"\[shelves.slots #1\] led = 44: allowed range is 2 to 27"),
    ('led = 5\n', 'led = 17\n', r"GPIO 17 is used twice"),
    ('led = 5\n', 'led = "five"\n', r"led = 'five': must be a whole number"),
    ('buildings = "29-35"', 'buildings = "29-36"', r"building\(s\) \[36\] are not in"),
    ('language = "zh"', 'language = "fr"', r"language = 'fr': allowed values are 'zh', 'en'"),
    ('camera = "device:0"', 'camera = "/dev/video0"', r"allowed forms are device:0"),
    ('camera = "device:0"', 'camera = "picamera2:one"', r"allowed forms are device:0, picamera2"),
    ("camera_freeze_seconds = 5", "camera_freeze_seconds = 0",
     r"\[kiosk\] camera_freeze_seconds = 0: allowed range is 0.5 to 300"),
    ("camera_freeze_seconds = 5", "camera_freeze_secs = 5", r"unknown key 'camera_freeze_secs'"),
    ('replay = "once"', 'replay = "forever"',
     r"\[kiosk\] replay = 'forever': allowed values are 'once', 'loop'"),
    ('hours = "08:30-17:30"', 'hours = "8.30-17.30"', r"expected HH:MM-HH:MM"),
    ('code = "A-02"', 'code = "A-01"', r"'A-01' appears twice"),
    ('capacity = 4', 'capacity = 0', r"capacity = 0: allowed range is 1 to 50"),
    ('type = "email"', 'type = "pigeon"', r"type = 'pigeon': allowed values are 'email'"),
    ('[overflow]', '[overflw]', r"unknown key 'overflw'|missing the section \[overflow\]"),
    ('timezone = "Asia/Shanghai"', 'timezone = "Mars/Base"', r"not an IANA zone"),
    ("window_minutes = 15", "window_minutes = 7",
     r"\[pickup\] window_minutes = 7 is too short: a guesser who waits that long .* more than "
     r"one code every max_wait_seconds \(60 s\); use at least 8"),
    ("max_wait_seconds = 60", "max_wait_seconds = 5",
     r"\[pickup\] max_wait_seconds = 5: allowed range is 10 to 900"),
    ("ask_room_from = 200", "ask_room_from = -1", r"ask_room_from = -1: allowed range is 0 to"),
    ('trusted_proxy = ""', 'trusted_proxy = "nginx"',
     r"\[web\] trusted_proxy: 'nginx' is not an IP address"),
    ('trusted_proxy = ""', 'trusted_proxy = ""\ntrusted_proxy_count = 2',
     r"\[web\] trusted_proxy_count means nothing without trusted_proxy"),
    ('trusted_proxy = ""', 'trusted_proxy = "127.0.0.1"\ntrusted_proxy_count = 0',
     r"\[web\] trusted_proxy_count = 0: allowed range is 1 to 5"),
    ('trusted_proxy = ""', 'trusted_proxy = "127.0.0.1"\ntrusted_proxy_headers = ["x-real-ip"]',
     r"trusted_proxy_headers: 'x-real-ip' is not one of x-forwarded-for, x-forwarded-proto"),
    ('trusted_proxy = ""',
     'trusted_proxy = "127.0.0.1"\ntrusted_proxy_headers = ["forwarded", "x-forwarded-for"]',
     r"forwarded and the x-forwarded-\* headers say the same things"),
    ('trusted_proxy = ""', 'trusted_proxy = "127.0.0.1"\ntrusted_proxy_headers = '
     '["x-forwarded-proto"]', r"must name x-forwarded-for \(or forwarded\)"),
    ('trusted_proxy = ""', 'trusted_proxy = "127.0.0.1"\ntrusted_proxies = 1',
     r"trusted_proxies is replaced by trusted_proxy and trusted_proxy_count: remove it"),
])
def test_a_mistake_is_refused_naming_the_key_and_what_is_allowed(sample, old, new, message):
    edit(sample, old, new)
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(sample)
    assert str(sample) in str(caught.value)


TOKEN = "\n[[web.tokens]]\nname = \"sf-bot\"\ntoken = \"Kq3vX9pL2mZ8rT5wY7bN4cJ6hF1dG0sA\"\n"


def add_token(sample, lines: str) -> None:
    with open(sample, "a", encoding="utf-8") as config:
        config.write(TOKEN + lines)


def test_a_token_is_named_and_scoped_to_buildings_and_carriers(sample):
    add_token(sample, 'buildings = "24-26"\ncarriers = ["sf", "JD"]\n')
    tools, bot = load_config(sample).web.tokens
    assert (tools.name, tools.scope.buildings, tools.scope.carriers) == (
        "tools", frozenset(range(1, 36)), ())  # `shelf init` writes one for the compound
    assert (bot.name, bot.scope.buildings, bot.scope.carriers, bot.legacy) == (
        "sf-bot", frozenset({24, 25, 26}), ("SF", "JD"), False)
    assert "Kq3v" not in repr(bot)  # a secret is never in a repr (logs, tracebacks)


@pytest.mark.parametrize("lines, message", [
    ('buildngs = "24"\n', r"\[web.tokens #2\] is missing the key 'buildings' \(buildings like "
     r"\"1-28,30\" or \[1, 2\]\); is 'buildngs' a typo for it\?"),
    ('buildings = "24-40"\n', r"\[web.tokens #2\] buildings: building\(s\) \[36, 37, 38, 39, "
     r"40\] are not in \[community\] buildings"),
    ('buildings = "24"\ncarriers = "SF"\n', r"\[web.tokens #2\] carriers = 'SF': must be a list"),
    ('buildings = "24"\ncarriers = ["S F"]\n', r"\[web.tokens #2\] carriers: 'S F' is not the "
     r"start of a tracking number; write 1-10 letters or digits"),
    ('buildings = "24"\ncarrier = ["SF"]\n', r"\[web.tokens #2\] has unknown key 'carrier'; "
     r"allowed keys: buildings, carriers, name, token"),
    ('buildings = "24"\n' + TOKEN.replace("sf-bot", "tools") + 'buildings = "24"\n',
     r"\[\[web.tokens\]\]: 'tools' appears twice"),
    ('buildings = "24"\n' + TOKEN.replace("sf-bot", "other") + 'buildings = "24"\n',
     r"two tokens have the same secret"),
])
def test_a_token_mistake_names_the_key_and_what_is_allowed(sample, lines, message):
    add_token(sample, lines)
    with pytest.raises(ConfigError, match=message):
        load_config(sample)


def test_a_token_name_is_a_short_word(sample):
    edit(sample, 'name = "tools"', 'name = "Group Buy"')
    with pytest.raises(ConfigError, match=r"\[web.tokens #1\] name = 'Group Buy': 1-32 "
                       r"lower-case letters, digits"):
        load_config(sample)


def test_older_api_tokens_still_work_for_everything_named_by_their_place(sample):
    edit(sample, "cookie_secure = false", 'cookie_secure = false\napi_tokens = '
         '["Zr8pQ2xW5kV9mN3bT7yL1cH6gF4dS0aJ"]')
    old, tools = load_config(sample).web.tokens
    assert (old.name, old.legacy, old.scope.buildings, old.scope.carriers) == (
        "api-1", True, None, ())
    assert tools.name == "tools" and not tools.legacy


def test_a_csi_camera_and_the_freeze_time_are_read(sample):
    assert load_config(sample).kiosk.camera_freeze_s == 5.0
    edit(sample, 'camera = "device:0"', 'camera = "picamera2:1"')
    edit(sample, "camera_freeze_seconds = 5", "camera_freeze_seconds = 2.5")
    kiosk = load_config(sample).kiosk
    assert (kiosk.camera, kiosk.camera_freeze_s) == ("picamera2:1", 2.5)  # not a file path


def test_a_replay_plays_once_unless_it_loops(sample):
    assert load_config(sample).kiosk.replay == "once"
    edit(sample, 'replay = "once"', 'replay = "loop"')
    assert load_config(sample).kiosk.replay == "loop"


def test_a_pickup_section_of_before_reads_as_the_keypads_new_rules(sample):
    """Written before the keypad slowed guessers with short waits: the same two keys now say
    how many wrong codes come free and when a run starts afresh; the rest is defaulted."""
    edit(sample, "max_wait_seconds = 60", "")
    edit(sample, "ask_room_from = 200", "")
    pickup = load_config(sample).pickup
    assert (pickup.max_failures, pickup.window_s, pickup.max_wait_s, pickup.ask_room_from) == (
        5, 900, 60, 200)


def test_an_old_web_users_entry_with_an_unknown_role_is_refused(sample):
    """[[web.users]] of before are still read (and copied into the store): still checked."""
    with open(sample, "a", encoding="utf-8") as config:
        config.write('\n[[web.users]]\nusername = "li"\nrole = "boss"\n'
                     'password_hash = "pbkdf2_sha256$1000$salt$00"\n')
    with pytest.raises(ConfigError, match=r"role = 'boss': allowed values are admin \(管理员\), "
                                          r"committee \(居委会\), property \(物业\)$"):
        load_config(sample)


def test_short_label_secret_is_refused(sample):
    text = sample.read_text()
    text = re.sub(r'secret = "[^"]*"', 'secret = "short"', text, count=1)
    sample.write_text(text)
    with pytest.raises(ConfigError, match=r"\[labels\] secret must be at least 32 bytes"):
        load_config(sample)


def test_not_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[community\nname = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "absent.toml")


def test_the_command_refuses_a_broken_config_at_start(sample):
    edit(sample, "buzzer_pin = 18", "buzer_pin = 18")
    done = subprocess.run([sys.executable, "-m", "kiosk.app", "--config", str(sample), "label",
                           "--household", "24-2304"], capture_output=True, text=True)
    assert done.returncode == 2
    assert "[kiosk] has unknown key 'buzer_pin'" in done.stderr
    assert done.stdout == ""


def test_commands_take_the_config_from_the_environment(community, monkeypatch):
    monkeypatch.setenv("SHELF_CONFIG", str(community.path))  # label needs the household list
    done = subprocess.run([sys.executable, "-m", "kiosk.app", "label", "--household", "24-2304"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("DS1:24-2304:")
    monkeypatch.delenv("SHELF_CONFIG")
    done = subprocess.run([sys.executable, "-m", "kiosk.app", "label", "--household", "24-2304"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "SHELF_CONFIG" in done.stderr


def test_the_proxy_is_trusted_as_configured(sample):
    assert load_config(sample).web.proxy == ProxyTrust()  # none unless named
    edit(sample, 'trusted_proxy = ""', 'trusted_proxy = "::1"\ntrusted_proxy_count = 2\n'
         'trusted_proxy_headers = ["X-Forwarded-For", "x-forwarded-proto", "x-forwarded-host"]')
    assert load_config(sample).web.proxy == ProxyTrust(
        "::1", 2, ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"))


@pytest.mark.parametrize("hops", [1, 2])
def test_the_proxy_setting_of_before_is_read_with_a_warning(sample, caplog, hops):
    """`trusted_proxies = N` (ProxyFix's hops, which waitress never passed on): the proxy could
    only be on this machine (shelf-web.service allows loopback alone)."""
    edit(sample, 'trusted_proxy = ""', f"trusted_proxies = {hops}")
    assert load_config(sample).web.proxy == ProxyTrust("127.0.0.1", hops)
    assert (f'trusted_proxies = {hops} is read as trusted_proxy = "127.0.0.1" and '
            f"trusted_proxy_count = {hops}: write those instead") in caplog.text
    edit(sample, f"trusted_proxies = {hops}", "trusted_proxies = 0")
    assert load_config(sample).web.proxy == ProxyTrust()
