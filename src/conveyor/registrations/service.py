"""Use cases of document 001: register a customer, check and retry a registration, and the
stages the task engine runs: duplicate check, core banking lookup, account validation and
user creation.

A registration moves PENDING → APPROVED → COMPLETED, or stops at FAILED or DUPLICATE. Every
write of a stage is fenced on the status it expects (`repository.move`), so a task that runs
twice, late or after a retry changes nothing.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticCustomError
from sqlalchemy.ext.asyncio import AsyncSession

from conveyor import tasks, webhooks
from conveyor.config import Settings
from conveyor.database import Database
from conveyor.errors import ConflictError, NotFoundError, ValidationError
from conveyor.kit.clock import isoformat_z, utcnow
from conveyor.kit.phones import to_e164
from conveyor.registrations import repository, schemas
from conveyor.registrations.models import BankingUser, CustomerRegistration, RegistrationStatus
from conveyor.registrations.providers import Account, CoreBankingUnavailable, core_banking
from conveyor.registrations.schemas import ProcessStage, RegistrationData, RegistrationEnvelope

VERIFY = "registrations.verify"
CREATE_USER = "registrations.create_user"

ESTIMATED_COMPLETION = "Processing typically takes 1-2 minutes"

MESSAGES = {
    RegistrationStatus.PENDING: "Registration request is pending processing",
    RegistrationStatus.APPROVED: "Registration approved; the user is being created",
    RegistrationStatus.COMPLETED: "Registration completed successfully",
    RegistrationStatus.FAILED: "Registration validation failed",
    RegistrationStatus.DUPLICATE: "User already exists with this information",
}
"""The status answer's `message`, as in the document's examples."""

NO_ACCOUNTS = "No accounts found for customer"
NO_USABLE_ACCOUNT = "No active account in an allowed currency"
CORE_BANKING_DOWN = "The core banking system could not be reached; try again later"
UNEXPECTED = "The registration could not be processed; try again later"


class Stage(StrEnum):
    DUPLICATE_CHECK = "duplicate_check"
    UPDATE_USER_INFO = "update_user_info"
    T24_LOOKUP = "t24_lookup"
    ACCOUNT_VALIDATION = "account_validation"
    USER_CREATION = "user_creation"


class RegistrationTask(BaseModel):
    """The payload of the pipeline's tasks: handlers take the id and load fresh state."""

    registration_id: int


Complete = Callable[[], AbstractAsyncContextManager[AsyncSession]]
"""`ctx.complete`: the transaction that also marks the running task succeeded."""


# --- rules -----------------------------------------------------------------------------------


def accounts_phrase(count: int) -> str:
    return f"{count} account" if count == 1 else f"{count} accounts"


def with_stage(
    stages: Sequence[Mapping[str, Any]], stage: Stage, status: str, details: str
) -> list[dict[str, Any]]:
    """`stages` with this stage's outcome: replaced if it already ran, else appended."""
    entry = {
        "stage": stage.value,
        "status": status,
        "timestamp": isoformat_z(utcnow(), milliseconds=True),
        "details": details,
    }
    kept = [dict(existing) for existing in stages if existing.get("stage") != stage]
    return [*kept, entry]


@dataclass(frozen=True)
class Assessment:
    """What the core banking lookup and the account validation concluded."""

    stages: list[tuple[Stage, str, str]]
    usable: list[Account] = field(default_factory=list)
    error: str | None = None
    can_retry: bool | None = None


def assess(accounts: Sequence[Account], allowed_currencies: Iterable[str]) -> Assessment:
    """Stages 2 and 3 on the accounts T24 returned: a customer needs at least one active
    account in an allowed currency. None at all may change (accounts get opened), so that
    failure can be retried; accounts that exist but do not qualify need the bank, not a retry."""
    if not accounts:
        return Assessment(
            [(Stage.T24_LOOKUP, "failed", "No accounts found")], error=NO_ACCOUNTS, can_retry=True
        )
    lookup = (Stage.T24_LOOKUP, "completed", f"Found {accounts_phrase(len(accounts))}")
    allowed = {currency.upper() for currency in allowed_currencies}
    usable = [account for account in accounts if account.active and account.currency in allowed]
    if not usable:
        inactive = sum(not account.active for account in accounts)
        currencies = sorted({account.currency for account in accounts} - allowed)
        reasons = [f"{inactive} not active"] if inactive else []
        if currencies:
            reasons.append(f"currencies not allowed: {', '.join(currencies)}")
        details = f"{NO_USABLE_ACCOUNT} ({'; '.join(reasons)})"
        return Assessment(
            [lookup, (Stage.ACCOUNT_VALIDATION, "failed", details)],
            error=NO_USABLE_ACCOUNT,
            can_retry=False,
        )
    validated = (Stage.ACCOUNT_VALIDATION, "completed", f"Validated {accounts_phrase(len(usable))}")
    return Assessment([lookup, validated], usable=usable)


