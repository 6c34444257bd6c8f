"""API key material: `cvk_<id>_<secret>`, with 256 random bits in the secret."""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "cvk"
_FORMAT = re.compile(r"^cvk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class KeyMaterial:
    key_id: str
    secret: str

    @property
    def plaintext(self) -> str:
        return f"{PREFIX}_{self.key_id}_{self.secret}"


def generate() -> KeyMaterial:
    return KeyMaterial(key_id=secrets.token_hex(8), secret=secrets.token_urlsafe(32))


def parse(plaintext: str) -> KeyMaterial | None:
    match = _FORMAT.match(plaintext.strip())
    return KeyMaterial(match.group(1), match.group(2)) if match else None


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest)
