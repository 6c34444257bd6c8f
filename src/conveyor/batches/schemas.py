"""The JSON of document 000 (snake_case, `{"success": true, ...}` envelopes), and of the
leads and company-search extensions."""

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    SecretStr,
    field_validator,
    model_validator,
)

from conveyor.batches.pipeline import SUB_STEP_NEEDS, SUB_STEPS

SubStepName = Literal[
    "account",
    "codeGeneration",
    "restaurantRegistration",
    "websiteConfig",
    "servicesConfig",
    "paymentConfig",
    "menuImport",
    "optionSets",
    "itemTags",
]
assert set(SubStepName.__args__) == set(SUB_STEPS)  # type: ignore[attr-defined]

MAX_BATCH_RESTAURANTS = 10_000


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _unique(values: list[uuid.UUID], what: str) -> list[uuid.UUID]:
    if len(set(values)) != len(values):
        raise ValueError(f"{what} must not repeat an id")
    return values


# --- batches ------------------------------------------------------------------------------


class ExecutionConfig(Request):
    default_password_pattern: str = Field(
        default="Restaurantname789!", min_length=8, max_length=100
    )
    """`Restaurantname` is replaced by each restaurant's name ("Pizza Palace" -> "Pizzapalace")."""
    auto_configure_services: bool = True
    """Whether step 6 configures services (`servicesConfig`) when a job uses the defaults."""


class BatchCreate(Request):
    name: str = Field(min_length=1, max_length=200)
    restaurant_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_BATCH_RESTAURANTS)
    source_lead_scrape_job_id: uuid.UUID | None = None
    auto_start: bool = False
    execution_config: ExecutionConfig = Field(default_factory=ExecutionConfig)

    @field_validator("restaurant_ids")
    @classmethod
    def _no_repeats(cls, value: list[uuid.UUID]) -> list[uuid.UUID]:
        return _unique(value, "restaurant_ids")


class JobRef(BaseModel):
    id: uuid.UUID
    restaurant_id: uuid.UUID
    status: str


class BatchCreatedJob(BaseModel):
    id: uuid.UUID
    name: str
    status: str
    total_restaurants: int
    current_step: int
    total_steps: int
    created_at: datetime


class BatchCreated(BaseModel):
    success: bool = True
    batch_job: BatchCreatedJob
    registration_jobs: list[JobRef]


class BatchListItem(BaseModel):
    id: uuid.UUID
    name: str
    status: str
    total_restaurants: int
    completed_restaurants: int
    failed_restaurants: int
    current_step: int
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None


class BatchList(BaseModel):
    success: bool = True
    batch_jobs: list[BatchListItem]
    total_count: int


class BatchRead(BatchListItem):
    total_steps: int
    source_lead_scrape_job_id: uuid.UUID | None
    execution_config: dict[str, Any]


class StepBrief(BaseModel):
    step_number: int
    status: str
    duration_ms: int | None


class BatchJobRow(BaseModel):
    id: uuid.UUID
    restaurant_id: uuid.UUID
    restaurant_name: str
    status: str
    current_step: int
    error: str | None
    steps: list[StepBrief]


class BatchDetail(BaseModel):
    success: bool = True
    batch_job: BatchRead
    registration_jobs: list[BatchJobRow]
    step_summary: dict[str, dict[str, int]]
    """`step_1` ... `step_6` -> status -> number of jobs."""


class BatchStarted(BaseModel):
    id: uuid.UUID
    status: str
    started_at: datetime | None


class BatchStartedEnvelope(BaseModel):
    success: bool = True
    batch_job: BatchStarted


class BatchCancelled(BaseModel):
    id: uuid.UUID
    status: str
    cancelled_at: datetime | None


class BatchCancelledEnvelope(BaseModel):
    success: bool = True
    batch_job: BatchCancelled
    cancelled_jobs: int
    already_completed: int


class RestaurantsSummary(BaseModel):
    total: int
    completed: int
    in_progress: int
    action_required: int
    failed: int
    pending: int
    cancelled: int


class Progress(BaseModel):
    success: bool = True
    status: str
    progress_percent: int
    current_step: int
    step_requiring_action: int | None
    restaurants_summary: RestaurantsSummary
    last_updated: datetime


# --- steps --------------------------------------------------------------------------------


class CandidateRead(BaseModel):
    company_name: str
    company_number: str
    status: str
    match_source: str
    nzbn: str | None = None


class SubStepState(BaseModel):
    status: str
    attempts: int = 0
    error: str | None = None


class SubStepProgress(BaseModel):
    current_sub_step: str | None
    sub_steps: dict[str, SubStepState]


class StepRestaurant(BaseModel):
    job_id: uuid.UUID
    restaurant_id: uuid.UUID
    restaurant_name: str
    step_status: str
    duration_ms: int | None
    error: str | None
    candidates: list[CandidateRead]
    """What the registry search found (steps 2 and 3)."""
    selected_company_number: str | None
    configuration: dict[str, Any] | None
    """Step 5: the job's configuration (the password only as `password_set`)."""
    sub_step_progress: SubStepProgress | None
    """Step 6."""


class StepDetail(BaseModel):
    success: bool = True
    step_number: int
    step_name: str
    step_type: str
    restaurants: list[StepRestaurant]
    summary: dict[str, int]
    """`total` and the number of jobs in each status at this step."""


class Selection(Request):
    company_number: str | None = Field(default=None, max_length=50)
    no_match: bool = False

    @model_validator(mode="after")
    def _one_choice(self) -> "Selection":
        if self.no_match and self.company_number:
            raise ValueError("give a company_number or no_match: true, not both")
        return self