def normalise_phone(value: str, settings: Settings, *, field_name: str = "phone_number") -> str:
    try:
        return to_e164(value, settings.registrations_default_region)
    except ValueError as exc:
        raise ValidationError(f"{field_name} {exc}") from None


def envelope(registration: CustomerRegistration, user: BankingUser | None) -> RegistrationEnvelope:
    """The document's answer for a registration: the fields its status calls for."""
    status = RegistrationStatus(registration.status)
    fields: dict[str, Any] = {
        "registration_id": registration.id,
        "status": status.value,
        "customer_number": registration.customer_number,
        "phone_number": registration.phone_number,
        "created_at": isoformat_z(registration.created_at, milliseconds=True),
        "processed_at": (
            isoformat_z(registration.processed_at, milliseconds=True)
            if registration.processed_at
            else None
        ),
    }
    if status is RegistrationStatus.PENDING:
        fields["estimated_completion"] = ESTIMATED_COMPLETION
    if status in (
        RegistrationStatus.APPROVED,
        RegistrationStatus.COMPLETED,
        RegistrationStatus.DUPLICATE,
    ):
        fields["user_id"] = registration.user_id
        fields["username"] = registration.username
    if status is RegistrationStatus.COMPLETED:
        fields["is_active"] = bool(user and user.is_active)
    if status in (RegistrationStatus.APPROVED, RegistrationStatus.COMPLETED):
        fields["notes"] = registration.notes
    if status in (RegistrationStatus.FAILED, RegistrationStatus.DUPLICATE):
        fields["error"] = registration.error
    if status is RegistrationStatus.FAILED:
        fields["can_retry"] = bool(registration.can_retry)
    if registration.process_stages:
        fields["process_stages"] = [ProcessStage(**stage) for stage in registration.process_stages]
    return RegistrationEnvelope(
        success=status is not RegistrationStatus.FAILED,
        message=MESSAGES[status],
        data=RegistrationData(**fields),
    )


# --- requests --------------------------------------------------------------------------------


async def register(
    session: AsyncSession, settings: Settings, body: schemas.RegistrationCreate
) -> tuple[RegistrationEnvelope, bool]:
    """A new PENDING registration with its first task, or (False) the open one this customer
    and phone already have."""
    phone = normalise_phone(body.phone_number, settings)
    existing = await repository.find_open(session, body.customer_number, phone)
    if existing is None:
        registration = CustomerRegistration(
            customer_number=body.customer_number,
            phone_number=phone,
            first_name=body.first_name,
            last_name=body.last_name,
            email=body.email,
            status=RegistrationStatus.PENDING,
            process_stages=[],
        )
        if await repository.add(session, registration):
            await _enqueue(session, VERIFY, registration.id)
            return envelope(registration, None), True
        existing = await repository.find_open(session, body.customer_number, phone)
        if existing is None:  # it finished between the insert and this read
            raise ConflictError("A registration for this customer and phone just changed; retry")
    return await _envelope_of(session, existing), False


async def check_status(
    session: AsyncSession,
    settings: Settings,
    *,
    customer_number: str | None,
    phone_number: str | None,
) -> RegistrationEnvelope:
    """The most recent registration matching every given criterion."""
    customer = (customer_number or "").strip() or None
    phone = (phone_number or "").strip() or None
    if customer is None and phone is None:
        raise ValidationError("At least one of customer_number or phone_number is required")
    if customer is not None:
        try:
            schemas.customer_number(customer)
        except PydanticCustomError as exc:
            raise ValidationError(f"customer_number {exc.message()}") from None
    if phone is not None:
        phone = normalise_phone(phone, settings)
    found = await repository.latest(session, customer_number=customer, phone_number=phone)
    if found is None:
        raise NotFoundError("No registration found for the given criteria")
    return envelope(*found)


async def get(session: AsyncSession, registration_id: int) -> RegistrationEnvelope:
    return await _envelope_of(session, await _get_or_404(session, registration_id))


async def retry(session: AsyncSession, registration_id: int) -> RegistrationEnvelope:
    """Run a FAILED registration whose `can_retry` is true again, from the duplicate check."""
    registration = await _get_or_404(session, registration_id)
    if registration.status != RegistrationStatus.FAILED or not registration.can_retry:
        why = "cannot be retried" if registration.status == "FAILED" else "has not failed"
        raise ConflictError(
            f"Registration {registration_id} is {registration.status} and {why}; "
            "only a FAILED registration with can_retry true can be retried"
        )
    other = await repository.find_open(
        session, registration.customer_number, registration.phone_number
    )
    if other is not None:
        raise ConflictError(
            f"Registration {other.id} for this customer and phone is already in progress"
        )
    values: dict[str, Any] = {
        "status": RegistrationStatus.PENDING,
        "process_stages": [],
        "accounts": None,
        "error": None,
        "can_retry": None,
        "processed_at": None,
        "retries": registration.retries + 1,
    }
    if not await repository.move(session, registration_id, RegistrationStatus.FAILED, values):
        raise ConflictError(f"Registration {registration_id} changed while retrying it")
    await _enqueue(session, VERIFY, registration_id)
    await session.refresh(registration)
    return envelope(registration, None)


