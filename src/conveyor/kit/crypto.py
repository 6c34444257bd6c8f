"""Secrets the service must read back (webhook signing secrets, provider credentials),
encrypted at rest with a key derived from `CONVEYOR_SECRET_KEY`.

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) authenticates as well as encrypts, so a
value altered in the database is refused rather than decrypted into garbage. Changing the secret
key makes stored values unreadable: rotate by re-entering them.
"""

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretUnreadable(Exception):
    """A stored secret was encrypted with another key, or altered."""


class SecretBox:
    def __init__(self, secret_key: str, *, purpose: str = "stored-secrets") -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=f"conveyor:{purpose}".encode()
        ).derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except InvalidToken:
            raise SecretUnreadable("stored secret cannot be decrypted with this key") from None
