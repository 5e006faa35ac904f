"""Password hashes for staff logins (PBKDF2-SHA256, salted); only hashes are stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets

ITERATIONS = 260_000


def hash_password(password: str, iterations: int = ITERATIONS) -> str:
    salt = secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations).hex()
    return f"pbkdf2_sha256${iterations}${salt}${digest}"


def check_password(stored: str, password: str) -> bool:
    """True when ``password`` matches ``stored``; False for a wrong or malformed hash."""
    try:
        scheme, iterations, salt, digest = stored.split("$")
        rounds = int(iterations)
    except ValueError:
        return False
    if scheme != "pbkdf2_sha256":
        return False
    got = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), rounds).hex()
    return hmac.compare_digest(got, digest)