async def _get_or_404(session: AsyncSession, registration_id: int) -> CustomerRegistration:
    registration = await repository.get(session, registration_id)
    if registration is None:
        raise NotFoundError(f"Registration {registration_id} not found")
    return registration


async def _envelope_of(
    session: AsyncSession, registration: CustomerRegistration
) -> RegistrationEnvelope:
    user = await repository.user(session, registration.user_id) if registration.user_id else None
    return envelope(registration, user)


async def _enqueue(session: AsyncSession, name: str, registration_id: int) -> None:
    await tasks.enqueue(
        session,
        name,
        RegistrationTask(registration_id=registration_id),
        key=f"{name}:{registration_id}",
    )


# --- the pipeline (run by the task engine) ---------------------------------------------------


@dataclass(frozen=True)
class _Duplicate:
    user: BankingUser
    error: str
    details: str


@dataclass(frozen=True)
class _Changed:
    user: BankingUser
    changes: dict[str, str]


async def _duplicates(
    session: AsyncSession, registration: CustomerRegistration
) -> _Duplicate | _Changed | None:
    """Stage 1: is there a user for this customer or phone already?"""
    user = await repository.user_by_customer(session, registration.customer_number)
    if user is not None and user.id == registration.user_id:
        user = None  # the inactive user this registration created before it failed
    if user is None:
        holder = await repository.user_by_phone(session, registration.phone_number)
        if holder is None or holder.id == registration.user_id:
            return None
        return _Duplicate(
            holder,
            "Phone number is already registered to another customer",
            f"Phone number belongs to user {holder.username}",
        )
    if not user.is_active:
        return _Duplicate(
            user, "User already exists and is not active", f"User {user.username} exists"
        )
    contact = {
        "phone_number": registration.phone_number,
        "first_name": registration.first_name,
        "last_name": registration.last_name,
        "email": registration.email,
    }
    changes = {
        name: value
        for name, value in contact.items()
        if value is not None and getattr(user, name) != value
    }
    if not changes:
        return _Duplicate(
            user,
            "User already exists with identical information",
            f"User {user.username} already exists",
        )
    if "phone_number" in changes:
        holder = await repository.user_by_phone(session, registration.phone_number)
        if holder is not None:
            return _Duplicate(
                holder,
                "Phone number is already registered to another customer",
                f"Phone number belongs to user {holder.username}",
            )
    return _Changed(user, changes)


async def _settle_duplicate(
    session: AsyncSession,
    registration: CustomerRegistration,
    found: _Duplicate | _Changed,
) -> None:
    """Finish a registration whose customer already has a user: DUPLICATE, or COMPLETED with
    the user's changed contact details saved."""
    stages = registration.process_stages
    if isinstance(found, _Duplicate):
        stages = with_stage(stages, Stage.DUPLICATE_CHECK, "failed", found.details)
        values: dict[str, Any] = {"status": RegistrationStatus.DUPLICATE, "error": found.error}
    else:
        await repository.update_user(session, found.user.id, found.changes)
        changed = ", ".join(found.changes)
        stages = with_stage(
            stages, Stage.DUPLICATE_CHECK, "completed", f"Existing user {found.user.username} found"
        )
        stages = with_stage(stages, Stage.UPDATE_USER_INFO, "completed", f"Updated {changed}")
        values = {
            "status": RegistrationStatus.COMPLETED,
            "notes": f"Existing user's information updated: {changed}",
        }
    values.update(user_id=found.user.id, username=found.user.username, process_stages=stages)
    await _finish(session, registration, values)


async def _finish(
    session: AsyncSession, registration: CustomerRegistration, values: dict[str, Any]
) -> None:
    """Move an open registration to its final status and tell webhook subscribers."""
    values["processed_at"] = utcnow()
    if await repository.move(
        session, registration.id, RegistrationStatus(registration.status), values
    ):
        status = RegistrationStatus(values["status"])
        await webhooks.emit(
            session,
            f"registration.{status.value.lower()}",
            {
                "registration_id": registration.id,
                "status": status.value,
                "customer_number": registration.customer_number,
                "user_id": values.get("user_id", registration.user_id),
                "error": values.get("error"),
            },
        )


