"""The shelf's own payloads: parcel labels and pickup passes.

Both are short upper-case ASCII so that the QR code uses alphanumeric mode (small, fast to
read in poor light) and both carry a truncated HMAC, so a forged or misread payload is refused:

    DS1:24-2304:SF1234567:KX3M7Q2B9HZA     parcel label: household, parcel reference, MAC
    DP1:483920:Q7LZ2M4XKD3A                pickup pass: pickup code, MAC

A payload is handled as bytes and capped in length before anything else looks at it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import re
import secrets
from dataclasses import dataclass

from kiosk.domain import HOUSEHOLD_PATTERN, HouseholdId
from kiosk.errors import ForgedLabel, GarbageLabel, UnknownHousehold

MAX_PAYLOAD_BYTES = 96
MAC_CHARS = 12  # 60 bits of base32
LABEL_PREFIX = "DS1"
PASS_PREFIX = "DP1"
PICKUP_CODE_DIGITS = 6
REF_RE = re.compile(r"^[0-9A-Z][0-9A-Z.-]{0,23}$")
_LABEL_RE = re.compile(rf"^DS1:({HOUSEHOLD_PATTERN}):([0-9A-Z.-]{{1,24}}):([A-Z2-7]{{12}})$")
_PASS_RE = re.compile(r"^DP1:(\d{6}):([A-Z2-7]{12})$")


@dataclass(frozen=True)
class ParcelLabel:
    household: HouseholdId
    ref: str
    payload: str


@dataclass(frozen=True)
class PickupPass:
    code: str
    payload: str


def _mac(secret: bytes, body: str) -> str:
    digest = hmac.new(secret, body.encode("ascii"), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii")[:MAC_CHARS]


def new_ref() -> str:
    """A parcel reference for labels printed without the carrier's number."""
    return "P" + secrets.token_hex(4).upper()


def make_label(secret: bytes, household: HouseholdId, ref: str | None = None) -> str:
    """Return the payload of a parcel label for ``household``."""
    ref = (ref or new_ref()).strip().upper()
    if not REF_RE.match(ref):
        raise ValueError(
            f"parcel reference {ref!r}: use 1-24 letters, digits, '.' or '-', starting with "
            "a letter or digit")
    body = f"{LABEL_PREFIX}:{household}:{ref}"
    return f"{body}:{_mac(secret, body)}"


def new_pickup_code() -> str:
    return f"{secrets.randbelow(10**PICKUP_CODE_DIGITS):0{PICKUP_CODE_DIGITS}d}"


def make_pass(secret: bytes, code: str) -> str:
    """Return the payload of the pickup QR for a pickup code."""
    body = f"{PASS_PREFIX}:{code}"
    return f"{body}:{_mac(secret, body)}"


def parse_payload(data: bytes, secret: bytes) -> ParcelLabel | PickupPass:
    """Identify a scanned payload, or raise GarbageLabel / ForgedLabel."""
    if len(data) > MAX_PAYLOAD_BYTES:
        raise GarbageLabel(f"not a shelf code: {len(data)} bytes is longer than any shelf label")
    try:
        text = data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise GarbageLabel("not a shelf code: it is not plain ASCII") from None
    if match := _LABEL_RE.match(text):
        household, ref, mac = match.groups()
        _verify(secret, text.rsplit(":", 1)[0], mac)
        try:
            return ParcelLabel(HouseholdId.parse(household), ref, text)
        except UnknownHousehold as exc:  # pragma: no cover - the regex admits only valid ids
            raise GarbageLabel(str(exc)) from None
    if match := _PASS_RE.match(text):
        code, mac = match.groups()
        _verify(secret, text.rsplit(":", 1)[0], mac)
        return PickupPass(code, text)
    if text.startswith((LABEL_PREFIX + ":", PASS_PREFIX + ":")):
        raise ForgedLabel("a shelf code with a damaged or altered body: refused")
    raise GarbageLabel("not a shelf label or pickup pass")


def _verify(secret: bytes, body: str, mac: str) -> None:
    if not hmac.compare_digest(_mac(secret, body), mac):
        raise ForgedLabel("the code's signature does not match: forged, or from another community")


def qr_image(payload: str, kind: str = "png", scale: int = 8) -> bytes:
    """Render a payload as a QR code image (``png``, ``pdf`` or ``svg``)."""
    import segno  # pure Python; imported here so the scanner's hot path never pays for it

    buffer = io.BytesIO()
    segno.make(payload, error="m", micro=False).save(buffer, kind=kind, scale=scale, border=4)
    return buffer.getvalue()
