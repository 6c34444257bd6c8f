"""The user table."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from conveyor.database import Base, TimestampMixin
from conveyor.kit.clock import utcnow


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    USER = "user"


class User(TimestampMixin, Base):
    """A person who signs in: operators and admins of the console, restaurant owners (003)."""

    __tablename__ = "user_account"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    """The email lower-cased: uniqueness and sign-in ignore case."""
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[list[Any]]
    signup_completed: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    phone: Mapped[str | None] = mapped_column(String(30))
    terms_accepted_at: Mapped[datetime | None]

    def has_role(self, role: Role) -> bool:
        return role.value in self.roles


class ApiKey(Base):
    """A machine credential, `cvk_<id>_<secret>`: looked up by id, the secret kept as a hash."""

    __tablename__ = "api_key"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the secret: the secret has 256 random bits, so no slow hash is needed."""
    scopes: Mapped[list[Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    @property
    def active(self) -> bool:
        return self.revoked_at is None
