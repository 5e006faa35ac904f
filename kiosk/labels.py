"""The shelf's own payloads: parcel labels and pickup passes.

Both are short upper-case ASCII so that the QR code uses alphanumeric mode (small, fast to
read in poor light) and both carry a truncated HMAC, so a forged or misread payload is refused:

    DS1:24-2304:SF1234567:KX3M7Q2B9HZA     parcel label: household, parcel reference, MAC
    DS1:24-2304:TG001:F:KX3M7Q2B9HZA       the same, for fresh food (its door task goes first)
    DP2:1042:483920:Q7LZ2M4XKD3A           pickup pass: code id, pickup code, MAC
    DD1:24-2304:M3QX7KD2LZ4A               door sticker: the household at whose door it is

A pickup pass's MAC covers the household too (``DP2:24-2304:1042:483920``), though the QR
does not show it: a pass opens only the code row it was made for, and only for that row's
household, so a six-digit code drawn again later for another flat is not opened by an old QR.
Its MAC can therefore be checked only with the code's row at hand (``pass_is_for``).

Passes of the first format, ``DP1:483920:MAC``, signed the code alone; they are still read
(their MAC is checked here) and the pickup service accepts one only while its code resolves
unambiguously (see ``kiosk.services``).

A payload is handled as bytes and capped in length before anything else looks at it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import re
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kiosk.domain import HOUSEHOLD_PATTERN, HouseholdId
from kiosk.errors import ForgedLabel, GarbageLabel, UnknownHousehold

if TYPE_CHECKING:
    import segno

MAX_PAYLOAD_BYTES = 96
MAC_CHARS = 12  # 60 bits of base32
LABEL_PREFIX = "DS1"
PASS_PREFIX = "DP2"
LEGACY_PASS_PREFIX = "DP1"
DOOR_PREFIX = "DD1"
FRESH_FLAG = "F"
PICKUP_CODE_DIGITS = 6
REF_RE = re.compile(r"^[0-9A-Z][0-9A-Z.-]{0,23}$")
_LABEL_RE = re.compile(
    rf"^DS1:({HOUSEHOLD_PATTERN}):([0-9A-Z.-]{{1,24}})(?::(F))?:([A-Z2-7]{{12}})$")
_DOOR_RE = re.compile(rf"^DD1:({HOUSEHOLD_PATTERN}):([A-Z2-7]{{12}})$")
_PASS_RE = re.compile(r"^DP2:([1-9][0-9]{0,11}):(\d{6}):([A-Z2-7]{12})$")
_LEGACY_PASS_RE = re.compile(r"^DP1:(\d{6}):([A-Z2-7]{12})$")


@dataclass(frozen=True)
class ParcelLabel:
    household: HouseholdId
    ref: str
    payload: str
    fresh: bool = False  # fresh food: signed into the label (``:F``)


@dataclass(frozen=True)
class PickupPass:
    """A scanned pickup pass. ``code_id`` is None for an old DP1 pass, whose MAC was checked
    when parsed; a DP2 pass's MAC (``mac``) is checked against its code row by ``pass_is_for``.
    """

    code: str
    payload: str
    code_id: int | None = None
    mac: str = field(default="", repr=False)


def _mac(secret: bytes, body: str) -> str:
    digest = hmac.new(secret, body.encode("ascii"), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii")[:MAC_CHARS]


def new_ref() -> str:
    """A parcel reference for labels printed without the carrier's number."""
    return "P" + secrets.token_hex(4).upper()


def make_label(secret: bytes, household: HouseholdId, ref: str | None = None, *,
               fresh: bool = False) -> str:
    """Return the payload of a parcel label for ``household`` (always in its canonical form)."""
    household = HouseholdId.parse(str(household))  # HouseholdId(24, "02304") prints 24-2304
    ref = (ref or new_ref()).strip().upper()
    if not REF_RE.match(ref):
        raise ValueError(
            f"parcel reference {ref!r}: use 1-24 letters, digits, '.' or '-', starting with "
            "a letter or digit")
    body = f"{LABEL_PREFIX}:{household}:{ref}" + (f":{FRESH_FLAG}" if fresh else "")
    return f"{body}:{_mac(secret, body)}"


def new_pickup_code() -> str:
    return f"{secrets.randbelow(10**PICKUP_CODE_DIGITS):0{PICKUP_CODE_DIGITS}d}"


def make_pass(secret: bytes, household: str, code_id: int, code: str) -> str:
    """Return the payload of the pickup QR for the code row ``code_id`` of ``household``."""
    return f"{PASS_PREFIX}:{code_id}:{code}:{_mac(secret, _pass_body(household, code_id, code))}"


