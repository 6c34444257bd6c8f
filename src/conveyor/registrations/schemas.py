"""Document 001's JSON: the registration request, and the status envelope every answer uses."""

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field
from pydantic_core import PydanticCustomError

_DIGITS = re.compile(r"[0-9]{1,20}")


def customer_number(value: str) -> str:
    """A T24 customer number: ASCII digits only, at most 20."""
    if not _DIGITS.fullmatch(value):
        raise PydanticCustomError("digits_only", "must contain digits only (at most 20)")
    return value


CustomerNumber = Annotated[str, AfterValidator(customer_number)]


class RegistrationCreate(BaseModel):
    """`POST /api/registrations`: who wants digital banking, and how to reach them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    customer_number: CustomerNumber = Field(examples=["1234567"])
    phone_number: str = Field(
        min_length=1,
        max_length=30,
        description="Any common format; national numbers are read as the default region's.",
        examples=["+265991234567", "0991234567"],
    )
    first_name: str | None = Field(default=None, min_length=1, max_length=100)
    last_name: str | None = Field(default=None, min_length=1, max_length=100)
    email: EmailStr | None = Field(default=None, max_length=320)


class ProcessStage(BaseModel):
    stage: str = Field(examples=["duplicate_check"])
    status: str = Field(examples=["completed"])
    timestamp: str = Field(examples=["2024-12-14T16:00:05.000Z"])
    details: str = Field(examples=["No duplicate found"])


class RegistrationData(BaseModel):
    """A registration as the document shows it; which fields appear depends on `status`
    (the document's Status Values table), so absent ones are left out, not null."""

    registration_id: int
    status: str = Field(description="PENDING, APPROVED, COMPLETED, FAILED or DUPLICATE")
    customer_number: str
    phone_number: str
    created_at: str
    processed_at: str | None
    estimated_completion: str | None = None
    user_id: int | None = None
    username: str | None = None
    is_active: bool | None = None
    notes: str | None = None
    error: str | None = None
    can_retry: bool | None = None
    process_stages: list[ProcessStage] | None = None


class RegistrationEnvelope(BaseModel):
    """`{success, message, data}`; `success` is false for a FAILED registration."""

    success: bool
    message: str
    data: RegistrationData
