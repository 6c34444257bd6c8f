"""Password hashing: argon2id through pwdlib, rehashed on sign-in when parameters change."""

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

_hasher = PasswordHash((Argon2Hasher(),))
# Verified against when the email is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash("conveyor-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """(matches, new hash to store or None). An absent hash still costs one verification."""
    if password_hash is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False, None
    return _hasher.verify_and_update(password, password_hash)