def pass_is_for(secret: bytes, pickup_pass: PickupPass, household: str) -> bool:
    """True when a DP2 pass was signed for ``household`` (and its code id and code)."""
    if pickup_pass.code_id is None:
        return False
    expected = _mac(secret, _pass_body(household, pickup_pass.code_id, pickup_pass.code))
    return hmac.compare_digest(expected, pickup_pass.mac)


def _pass_body(household: str, code_id: int, code: str) -> str:
    return f"{PASS_PREFIX}:{household}:{code_id}:{code}"


def parse_payload(data: bytes, secret: bytes) -> ParcelLabel | PickupPass:
    """Identify a scanned payload, or raise GarbageLabel / ForgedLabel."""
    if len(data) > MAX_PAYLOAD_BYTES:
        raise GarbageLabel(f"not a shelf code: {len(data)} bytes is longer than any shelf label")
    try:
        text = data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise GarbageLabel("not a shelf code: it is not plain ASCII") from None
    if match := _LABEL_RE.match(text):
        household, ref, fresh, mac = match.groups()
        _verify(secret, text.rsplit(":", 1)[0], mac)
        try:
            return ParcelLabel(HouseholdId.parse(household), ref, text, fresh=bool(fresh))
        except UnknownHousehold as exc:  # pragma: no cover - the regex admits only valid ids
            raise GarbageLabel(str(exc)) from None
    if match := _PASS_RE.match(text):
        code_id, code, mac = match.groups()
        return PickupPass(code, text, int(code_id), mac)  # checked against its row: pass_is_for
    if match := _LEGACY_PASS_RE.match(text):
        code, mac = match.groups()
        _verify(secret, text.rsplit(":", 1)[0], mac)
        return PickupPass(code, text)
    if text.startswith((LABEL_PREFIX + ":", PASS_PREFIX + ":", LEGACY_PASS_PREFIX + ":")):
        raise ForgedLabel("a shelf code with a damaged or altered body: refused")
    if text.startswith(DOOR_PREFIX + ":"):
        raise GarbageLabel("a door sticker, not a parcel label or pickup pass: it belongs on "
                           "a door")
    raise GarbageLabel("not a shelf label or pickup pass")


def _verify(secret: bytes, body: str, mac: str) -> None:
    if not hmac.compare_digest(_mac(secret, body), mac):
        raise ForgedLabel("the code's signature does not match: forged, or from another community")


def qr_image(payload: str, kind: str = "png", scale: int = 8) -> bytes:
    """Render a payload as a QR code image (``png``, ``pdf`` or ``svg``), at level M: a phone
    shows a pickup pass on its own lit screen, at whatever size its owner zooms to."""
    buffer = io.BytesIO()
    _qr(payload, "m").save(buffer, kind=kind, scale=scale, border=4)
    return buffer.getvalue()


def parcel_label(secret: bytes, household: HouseholdId, ref: str | None = None, *,
                 fresh: bool = False) -> ParcelLabel:
    """The label ``make_label`` makes, with the reference as it went into the payload."""
    payload = make_label(secret, household, ref, fresh=fresh)
    return ParcelLabel(household, payload.split(":")[2], payload, fresh=fresh)


def door_payload(secret: bytes, household: HouseholdId) -> str:
    """The payload of the QR sticker at ``household``'s door: ``DD1:24-2304:MAC``."""
    body = f"{DOOR_PREFIX}:{HouseholdId.parse(str(household))}"
    return f"{body}:{_mac(secret, body)}"


def parse_door(data: bytes | str, secret: bytes) -> HouseholdId:
    """The household whose door sticker this is; GarbageLabel or ForgedLabel when it is none."""
    raw = data.encode("utf-8", "replace") if isinstance(data, str) else data
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise GarbageLabel("not a door sticker: it is longer than any door sticker")
    text = raw.decode("ascii", "replace").strip()
    match = _DOOR_RE.match(text)
    if not match:
        if text.startswith(DOOR_PREFIX + ":"):
            raise ForgedLabel("a door sticker with a damaged or altered body: refused")
        raise GarbageLabel("not a door sticker: scan the QR sticker on the door, or type the "
                           "room")
    _verify(secret, text.rsplit(":", 1)[0], match[2])
    return HouseholdId.parse(match[1])


def qr_modules(payload: str, error: str = "m") -> tuple[tuple[bool, ...], ...]:
    """The QR code of a payload as rows of dark (True) modules, without its quiet zone, at
    error correction level ``error`` (l, m, q, h) or better, for drawing it at any size."""
    return tuple(tuple(bool(module) for module in row) for row in _qr(payload, error).matrix)


def _qr(payload: str, error: str) -> segno.QRCode:
    import segno  # pure Python; imported here so the scanner's hot path never pays for it

    # segno raises the level by itself where the symbol stays the same size (boost_error).
    return segno.make(payload, error=error, micro=False)
