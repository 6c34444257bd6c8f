"""Registration pages (document 001): find a customer's latest registration by customer
number or phone number, and follow its stages."""

from typing import Annotated

from fastapi import Depends, Query, Request
from starlette.responses import Response

from conveyor.auth.policies import CONSOLE as CONSOLE_POLICY
from conveyor.config import CurrentSettings
from conveyor.console.web import CONSOLE, PREFIX, CurrentViewer, FieldErrors, render
from conveyor.database import ReadSession
from conveyor.errors import NotFoundError, ValidationError
from conveyor.registrations import service
from conveyor.registrations.schemas import RegistrationEnvelope

router = CONSOLE.router(
    PREFIX, tags=["console"], include_in_schema=False, dependencies=[Depends(CONSOLE_POLICY)]
)

STAGE_LABELS = {
    service.Stage.DUPLICATE_CHECK.value: "Duplicate check",
    service.Stage.UPDATE_USER_INFO.value: "Existing user's details updated",
    service.Stage.T24_LOOKUP.value: "Core banking (T24) lookup",
    service.Stage.ACCOUNT_VALIDATION.value: "Account validation",
    service.Stage.USER_CREATION.value: "Digital banking user creation",
}


@router.get("/registrations")
async def lookup(
    request: Request,
    viewer: CurrentViewer,
    session: ReadSession,
    settings: CurrentSettings,
    customer_number: Annotated[str, Query(max_length=20)] = "",
    phone_number: Annotated[str, Query(max_length=30)] = "",
) -> Response:
    """The form; with a customer number or phone number given, the registration found."""
    searched = "customer_number" in request.query_params or "phone_number" in request.query_params
    errors: FieldErrors = {}
    found: RegistrationEnvelope | None = None
    missing = None
    if searched and not customer_number.strip() and not phone_number.strip():
        errors[""] = "Enter a customer number, a phone number, or both."
    elif searched:
        try:
            found = await service.check_status(
                session, settings, customer_number=customer_number, phone_number=phone_number
            )
        except ValidationError as exc:
            fields = ("customer_number", "phone_number")
            field = next((name for name in fields if exc.message.startswith(name)), "")
            label = {"customer_number": "The customer number", "phone_number": "The phone number"}
            message = exc.message.replace(field, label[field], 1) if field else exc.message
            errors[field] = message.rstrip(".") + "."
        except NotFoundError:
            missing = "No registration matches."
    return render(
        request,
        "registrations/lookup.html",
        {
            "customer_number": customer_number,
            "phone_number": phone_number,
            "found": found,
            "missing": missing,
            "errors": errors,
            "stage_labels": STAGE_LABELS,
        },
        viewer=viewer,
        status_code=400 if errors else 200,
    )
