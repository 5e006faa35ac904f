"""Password hashes for staff logins: argon2id from argon2-cffi; only hashes are stored.

The parameters are OWASP's smallest recommended argon2id (19 MiB, 2 passes) on one lane: a
check takes about 25 ms on a PC and 0.1-0.15 s on a Pi 4, and keeps one core busy, never all
four (the kiosk's camera keeps its own). They are written into each hash, so a later change
still verifies old hashes.

Hashes made before argon2 (``pbkdf2_sha256$ROUNDS$SALT$HEX``, from ``shelf hash-password``
for the config's ``[[web.users]]``) still verify; ``needs_rehash`` says so, and a sign-in
that verified one stores the password's argon2 hash instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

ARGON2_PREFIX = "$argon2"
LEGACY_SCHEME = "pbkdf2_sha256"
ITERATIONS = 260_000  # of the legacy PBKDF2 hashes that ``hash_password(iterations=)`` makes
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
MIN_PASSWORD = 8  # characters a staff password needs at least


def hash_password(password: str, iterations: int | None = None, *,
                  hasher: PasswordHasher = HASHER) -> str:
    """The argon2id hash of ``password`` (``hasher``: other parameters, e.g. cheap in tests).

    ``iterations`` makes the hash of before argon2 instead (PBKDF2-SHA256 with that many
    rounds): old configs have them, and tests of the upgrade at sign-in need them.
    """
    if iterations is not None:
        return legacy_hash(password, iterations)
    return hasher.hash(password)


def legacy_hash(password: str, iterations: int = ITERATIONS) -> str:
    """A PBKDF2-SHA256 hash in the format of before argon2; verified, never made by the shelf."""
    salt = secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations).hex()
    return f"{LEGACY_SCHEME}${iterations}${salt}${digest}"


def check_password(stored: str, password: str) -> bool:
    """True when ``password`` matches ``stored``; False for a wrong or malformed hash."""
    if stored.startswith(ARGON2_PREFIX):
        try:
            return HASHER.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
    return _check_legacy(stored, password)


def needs_rehash(stored: str) -> bool:
    """True for a hash of the scheme before argon2: store the argon2 one at the next sign-in.

    An argon2 hash is kept whatever its parameters, so a cheap test hash stays cheap.
    """
    return not stored.startswith(ARGON2_PREFIX)


def is_password_hash(text: str) -> bool:
    """True when ``text`` looks like a hash this module can verify (argon2 or legacy)."""
    if text.startswith(ARGON2_PREFIX):
        return True
    fields = text.split("$")
    return len(fields) == 4 and fields[0] == LEGACY_SCHEME and fields[1].isdigit()


def _check_legacy(stored: str, password: str) -> bool:
    try:
        scheme, iterations, salt, digest = stored.split("$")
        rounds = int(iterations)
    except ValueError:
        return False
    if scheme != LEGACY_SCHEME or not 0 < rounds <= 10_000_000:
        return False
    got = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), rounds).hex()
    return hmac.compare_digest(got, digest)
