"""Staff sign-in under attack: floods, lockouts, huge inputs, copied cookies, weak secrets."""

from __future__ import annotations

import re

import pytest

from kiosk.community import write_sample
from kiosk.config import load_config
from kiosk.errors import ConfigError

# --- 5. weak or sample secrets are refused ---------------------------------------------------

@pytest.fixture
def sample(tmp_path):
    path, _ = write_sample(tmp_path / "c", "a password")
    return path


def _set(path, pattern: str, line: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert re.search(pattern, text, re.M), pattern
    path.write_text(re.sub(pattern, line, text, count=1, flags=re.M), encoding="utf-8")


@pytest.mark.parametrize(("pattern", "line", "key"), [
    (r'^secret_key = .*$', 'secret_key = "x"', r"\[web\] secret_key"),
    (r'^secret_key = .*$', 'secret_key = ""', r"\[web\] secret_key"),
    (r'^secret_key = .*$', 'secret_key = "$web_secret"', r"\[web\] secret_key"),
    (r'^secret_key = .*$', 'secret_key = "change-me-to-something-long-and-random"',
     r"\[web\] secret_key"),
    (r'^secret_key = .*$', 'secret_key = "' + "ab" * 20 + '"', r"\[web\] secret_key"),
    (r'^secret = .*$', 'secret = "$label_secret"', r"\[labels\] secret"),
    (r'^secret = .*$', 'secret = "sixteen-chars-ok"', r"\[labels\] secret"),
    (r'^api_tokens = .*$', 'api_tokens = ["a-token-of-twenty-chars"]', r"\[web\] api_tokens"),
])
def test_a_weak_secret_is_refused_saying_how_to_make_one(sample, pattern, line, key):
    _set(sample, pattern, line)
    with pytest.raises(ConfigError, match=key) as caught:
        load_config(sample)
    assert "secrets.token_urlsafe(32)" in str(caught.value)


def test_shelf_init_writes_secrets_that_pass(tmp_path):
    for n in range(3):  # random every time: none may fall foul of the rules by chance
        path, _ = write_sample(tmp_path / f"c{n}", "a password")
        config = load_config(path)
        assert len(config.web.secret_key) >= 32 and len(config.label_secret) >= 32
