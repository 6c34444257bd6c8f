"""Users: create, sign in, sign up, complete sign-up; and the tokens they sign in with."""

import uuid
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from conveyor.auth import keys, passwords, repository, tokens
from conveyor.auth.models import ApiKey, Role, User
from conveyor.errors import AuthenticationError, ConflictError, NotFoundError, ValidationError
from conveyor.kit.clock import utcnow

SIGN_IN_FAILED = "Incorrect email or password"


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    name: str,
    roles: Iterable[Role] = (Role.USER,),
    signup_completed: bool = False,
) -> User:
    """A new user; the email must not be taken, whatever its case."""
    email = email.strip()
    if await repository.get_by_email(session, email) is not None:
        raise ConflictError(f"A user with email {email} already exists", code="EMAIL_TAKEN")
    user = User(
        email=email,
        email_key=email.lower(),
        name=name.strip() or email,
        password_hash=passwords.hash_password(password),
        roles=sorted({role.value for role in roles}),
        signup_completed=signup_completed,
        active=True,
    )
    return await repository.add(session, user)


async def find_user(session: AsyncSession, email: str) -> User | None:
    """The user with this email, whatever its case."""
    return await repository.get_by_email(session, email)


async def authenticate(session: AsyncSession, *, email: str, password: str) -> User:
    """The active user with these credentials; one answer, one cost, for every failure."""
    user = await repository.get_by_email(session, email)
    matches, new_hash = passwords.verify(password, user.password_hash if user else None)
    if user is None or not matches or not user.active:
        raise AuthenticationError(SIGN_IN_FAILED, headers={"WWW-Authenticate": "Bearer"})
    if new_hash is not None:
        user.password_hash = new_hash
        await session.flush()
    return user


async def complete_signup(
    session: AsyncSession, user_id: uuid.UUID, *, phone: str, accepted_terms: bool
) -> User:
    user = await get_active(session, user_id)
    if not accepted_terms:
        raise ValidationError("accepted_terms: the terms must be accepted to complete sign-up")
    user.phone = phone.strip()
    user.terms_accepted_at = utcnow()
    user.signup_completed = True
    await session.flush()
    return user


async def get_active(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await repository.get(session, user_id)
    if user is None or not user.active:
        raise AuthenticationError(
            "The signed-in user no longer exists or is disabled",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


def issue_token(user: User, *, secret: str, lifetime: timedelta) -> str:
    return tokens.issue(str(user.id), secret=secret, lifetime=lifetime)


def user_id_from_token(token: str, *, secret: str) -> uuid.UUID:
    try:
        return uuid.UUID(tokens.subject_of(token, secret=secret))
    except (tokens.InvalidToken, ValueError):
        raise AuthenticationError(
            "The bearer token is invalid or expired", headers={"WWW-Authenticate": "Bearer"}
        ) from None


list_users = repository.list_users


# A key's last use is recorded at most this often, so polling clients do not write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
INVALID_API_KEY = "The API key is missing, malformed, revoked or unknown"


async def create_api_key(
    session: AsyncSession, *, name: str, scopes: Iterable[str] = ()
) -> tuple[ApiKey, str]:
    """A new key and its plaintext, which is shown once and never stored."""
    material = keys.generate()
    api_key = ApiKey(
        id=material.key_id,
        name=name.strip(),
        secret_hash=keys.digest(material.secret),
        scopes=sorted(set(scopes)),
        created_at=utcnow(),
    )
    await repository.add_api_key(session, api_key)
    return api_key, material.plaintext


async def authenticate_api_key(session: AsyncSession, plaintext: str | None) -> ApiKey:
    """The active key for this header value; every failure gives the same answer.

    Reads only, so callers can check a key in a read session (see `record_api_key_use`).
    """
    material = keys.parse(plaintext or "")
    api_key = await repository.get_api_key(session, material.key_id) if material else None
    stored = api_key.secret_hash if api_key else keys.digest("")
    valid = keys.matches(material.secret if material else "-", stored)
    if api_key is None or not valid or not api_key.active:
        raise AuthenticationError(INVALID_API_KEY)
    return api_key


def needs_use_recorded(api_key: ApiKey) -> bool:
    """Whether the key's last use is older than the resolution at which it is kept."""
    last = api_key.last_used_at
    return last is None or utcnow() - last >= LAST_USED_RESOLUTION


async def record_api_key_use(session: AsyncSession, key_id: str) -> None:
    """Set the key's last use to now, unless another request already did within a minute."""
    now = utcnow()
    await repository.touch_api_key(
        session, key_id, now=now, unless_after=now - LAST_USED_RESOLUTION
    )


async def revoke_api_key(session: AsyncSession, key_id: str) -> ApiKey:
    api_key = await repository.get_api_key(session, key_id)
    if api_key is None:
        raise NotFoundError(f"API key {key_id} not found")
    if api_key.revoked_at is None:
        api_key.revoked_at = utcnow()
        await session.flush()
    return api_key


list_api_keys = repository.list_api_keys
