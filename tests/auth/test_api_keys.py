"""API keys: shown once, stored as a hash, checked in constant time, revocable."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from conveyor.auth import keys, service
from conveyor.auth.models import ApiKey
from conveyor.database import Database
from conveyor.errors import AuthenticationError, NotFoundError


async def test_a_key_authenticates_until_it_is_revoked(database: Database) -> None:
    async with database.transaction() as session:
        created, plaintext = await service.create_api_key(
            session, name="reports frontend", scopes=["reports", "reports"]
        )
    assert plaintext.startswith(f"cvk_{created.id}_")
    assert len(plaintext.split("_", 2)[2]) == 43  # 256 bits, base64url (may contain "_")
    async with database.read() as session:
        stored = (await session.execute(select(ApiKey))).scalar_one()
    assert stored.scopes == ["reports"]
    assert plaintext.split("_", 2)[2] not in stored.secret_hash
    assert stored.secret_hash == keys.digest(plaintext.split("_", 2)[2])

    async with database.transaction() as session:
        found = await service.authenticate_api_key(session, plaintext)
    assert found.id == created.id

    async with database.transaction() as session:
        await service.revoke_api_key(session, created.id)
    async with database.transaction() as session:
        with pytest.raises(AuthenticationError):
            await service.authenticate_api_key(session, plaintext)


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda key: None, id="missing"),
        pytest.param(lambda key: "", id="empty"),
        pytest.param(lambda key: "Bearer " + key, id="wrong-shape"),
        pytest.param(lambda key: key[:-1] + ("A" if key[-1] != "A" else "B"), id="wrong-secret"),
        pytest.param(lambda key: "cvk_0000000000000000_" + key.split("_", 2)[2], id="unknown-id"),
    ],
)
async def test_every_bad_key_gets_the_same_answer(database: Database, mangle: object) -> None:
    async with database.transaction() as session:
        _, plaintext = await service.create_api_key(session, name="k")
    async with database.transaction() as session:
        with pytest.raises(AuthenticationError) as raised:
            await service.authenticate_api_key(session, mangle(plaintext))  # type: ignore[operator]
    assert raised.value.message == service.INVALID_API_KEY


async def test_last_use_is_recorded_at_most_once_a_minute(database: Database) -> None:
    async with database.transaction() as session:
        created, _ = await service.create_api_key(session, name="poller")
    assert service.needs_use_recorded(created)

    async def last_used() -> datetime | None:
        async with database.read() as session:
            return (await session.get(ApiKey, created.id)).last_used_at  # type: ignore[union-attr]

    async with database.transaction() as session:
        await service.record_api_key_use(session, created.id)
    first = await last_used()
    assert first is not None
    async with database.transaction() as session:
        await service.record_api_key_use(session, created.id)
    assert await last_used() == first

    async with database.transaction() as session:
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id == created.id)
            .values(last_used_at=first - timedelta(minutes=2))
        )
    async with database.transaction() as session:
        await service.record_api_key_use(session, created.id)
    third = await last_used()
    assert third is not None
    assert third > first


async def test_revoking_an_unknown_key_is_not_found(database: Database) -> None:
    async with database.transaction() as session:
        with pytest.raises(NotFoundError):
            await service.revoke_api_key(session, "0123456789abcdef")
