"""One table of the configuration's TOML file, read with typed getters that refuse bad values.

Below ``kiosk.config`` so that whatever reads a table of its own (a channel type reading its
``[[channels]]`` options) needs the reader, not the configuration that calls it.
"""

from __future__ import annotations

import difflib
from typing import Any

from kiosk.domain import parse_buildings
from kiosk.errors import ConfigError

MISSING = object()


class Section:
    """One table of the TOML file; typed getters that refuse with the key's full name."""

    def __init__(self, source: str, name: str, data: Any) -> None:
        self.source, self.name = source, name
        if not isinstance(data, dict):
            self.fail(f"[{name}] must be a table, not {type(data).__name__}")
        self.data: dict[str, Any] = data
        self.used: set[str] = set()

    def fail(self, message: str) -> None:
        raise ConfigError(f"{self.source}: {message}")

    def _get(self, key: str, default: Any, kinds: tuple[type, ...], what: str) -> Any:
        self.used.add(key)
        value = self.data.get(key, default)
        if value is MISSING:
            near = difflib.get_close_matches(key, [k for k in self.data if k not in self.used])
            typo = f"; is '{near[0]}' a typo for it?" if near else ""
            self.fail(f"[{self.name}] is missing the key '{key}' ({what}){typo}")
        if value is not default or default is not None:
            if isinstance(value, bool) and bool not in kinds:
                self.fail(f"[{self.name}] {key} = {value!r}: must be {what}")
            if not isinstance(value, kinds):
                self.fail(f"[{self.name}] {key} = {value!r}: must be {what}")
        return value

    def str(self, key: str, default: Any = MISSING, *, choices: tuple[str, ...] = ()) -> str:
        what = "one of " + ", ".join(repr(c) for c in choices) if choices else "a string"
        value = self._get(key, default, (str,), what)
        if choices and value not in choices:
            self.fail(f"[{self.name}] {key} = {value!r}: allowed values are {what[7:]}")
        return value

    def int(self, key: str, default: Any = MISSING, *, minval: int, maxval: int) -> int:
        value = self._get(key, default, (int,), f"a whole number from {minval} to {maxval}")
        if not minval <= value <= maxval:
            self.fail(f"[{self.name}] {key} = {value}: allowed range is {minval} to {maxval}")
        return value

    def float(self, key: str, default: Any = MISSING, *, minval: float, maxval: float) -> float:
        value = self._get(key, default, (int, float), f"a number from {minval} to {maxval}")
        if not minval <= value <= maxval:
            self.fail(f"[{self.name}] {key} = {value}: allowed range is {minval} to {maxval}")
        return float(value)

    def bool(self, key: str, default: Any = MISSING) -> bool:
        return self._get(key, default, (bool,), "true or false")

    def list(self, key: str, default: Any = MISSING) -> list[Any]:
        return self._get(key, default, (list,), "a list")

    def buildings(self, key: str, known: frozenset[int] | None, default: Any = MISSING):
        value = self._get(key, default, (str, list), 'buildings like "1-28,30" or [1, 2]')
        try:
            result = parse_buildings(value)
        except (TypeError, ValueError) as exc:
            self.fail(f"[{self.name}] {key} = {value!r}: {exc}")
        if known is not None and not result <= known:
            extra = sorted(result - known)
            self.fail(f"[{self.name}] {key}: building(s) {extra} are not in [community] buildings")
        return result

    def tables(self, key: str, required: bool = True) -> list[Section]:
        self.used.add(key)
        value = self.data.get(key, [] if not required else MISSING)
        if value is MISSING or (required and not value):
            self.fail(f"[{self.name}] needs at least one [[{self.child(key)}]] table")
        if not isinstance(value, list):
            self.fail(f"[{self.name}] {key} must be a list of tables ([[{self.child(key)}]])")
        return [Section(self.source, f"{self.child(key)} #{i + 1}", v) for i, v in enumerate(value)]

    def table(self, key: str, required: bool = True) -> Section:
        self.used.add(key)
        value = self.data.get(key, {} if not required else MISSING)
        if value is MISSING:
            self.fail(f"missing the section [{self.child(key)}]")
        return Section(self.source, self.child(key), value)

    def child(self, key: str) -> str:
        base = self.name.split(" #")[0]
        return key if base == "top level" else f"{base}.{key}"

    def done(self) -> None:
        """Refuse keys nobody read: a typo must not be silently ignored."""
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            allowed = ", ".join(sorted(self.used))
            self.fail(f"[{self.name}] has unknown key '{unknown[0]}'; allowed keys: {allowed}")