async def verify(
    database: Database,
    settings: Settings,
    registration_id: int,
    *,
    attempt: int,
    final: bool,
    complete: Complete,
) -> None:
    """Stages 1-3, then APPROVED with an inactive user and the user-creation task queued.

    The core banking call happens between two transactions, never inside one. While it is
    unreachable the engine retries; after the last attempt the registration fails with
    `can_retry`.
    """
    async with database.transaction() as session:
        registration = await repository.get(session, registration_id)
        if registration is None or registration.status != RegistrationStatus.PENDING:
            return
        found = await _duplicates(session, registration)
        if found is not None:
            await _settle_duplicate(session, registration, found)
            return
        stages = with_stage(
            registration.process_stages, Stage.DUPLICATE_CHECK, "completed", "No duplicate found"
        )
        await repository.move(
            session, registration_id, RegistrationStatus.PENDING, {"process_stages": stages}
        )
        customer_number = registration.customer_number

    try:
        accounts = await core_banking(settings).accounts(customer_number, attempt=attempt)
    except CoreBankingUnavailable as exc:
        if not final:
            raise
        async with complete() as session:
            registration = await repository.get(session, registration_id)
            if registration is not None and registration.status == RegistrationStatus.PENDING:
                failed = with_stage(stages, Stage.T24_LOOKUP, "failed", str(exc))
                values = {"process_stages": failed, "error": CORE_BANKING_DOWN, "can_retry": True}
                await _finish(
                    session, registration, {**values, "status": RegistrationStatus.FAILED}
                )
        return

    assessment = assess(accounts, settings.registrations_allowed_currencies)
    for stage, status, details in assessment.stages:
        stages = with_stage(stages, stage, status, details)
    async with complete() as session:
        registration = await repository.get(session, registration_id)
        if registration is None or registration.status != RegistrationStatus.PENDING:
            return
        if not assessment.usable:
            await _finish(
                session,
                registration,
                {
                    "status": RegistrationStatus.FAILED,
                    "process_stages": stages,
                    "error": assessment.error,
                    "can_retry": assessment.can_retry,
                },
            )
            return
        # A user may have appeared since stage 1 (another registration finished meanwhile).
        found = await _duplicates(session, registration)
        if found is not None:
            await _settle_duplicate(session, registration, found)
            return
        user = await _reserve_user(session, registration)
        await repository.move(
            session,
            registration_id,
            RegistrationStatus.PENDING,
            {
                "status": RegistrationStatus.APPROVED,
                "process_stages": stages,
                "accounts": [account.as_json() for account in assessment.usable],
                "user_id": user.id,
                "username": user.username,
                "notes": f"Validated {accounts_phrase(len(assessment.usable))}; creating the user",
            },
        )
        await _enqueue(session, CREATE_USER, registration_id)


async def _reserve_user(session: AsyncSession, registration: CustomerRegistration) -> BankingUser:
    """The inactive user an approved registration completes (its own, when it had one)."""
    if registration.user_id is not None:
        existing = await repository.user(session, registration.user_id)
        if existing is not None:
            return existing
    return await repository.add_user(
        session,
        BankingUser(
            customer_number=registration.customer_number,
            phone_number=registration.phone_number,
            username=f"user{registration.customer_number}",
            first_name=registration.first_name,
            last_name=registration.last_name,
            email=registration.email,
            is_active=False,
        ),
    )


async def create_user(complete: Complete, registration_id: int) -> None:
    """Stage 4: link the validated accounts and activate the user: COMPLETED."""
    async with complete() as session:
        registration = await repository.get(session, registration_id)
        if registration is None or registration.status != RegistrationStatus.APPROVED:
            return
        assert registration.user_id is not None  # set together with APPROVED
        linked = await repository.link_accounts(
            session, registration.user_id, registration.accounts or []
        )
        await repository.update_user(session, registration.user_id, {"is_active": True})
        phrase = accounts_phrase(linked)
        stages = with_stage(
            registration.process_stages,
            Stage.USER_CREATION,
            "completed",
            f"User {registration.username} created with {phrase} linked",
        )
        await _finish(
            session,
            registration,
            {
                "status": RegistrationStatus.COMPLETED,
                "process_stages": stages,
                "notes": f"User created successfully with {phrase} linked",
            },
        )


async def fail(database: Database, registration_id: int) -> None:
    """After a task's last attempt died on an unexpected error: FAILED, retryable, so that
    pollers stop waiting (the traceback is in the worker's log)."""
    async with database.transaction() as session:
        registration = await repository.get(session, registration_id)
        if registration is None or registration.status not in (
            RegistrationStatus.PENDING,
            RegistrationStatus.APPROVED,
        ):
            return
        await _finish(
            session,
            registration,
            {"status": RegistrationStatus.FAILED, "error": UNEXPECTED, "can_retry": True},
        )
