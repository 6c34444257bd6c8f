"""Every query of the registrations package."""

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from conveyor.kit.clock import utcnow
from conveyor.registrations.models import (
    OPEN_STATUSES,
    BankingAccount,
    BankingUser,
    CustomerRegistration,
    RegistrationStatus,
)


async def get(session: AsyncSession, registration_id: int) -> CustomerRegistration | None:
    return await session.get(CustomerRegistration, registration_id)


async def find_open(
    session: AsyncSession, customer_number: str, phone_number: str
) -> CustomerRegistration | None:
    """The pending or approved registration of this customer and phone, if any."""
    statement = select(CustomerRegistration).where(
        CustomerRegistration.customer_number == customer_number,
        CustomerRegistration.phone_number == phone_number,
        CustomerRegistration.status.in_(OPEN_STATUSES),
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def add(session: AsyncSession, registration: CustomerRegistration) -> bool:
    """Insert `registration`; False when an open one for the same customer and phone won a
    race for the unique index (nothing is inserted then)."""
    try:
        async with session.begin_nested():
            session.add(registration)
            await session.flush()
    except IntegrityError:
        return False
    return True


async def latest(
    session: AsyncSession, *, customer_number: str | None, phone_number: str | None
) -> tuple[CustomerRegistration, BankingUser | None] | None:
    """The most recent registration matching every given criterion, with its user."""
    statement = (
        select(CustomerRegistration, BankingUser)
        .outerjoin(BankingUser, BankingUser.id == CustomerRegistration.user_id)
        .order_by(CustomerRegistration.created_at.desc(), CustomerRegistration.id.desc())
        .limit(1)
    )
    if customer_number is not None:
        statement = statement.where(CustomerRegistration.customer_number == customer_number)
    if phone_number is not None:
        statement = statement.where(CustomerRegistration.phone_number == phone_number)
    row = (await session.execute(statement)).first()
    return (row[0], row[1]) if row else None


async def user(session: AsyncSession, user_id: int) -> BankingUser | None:
    return await session.get(BankingUser, user_id)


async def user_by_customer(session: AsyncSession, customer_number: str) -> BankingUser | None:
    statement = select(BankingUser).where(BankingUser.customer_number == customer_number)
    return (await session.execute(statement)).scalar_one_or_none()


async def user_by_phone(session: AsyncSession, phone_number: str) -> BankingUser | None:
    statement = select(BankingUser).where(BankingUser.phone_number == phone_number)
    return (await session.execute(statement)).scalar_one_or_none()


async def move(
    session: AsyncSession,
    registration_id: int,
    expected: RegistrationStatus,
    values: Mapping[str, Any],
) -> bool:
    """Update the registration only while it is still `expected`: the fence that makes a late
    or repeated task change nothing. True when it applied."""
    result = await session.execute(
        update(CustomerRegistration)
        .where(CustomerRegistration.id == registration_id, CustomerRegistration.status == expected)
        .values(**values, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def add_user(session: AsyncSession, new_user: BankingUser) -> BankingUser:
    session.add(new_user)
    await session.flush()
    return new_user


async def update_user(session: AsyncSession, user_id: int, values: Mapping[str, Any]) -> None:
    await session.execute(
        update(BankingUser)
        .where(BankingUser.id == user_id)
        .values(**values, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def link_accounts(
    session: AsyncSession, user_id: int, accounts: Iterable[Mapping[str, Any]]
) -> int:
    rows = [
        BankingAccount(
            user_id=user_id,
            account_id=account["account_id"],
            category=account["category"],
            currency=account["currency"],
        )
        for account in accounts
    ]
    session.add_all(rows)
    await session.flush()
    return len(rows)


async def linked_accounts(session: AsyncSession, user_id: int) -> list[BankingAccount]:
    statement = (
        select(BankingAccount).where(BankingAccount.user_id == user_id).order_by(BankingAccount.id)
    )
    return list((await session.execute(statement)).scalars())
