"""Stored times (UTC ISO-8601 text) as people read them: the community's wall-clock."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo


def iso(moment: datetime) -> str:
    """Store times as sortable UTC ISO-8601 text."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def local_time(stored: str, timezone: tzinfo, fmt: str, *, with_zone: bool = False) -> str:
    """Format a stored UTC time in ``timezone``; ``with_zone`` adds ``(Asia/Shanghai)``."""
    local = datetime.fromisoformat(stored).astimezone(timezone)
    text = local.strftime(fmt)
    if with_zone:
        text += f" ({getattr(timezone, 'key', None) or local.tzname()})"
    return text
