"""The database and the files fail safe: no fresh empty store by accident, private files, and a
clear word (not a traceback) for a full disk or a damaged file, with the kiosk still running."""

from __future__ import annotations

import pytest

from kiosk.config import load_config
from kiosk.errors import ConfigError

# --- the configuration's encoding ----------------------------------------------------------

def test_a_config_saved_with_a_bom_loads(community):
    text = community.path.read_text(encoding="utf-8")
    community.path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert load_config(community.path).community.name == "Sample Garden 示例花园"


@pytest.mark.parametrize("encoding", ["gbk", "utf-16"])
def test_a_config_not_in_utf8_is_refused_with_what_to_do(community, encoding):
    text = community.path.read_text(encoding="utf-8")
    community.path.write_bytes(text.encode(encoding))
    with pytest.raises(ConfigError) as refused:
        load_config(community.path)
    assert str(refused.value).startswith(f"{community.path}: not UTF-8")
    assert str(refused.value).endswith("save it as UTF-8")
