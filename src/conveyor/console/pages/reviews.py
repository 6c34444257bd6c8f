"""Review pages (document 003, admins only): the queue of pending restaurant registrations,
one in full, approve with a note, reject with a reason."""

import uuid

from fastapi import Depends, Request
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from conveyor.auth.policies import CONSOLE_ADMIN
from conveyor.console.web import (
    CONSOLE,
    PREFIX,
    CheckedForm,
    CurrentViewer,
    FieldErrors,
    Viewer,
    field_errors,
    page_number,
    redirect,
    render,
    text,
)
from conveyor.database import CurrentDatabase, ReadSession
from conveyor.errors import ConflictError
from conveyor.restaurant_registrations import service
from conveyor.restaurant_registrations.models import RegistrationStatus
from conveyor.restaurant_registrations.schemas import ApproveRequest, RejectRequest

router = CONSOLE.router(
    PREFIX, tags=["console"], include_in_schema=False, dependencies=[Depends(CONSOLE_ADMIN)]
)

QUEUE = f"{PREFIX}/reviews"
PER_PAGE = 20


@router.get("/reviews")
async def queue(
    request: Request, viewer: CurrentViewer, session: ReadSession, page: str | None = None
) -> Response:
    number = page_number(page)
    found = await service.page(
        session, page_number=number, page_size=PER_PAGE, status=RegistrationStatus.PENDING
    )
    return render(request, "reviews/queue.html", {"found": found, "base": QUEUE}, viewer=viewer)


async def _detail_page(
    request: Request,
    viewer: Viewer,
    session: AsyncSession,
    registration_id: uuid.UUID,
    *,
    errors: FieldErrors | None = None,
    given: dict[str, str] | None = None,
) -> Response:
    registration = await service.detail(session, registration_id)
    return render(
        request,
        "reviews/detail.html",
        {"registration": registration, "errors": errors or {}, "given": given or {}},
        viewer=viewer,
        status_code=400 if errors else 200,
    )


@router.get("/reviews/{registration_id}")
async def detail(
    request: Request, registration_id: uuid.UUID, viewer: CurrentViewer, session: ReadSession
) -> Response:
    try:
        return await _detail_page(request, viewer, session, registration_id)
    except ConflictError as exc:  # reviewed already: the queue says so
        return redirect(request, QUEUE, error=exc.message)


async def _name(database: CurrentDatabase, registration_id: uuid.UUID) -> str:
    async with database.read() as session:
        return (await service.detail(session, registration_id)).name


@router.post("/reviews/{registration_id}/approve")
async def approve(
    request: Request,
    registration_id: uuid.UUID,
    viewer: CurrentViewer,
    form: CheckedForm,
    database: CurrentDatabase,
) -> Response:
    note = text(form, "note")
    try:
        body = ApproveRequest(note=note or None)
    except PydanticValidationError as exc:
        async with database.read() as session:
            return await _detail_page(
                request,
                viewer,
                session,
                registration_id,
                errors=field_errors(exc, {"note": "note"}),
                given={"note": note},
            )
    try:
        name = await _name(database, registration_id)
        async with database.transaction() as session:
            await service.approve(session, registration_id, note=body.note, reviewer=viewer.user_id)
    except ConflictError as exc:
        return redirect(request, QUEUE, error=exc.message)
    return redirect(request, QUEUE, notice=f"Approved “{name}”: the restaurant now exists.")


@router.post("/reviews/{registration_id}/reject")
async def reject(
    request: Request,
    registration_id: uuid.UUID,
    viewer: CurrentViewer,
    form: CheckedForm,
    database: CurrentDatabase,
) -> Response:
    reason = text(form, "reason")
    errors: FieldErrors = {}
    if not reason:
        errors["reason"] = "Give the reason for rejecting: the owner sees it."
    else:
        try:
            body = RejectRequest(reason=reason)
        except PydanticValidationError as exc:
            errors = field_errors(exc, {"reason": "reason"})
    if errors:
        async with database.read() as session:
            return await _detail_page(
                request, viewer, session, registration_id, errors=errors, given={"reason": reason}
            )
    try:
        name = await _name(database, registration_id)
        async with database.transaction() as session:
            await service.reject(
                session, registration_id, reason=body.reason, reviewer=viewer.user_id
            )
    except ConflictError as exc:
        return redirect(request, QUEUE, error=exc.message)
    return redirect(request, QUEUE, notice=f"Rejected “{name}”.")
