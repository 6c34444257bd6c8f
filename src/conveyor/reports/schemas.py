"""The JSON of document 002: section requests, job answers in its `{status, message, data}`
envelope, and the context store's customers and opportunities."""

import base64
import binascii
import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from conveyor.reports.catalogue import catalogue
from conveyor.reports.models import ReportType


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


Identifier = Annotated[str, Field(min_length=1, max_length=255)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Line = Annotated[str, Field(min_length=1, max_length=300)]
LongText = Annotated[str, Field(min_length=1, max_length=4000)]

_BASE64 = re.compile(r"[A-Za-z0-9+/]*")


def decode_base64_text(value: str) -> str:
    """The UTF-8 text `value` encodes in base64.

    Lenient where clients differ and strict where it matters: whitespace (MIME line breaks)
    is ignored, missing or extra `=` padding is restored, the URL-safe alphabet (`-_`) is
    read as the standard one (`+/`), and a UTF-8 byte order mark is dropped. Anything else
    that is not base64, bytes that are not UTF-8, and text with NUL characters are refused.
    """
    compact = "".join(value.split()).replace("-", "+").replace("_", "/").rstrip("=")
    if not compact:
        raise PydanticCustomError("base64_empty", "Value must be base64 of a non-empty text")
    if not _BASE64.fullmatch(compact) or len(compact) % 4 == 1:
        raise PydanticCustomError("base64_invalid", "Value is not valid base64")
    try:
        raw = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
        text = raw.decode("utf-8-sig")
    except binascii.Error:
        raise PydanticCustomError("base64_invalid", "Value is not valid base64") from None
    except UnicodeDecodeError:
        raise PydanticCustomError(
            "base64_not_utf8", "Value is base64, but not of UTF-8 text"
        ) from None
    if "\x00" in text:
        raise PydanticCustomError("text_has_nul", "The decoded text contains NUL characters")
    if not text.strip():
        raise PydanticCustomError("base64_empty", "Value must be base64 of a non-empty text")
    return text


def encode_base64_text(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


Base64Text = Annotated[str, AfterValidator(decode_base64_text)]
"""Base64 on the wire, the decoded text once validated."""


# -- section requests -------------------------------------------------------------------------


class GenerateRequest(Strict):
    """`POST /generate`."""

    type: ReportType
    customer_id: Identifier
    opportunity_id: Identifier
    section_title: str = Field(min_length=1, max_length=200)

    @field_validator("section_title")
    @classmethod
    def _allowed_for_type(cls, title: str, info: ValidationInfo) -> str:
        """The catalogue's spelling of the title, if it is a section of the type."""
        report_type = info.data.get("type")
        if not isinstance(report_type, ReportType):
            return title  # `type` itself is wrong: that error is enough
        sections = catalogue()
        canonical = sections.canonical_title(report_type, title)
        if canonical is not None:
            return canonical
        allowed = sections.titles(report_type)
        context = {"report_type": report_type.value, "allowed": allowed}
        if not allowed:
            raise PydanticCustomError(
                "section_title_not_allowed",
                "{report_type} has no sections defined yet, so no section_title is allowed",
                context,
            )
        raise PydanticCustomError(
            "section_title_not_allowed",
            "Value is not a section of {report_type}; allowed: " + "; ".join(allowed),
            context,
        )


class RefineRequest(GenerateRequest):
    """`POST /refine`."""

    original_text: Base64Text
    """Base64 on the wire; the decoded Markdown once validated."""
    prompt: str = Field(min_length=1)

    def size_errors(self, *, max_text_bytes: int, max_prompt_chars: int) -> list[dict[str, Any]]:
        """The configured size limits this request breaks, as Pydantic errors."""
        errors = []
        size = len(self.original_text.encode("utf-8"))
        if size > max_text_bytes:
            errors.append(
                {
                    "type": "text_too_large",
                    "loc": ("body", "original_text"),
                    "msg": f"The decoded text may be at most {max_text_bytes} bytes",
                    "input": None,
                    "ctx": {"max_bytes": max_text_bytes},
                }
            )
        if len(self.prompt) > max_prompt_chars:
            errors.append(
                {
                    "type": "string_too_long",
                    "loc": ("body", "prompt"),
                    "msg": f"String should have at most {max_prompt_chars} characters",
                    "input": None,
                    "ctx": {"max_length": max_prompt_chars},
                }
            )
        return errors


# -- answers ----------------------------------------------------------------------------------


class JobRef(BaseModel):
    job_id: uuid.UUID
    status: Literal["pending", "processing"]


class JobAccepted(BaseModel):
    """202 to `POST /generate` and `/refine`: the job was queued."""

    status: Literal["processing"] = "processing"
    message: str = "Job queued"
    data: JobRef


class BusyRef(JobRef):
    ready: Literal[False] = False
    request_id: uuid.UUID
    """The same as `job_id`: the document's busy example names the job `request_id`."""


class JobBusy(BaseModel):
    """202 to a POST identical to an active job of the same session: that job, not a new one."""

    status: Literal["busy"] = "busy"
    message: str = "Request is busy"
    data: BusyRef


class GeneratedSection(BaseModel):
    customer_id: str
    opportunity_id: str
    section_title: str
    generated_section_b64: str


class RefinedSection(BaseModel):
    customer_id: str
    opportunity_id: str
    section_title: str
    refined_section_b64: str


class CompletedJob(BaseModel):
    job_id: uuid.UUID
    status: Literal["completed"] = "completed"
    result: GeneratedSection | RefinedSection


class JobErrorDetail(BaseModel):
    error_code: str
    message: str


class FailedJob(BaseModel):
    job_id: uuid.UUID
    status: Literal["failed"] = "failed"
    error: JobErrorDetail


class JobStatusAnswer(BaseModel):
    """`GET /status/{job_id}`, HTTP 200 whatever the job's state."""

    status: Literal["processing", "ready", "error"]
    message: str
    data: JobRef | CompletedJob | FailedJob


# -- the context store ------------------------------------------------------------------------

FactMap = Annotated[
    dict[Annotated[str, Field(min_length=1, max_length=100)], Line], Field(max_length=30)
]
Items = Annotated[list[Line], Field(max_length=20)]


class CustomerFacts(Strict):
    """`PUT /context/customers/{customer_id}`: what sections may say about the customer."""

    name: Name
    industry: str | None = Field(default=None, min_length=1, max_length=100)
    location: str | None = Field(default=None, min_length=1, max_length=200)
    size: str | None = Field(default=None, min_length=1, max_length=100)
    """As a phrase that follows "has": "about 250 employees"."""
    description: LongText | None = None
    facts: FactMap = Field(default_factory=dict)
    """Anything else, as label → value; shown in the sections' fact tables."""


class OpportunityFacts(Strict):
    """`PUT /context/opportunities/{opportunity_id}`: what sections may say about it."""

    name: Name
    summary: LongText | None = None
    current_state: LongText | None = None
    budget: str | None = Field(default=None, min_length=1, max_length=100)
    timeline: str | None = Field(default=None, min_length=1, max_length=200)
    objectives: Items = Field(default_factory=list)
    requirements: Items = Field(default_factory=list)
    risks: Items = Field(default_factory=list)
    stakeholders: Items = Field(default_factory=list)
    technologies: Items = Field(default_factory=list)
    facts: FactMap = Field(default_factory=dict)


class CustomerRead(CustomerFacts):
    customer_id: str
    updated_at: datetime


class OpportunityRead(OpportunityFacts):
    opportunity_id: str
    updated_at: datetime


class CustomerAnswer(BaseModel):
    status: Literal["ok"] = "ok"
    message: str
    data: CustomerRead


class OpportunityAnswer(BaseModel):
    status: Literal["ok"] = "ok"
    message: str
    data: OpportunityRead


class DeletedRef(BaseModel):
    deleted: str


class DeletedAnswer(BaseModel):
    status: Literal["ok"] = "ok"
    message: str
    data: DeletedRef