class Configuration(Request):
    use_defaults: bool = False
    email: EmailStr | None = Field(default=None, max_length=320)
    password: SecretStr | None = Field(default=None, min_length=8, max_length=128)
    steps_enabled: dict[SubStepName, bool] | None = None

    @model_validator(mode="after")
    def _needs_present(self) -> "Configuration":
        enabled = self.steps_enabled or {}
        for sub_step, needed in SUB_STEP_NEEDS.items():
            if enabled.get(sub_step) and enabled.get(needed) is False:  # type: ignore[call-overload]
                raise ValueError(
                    f"{sub_step} needs {needed}: enable {needed} or disable {sub_step}"
                )
        return self


class StepCompletion(Request):
    selections: dict[uuid.UUID, Selection] | None = Field(default=None, max_length=10_000)
    """Step 3: per job, the chosen `company_number`, or `no_match: true`."""
    configurations: dict[uuid.UUID, Configuration] | None = Field(default=None, max_length=10_000)
    """Step 5: per job, `email`, `password`, `steps_enabled`, or `use_defaults: true`."""
    apply_defaults_to_remaining: bool = False
    """Step 5: give every other job waiting at step 5 the batch's defaults."""


class StepCompleted(BaseModel):
    success: bool = True
    updated_jobs: int
    next_step: int
    auto_processing: bool


# --- jobs ---------------------------------------------------------------------------------


class RestaurantBrief(BaseModel):
    name: str
    address: str | None
    city: str | None


class JobStep(BaseModel):
    step_number: int
    step_name: str
    status: str
    duration_ms: int | None
    error: str | None
    sub_step_progress: SubStepProgress | None


class JobRead(BaseModel):
    id: uuid.UUID
    batch_job_id: uuid.UUID
    restaurant_id: uuid.UUID
    restaurant: RestaurantBrief
    status: str
    current_step: int
    execution_config: dict[str, Any]
    steps: list[JobStep]
    candidates: list[CandidateRead]
    selected_company_number: str | None
    menu: dict[str, Any] | None
    error: str | None
    pumpd_user_id: str | None
    pumpd_restaurant_id: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class JobEnvelope(BaseModel):
    success: bool = True
    job: JobRead


class JobRetry(Request):
    from_step: int | None = Field(default=None, ge=1, le=6)
    """The step to run again from (default: the step that failed)."""
    reset_config: bool = False
    """Forget step 5's configuration, so that an operator gives it again."""


class JobState(BaseModel):
    id: uuid.UUID
    status: str
    current_step: int


class JobStateEnvelope(BaseModel):
    success: bool = True
    job: JobState


class ManualCompany(Request):
    company_name: str = Field(min_length=1, max_length=200)
    company_number: str | None = Field(default=None, max_length=50)
    nzbn: str | None = Field(default=None, pattern=r"^\d{13}$")
    gst_number: str | None = Field(default=None, max_length=20)
    email: EmailStr | None = Field(default=None, max_length=320)
    directors: list[str] = Field(default_factory=list, max_length=20)


class CompanySearch(Request):
    """Resolve a step 2 that found nothing: search again, or skip and enter the company."""

    search_term: str | None = Field(default=None, min_length=1, max_length=200)
    skip: bool = False
    manual_company: ManualCompany | None = None

    @model_validator(mode="after")
    def _one_way(self) -> "CompanySearch":
        if (self.search_term is None) == (not self.skip):
            raise ValueError("give either search_term, or skip: true (with manual_company)")
        if self.manual_company is not None and not self.skip:
            raise ValueError("manual_company goes with skip: true")
        return self


# --- leads --------------------------------------------------------------------------------


class LeadCreate(Request):
    name: str = Field(min_length=1, max_length=200)
    address: str | None = Field(default=None, max_length=300)
    city: str | None = Field(default=None, max_length=100)
    email: EmailStr | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=30)
    website_url: HttpUrl | None = Field(default=None, max_length=2000)
    google_address: str | None = Field(default=None, max_length=300)
    lead_scrape_job_id: uuid.UUID | None = None


class LeadImport(Request):
    leads: list[LeadCreate] = Field(min_length=1, max_length=1000)


class LeadRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    address: str | None
    city: str | None
    email: str | None
    phone: str | None
    website_url: str | None
    google_address: str | None
    lead_scrape_job_id: uuid.UUID | None
    restaurant_id: uuid.UUID | None
    converted_at: datetime | None
    created_at: datetime


class LeadsImported(BaseModel):
    success: bool = True
    leads: list[LeadRead]


class LeadList(BaseModel):
    success: bool = True
    leads: list[LeadRead]
    total_count: int
    limit: int
    offset: int


class LeadConvert(Request):
    lead_ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)
    address_source: Literal["auto", "lead", "google"] = "auto"
    create_registration_batch: bool = False
    batch_name: str | None = Field(default=None, min_length=1, max_length=200)
    auto_start_batch: bool = False

    @field_validator("lead_ids")
    @classmethod
    def _no_repeats(cls, value: list[uuid.UUID]) -> list[uuid.UUID]:
        return _unique(value, "lead_ids")


class ConvertedRestaurant(BaseModel):
    id: uuid.UUID
    name: str


class AlreadyConverted(BaseModel):
    lead_id: uuid.UUID
    restaurant_id: uuid.UUID


class ConvertedBatch(BaseModel):
    id: uuid.UUID
    name: str
    status: str
    total_restaurants: int


class LeadsConverted(BaseModel):
    success: bool = True
    converted_count: int
    restaurants: list[ConvertedRestaurant]
    already_converted: list[AlreadyConverted]
    registration_batch: ConvertedBatch | None
