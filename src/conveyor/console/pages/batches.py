"""Batch pages (document 000): the list, a new batch from restaurants or leads, a batch with
live per-step progress, its two action steps (3: choose companies, 5: configure accounts),
cancel, and a job's page with its steps, errors and retry."""

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.responses import Response

from conveyor.auth.policies import CONSOLE as CONSOLE_POLICY
from conveyor.batches import service
from conveyor.batches.pipeline import (
    COMPANY_SELECTION,
    CONFIGURATION,
    STEPS,
    SUB_STEP_NEEDS,
    SUB_STEPS,
    BatchStatus,
    JobStatus,
    StepStatus,
    enabled_sub_steps,
)
from conveyor.batches.schemas import (
    BatchCreate,
    BatchDetail,
    CompanySearch,
    Configuration,
    ExecutionConfig,
    JobRead,
    LeadConvert,
    Selection,
    StepDetail,
    StepRestaurant,
)
from conveyor.config import CurrentSettings
from conveyor.console.web import (
    CONSOLE,
    PREFIX,
    CheckedForm,
    CurrentViewer,
    FieldErrors,
    Viewer,
    field_errors,
    fragment,
    page_number,
    query,
    raw,
    redirect,
    render,
    text,
    values,
)
from conveyor.database import CurrentDatabase, ReadSession
from conveyor.errors import AppError, NotFoundError
from conveyor.restaurants import service as restaurants_service

router = CONSOLE.router(
    PREFIX, tags=["console"], include_in_schema=False, dependencies=[Depends(CONSOLE_POLICY)]
)

BATCHES_PER_PAGE = 20
JOBS_PER_PAGE = 50
CHOICES_PER_PAGE = 50
EVENTS_INTERVAL_SECONDS = 1.0
NO_MATCH = "__no_match__"

SUB_STEP_LABELS = {
    "account": "Account",
    "codeGeneration": "Code generation",
    "restaurantRegistration": "Restaurant registration",
    "websiteConfig": "Website",
    "servicesConfig": "Services",
    "paymentConfig": "Payments",
    "menuImport": "Menu import",
    "optionSets": "Option sets",
    "itemTags": "Item tags",
}
"""Step 6's sub-steps as operators read them."""

CONFIG_LABELS = {
    "email": "Account email",
    "company_name": "Company",
    "company_number": "Company number",
    "nzbn": "NZBN",
    "gst_number": "GST number",
}
"""What a job page shows of the job's configuration (the password only as whether it is set)."""


def _batch_path(batch_id: uuid.UUID) -> str:
    return f"{PREFIX}/batches/{batch_id}"


def _pages(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


# --- list ----------------------------------------------------------------------------------


@router.get("/batches")
async def batch_list(
    request: Request,
    viewer: CurrentViewer,
    session: ReadSession,
    status: str = "",
    page: str | None = None,
) -> Response:
    chosen = status if status in {item.value for item in BatchStatus} else ""
    number = page_number(page)
    found, total = await service.list_batches(
        session,
        status=BatchStatus(chosen) if chosen else None,
        limit=BATCHES_PER_PAGE,
        offset=(number - 1) * BATCHES_PER_PAGE,
    )
    return render(
        request,
        "batches/list.html",
        {
            "batches": [service.batch_list_item(batch, counts) for batch, counts in found],
            "total": total,
            "status": chosen,
            "statuses": [item.value for item in BatchStatus],
            "page": number,
            "total_pages": _pages(total, BATCHES_PER_PAGE),
            "has_next": number * BATCHES_PER_PAGE < total,
            "base": f"{PREFIX}/batches{query(status=chosen)}",
        },
        viewer=viewer,
    )


# --- a new batch ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NewBatch:
    """What the new-batch form shows, and what the operator gave it so far."""

    source: str = "restaurants"
    search: str = ""
    page: int = 1
    name: str = ""
    chosen: frozenset[str] = frozenset()
    auto_start: bool = True
    auto_configure_services: bool = True


async def _new_batch_page(
    request: Request,
    viewer: Viewer,
    session: AsyncSession,
    form: NewBatch,
    *,
    errors: FieldErrors | None = None,
) -> Response:
    offset = (form.page - 1) * CHOICES_PER_PAGE
    context: dict[str, Any] = {"form": form, "errors": errors or {}, "page": form.page}
    if form.source == "leads":
        leads, total = await service.list_leads(
            session, converted=False, limit=CHOICES_PER_PAGE, offset=offset
        )
        context.update(leads=leads, restaurants=[], total=total)
    else:
        restaurants, total = await restaurants_service.search(
            session, text=form.search or None, limit=CHOICES_PER_PAGE, offset=offset
        )
        context.update(leads=[], restaurants=restaurants, total=total)
    context.update(
        has_next=form.page * CHOICES_PER_PAGE < total,
        total_pages=_pages(total, CHOICES_PER_PAGE),
        base=f"{PREFIX}/batches/new{query(source=form.source, q=form.search)}",
    )
    return render(
        request,
        "batches/new.html",
        context,
        viewer=viewer,
        status_code=400 if errors else 200,
    )


@router.get("/batches/new")
async def new_batch(
    request: Request,
    viewer: CurrentViewer,
    session: ReadSession,
    source: str = "restaurants",
    q: Annotated[str, Query(max_length=200)] = "",
    page: str | None = None,
) -> Response:
    form = NewBatch(
        source="leads" if source == "leads" else "restaurants",
        search=q.strip(),
        page=page_number(page),
    )
    return await _new_batch_page(request, viewer, session, form)


def _new_batch_form(form: FormData, source: str, chosen_field: str) -> NewBatch:
    return NewBatch(
        source=source,
        search=text(form, "q"),
        page=page_number(text(form, "page")),
        name=text(form, "name"),
        chosen=frozenset(values(form, chosen_field)),
        auto_start=text(form, "auto_start") == "on",
        auto_configure_services=text(form, "auto_configure_services") == "on",
    )


def _ids(given: Sequence[str]) -> list[uuid.UUID] | None:
    try:
        return [uuid.UUID(value) for value in given]
    except ValueError:
        return None


async def _names_of(session: AsyncSession, details: dict[str, Any]) -> str:
    ids = _ids([str(item["restaurant_id"]) for item in details.get("restaurants", [])]) or []
    found = await restaurants_service.get_many(session, ids)
    return ", ".join(sorted(restaurant.name for restaurant in found.values()))


@router.post("/batches")
async def create_batch(
    request: Request,
    viewer: CurrentViewer,
    form: CheckedForm,
    database: CurrentDatabase,
) -> Response:
    """A batch of the restaurants ticked on the form."""
    given = _new_batch_form(form, "restaurants", "restaurant_ids")
    pattern = raw(form, "default_password_pattern")
    errors: FieldErrors = {}
    if not given.name:
        errors["name"] = "Give the batch a name."
    ids = _ids(sorted(given.chosen))
    if not given.chosen or ids is None:
        errors["restaurant_ids"] = "Choose at least one restaurant."
    if not errors:
        try:
            body = BatchCreate(
                name=given.name,
                restaurant_ids=ids or [],
                auto_start=given.auto_start,
                execution_config=ExecutionConfig(
                    auto_configure_services=given.auto_configure_services,
                    **({"default_password_pattern": pattern} if pattern else {}),
                ),
            )
        except PydanticValidationError as exc:
            errors = field_errors(
                exc,
                {
                    "name": "name",
                    "restaurant_ids": "restaurant_ids",
                    "default_password_pattern": "default_password_pattern",
                },
            )
    if not errors:
        try:
            async with database.transaction() as session:
                batch, _ = await service.create_batch(
                    session,
                    name=body.name,
                    restaurant_ids=body.restaurant_ids,
                    execution_config=body.execution_config,
                    auto_start=body.auto_start,
                    created_by=viewer.subject,
                )
        except service.RestaurantAlreadyInBatch as exc:
            async with database.read() as session:
                names = await _names_of(session, exc.details)
            errors["restaurant_ids"] = f"Already in another active batch: {names}."
        except NotFoundError:
            errors["restaurant_ids"] = "Some of the chosen restaurants no longer exist."
    if errors:
        async with database.read() as session:
            return await _new_batch_page(request, viewer, session, given, errors=errors)
    started = " and started" if body.auto_start else ""
    return redirect(
        request, _batch_path(batch.id), notice=f"Batch “{batch.name}” created{started}."
    )


@router.post("/batches/from-leads")
async def create_batch_from_leads(
    request: Request,
    viewer: CurrentViewer,
    form: CheckedForm,
    database: CurrentDatabase,
) -> Response:
    """The ticked leads become restaurants, in a new batch."""
    given = _new_batch_form(form, "leads", "lead_ids")
    errors: FieldErrors = {}
    if not given.name:
        errors["name"] = "Give the batch a name."
    ids = _ids(sorted(given.chosen))
    if not given.chosen or ids is None:
        errors["lead_ids"] = "Choose at least one lead."
    if not errors:
        try:
            body = LeadConvert(
                lead_ids=ids or [],
                create_registration_batch=True,
                batch_name=given.name,
                auto_start_batch=given.auto_start,
            )
        except PydanticValidationError as exc:
            errors = field_errors(exc, {"batch_name": "name", "lead_ids": "lead_ids"})
    batch = None
    if not errors:
        try:
            async with database.transaction() as session:
                _, _, batch = await service.convert_leads(
                    session,
                    lead_ids=body.lead_ids,
                    address_source=body.address_source,
                    create_registration_batch=True,
                    batch_name=body.batch_name,
                    auto_start_batch=body.auto_start_batch,
                    created_by=viewer.subject,
                )
        except NotFoundError:
            errors["lead_ids"] = "Some of the chosen leads no longer exist."
        else:
            if batch is None:
                errors["lead_ids"] = (
                    "These leads were converted before: find their restaurants under "
                    "“From restaurants”."
                )
    if errors or batch is None:
        async with database.read() as session:
            return await _new_batch_page(request, viewer, session, given, errors=errors)
    started = " and started" if body.auto_start_batch else ""
    return redirect(
        request,
        _batch_path(batch.id),
        notice=f"Batch “{batch.name}” created from {batch.total_restaurants} leads{started}.",
    )


# --- a batch -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepBar:
    """One step across the batch: how many restaurants are through it, and where the rest are."""

    number: int
    name: str
    automatic: bool
    total: int
    counts: dict[str, int]

    @property
    def done(self) -> int:
        return self.counts.get(StepStatus.COMPLETED, 0) + self.counts.get(StepStatus.SKIPPED, 0)

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0

    @property
    def waiting(self) -> int:
        return self.counts.get(StepStatus.ACTION_REQUIRED, 0)

    @property
    def others(self) -> list[tuple[str, int]]:
        """The statuses besides done, that some restaurant is in."""
        shown = (StepStatus.COMPLETED, StepStatus.SKIPPED)
        return [
            (status, count)
            for status, count in self.counts.items()
            if count and status not in shown
        ]


def _bars(detail: BatchDetail) -> list[StepBar]:
    return [
        StepBar(
            number=item.number,
            name=item.name,
            automatic=item.automatic,
            total=detail.batch_job.total_restaurants,
            counts=detail.step_summary[f"step_{item.number}"],
        )
        for item in STEPS
    ]


async def _batch_context(session: AsyncSession, batch_id: uuid.UUID, page: int) -> dict[str, Any]:
    detail = await service.batch_detail(session, batch_id)
    jobs = detail.registration_jobs
    start = (page - 1) * JOBS_PER_PAGE
    batch = detail.batch_job
    return {
        "batch": batch,
        "bars": _bars(detail),
        "jobs": jobs[start : start + JOBS_PER_PAGE],
        "job_count": len(jobs),
        "page": page,
        "has_next": start + JOBS_PER_PAGE < len(jobs),
        "total_pages": _pages(len(jobs), JOBS_PER_PAGE),
        "base": _batch_path(batch.id),
        "active": batch.status in (BatchStatus.PENDING, BatchStatus.IN_PROGRESS),
        "step_names": {item.number: item.name for item in STEPS},
    }


@router.get("/batches/{batch_id}")
async def batch_page(
    request: Request,
    batch_id: uuid.UUID,
    viewer: CurrentViewer,
    session: ReadSession,
    page: str | None = None,
) -> Response:
    context = await _batch_context(session, batch_id, page_number(page))
    return render(request, "batches/batch.html", context, viewer=viewer)


@router.get("/batches/{batch_id}/live")
async def batch_live(
    request: Request,
    batch_id: uuid.UUID,
    viewer: CurrentViewer,
    session: ReadSession,
    page: str | None = None,
) -> Response:
    """The batch page's changing part, fetched again whenever the event stream says so."""
    context = await _batch_context(session, batch_id, page_number(page))
    return fragment(request, "batches/_live.html", {**context, "viewer": viewer})


async def _existing_batch(batch_id: uuid.UUID, database: CurrentDatabase) -> uuid.UUID:
    async with database.read() as session:
        await service.get_batch(session, batch_id)
    return batch_id


@router.get("/batches/{batch_id}/events", response_class=EventSourceResponse)
async def batch_events(
    batch_id: Annotated[uuid.UUID, Depends(_existing_batch)],
    request: Request,
    database: CurrentDatabase,
) -> AsyncIterator[ServerSentEvent]:
    """The batch's progress as Server-Sent Events: the API's stream, behind the console's
    sign-in (a browser's event stream cannot send an API key)."""
    async for current in service.progress_updates(
        database, batch_id, disconnected=request.is_disconnected, interval=EVENTS_INTERVAL_SECONDS
    ):
        yield ServerSentEvent(event="progress", data=current.model_dump(mode="json"))


@router.post("/batches/{batch_id}/start")
async def start_batch(
    request: Request, batch_id: uuid.UUID, form: CheckedForm, database: CurrentDatabase
) -> Response:
    try:
        async with database.transaction() as session:
            batch = await service.start(session, batch_id)
    except (service.InvalidStatus, service.BatchAlreadyStarted) as exc:
        return redirect(request, _batch_path(batch_id), error=exc.message)
    return redirect(request, _batch_path(batch_id), notice=f"Batch “{batch.name}” started.")


@router.post("/batches/{batch_id}/cancel")
async def cancel_batch(
    request: Request, batch_id: uuid.UUID, form: CheckedForm, database: CurrentDatabase
) -> Response:
    try:
        async with database.transaction() as session:
            batch, cancelled, completed = await service.cancel(session, batch_id)
    except service.InvalidStatus as exc:
        return redirect(request, _batch_path(batch_id), error=exc.message)
    return redirect(
        request,
        _batch_path(batch_id),
        notice=f"Batch “{batch.name}” cancelled: {cancelled} restaurants stopped, "
        f"{completed} had already completed.",
    )


# --- step 3: choose companies ---------------------------------------------------------------


def _waiting(detail: StepDetail, shown: Sequence[str] | None = None) -> list[StepRestaurant]:
    """The restaurants waiting for an operator at this step (of those the form showed)."""
    return [
        row
        for row in detail.restaurants
        if row.step_status == StepStatus.ACTION_REQUIRED
        and (shown is None or str(row.job_id) in shown)
    ]


async def _step_page(
    request: Request,
    viewer: Viewer,
    session: AsyncSession,
    batch_id: uuid.UUID,
    number: int,
    *,
    errors: FieldErrors | None = None,
    given: dict[str, Any] | None = None,
) -> Response:
    batch = await service.get_batch(session, batch_id)
    detail = await service.step_detail(session, batch_id, number)
    waiting = _waiting(detail)
    context: dict[str, Any] = {
        "batch": batch,
        "step": detail,
        "waiting": waiting,
        "others": [row for row in detail.restaurants if row not in waiting],
        "errors": errors or {},
        "given": given or {},
        "active": batch.status == BatchStatus.IN_PROGRESS,
    }
    if number == CONFIGURATION:
        context.update(await _configuration_context(session, batch.execution_config, waiting))
    template = "batches/step3.html" if number == COMPANY_SELECTION else "batches/step5.html"
    return render(request, template, context, viewer=viewer, status_code=400 if errors else 200)


@router.get("/batches/{batch_id}/steps/3")
async def company_selection(
    request: Request, batch_id: uuid.UUID, viewer: CurrentViewer, session: ReadSession
) -> Response:
    return await _step_page(request, viewer, session, batch_id, COMPANY_SELECTION)


def _selections(
    form: FormData, waiting: Sequence[StepRestaurant]
) -> tuple[dict[uuid.UUID, Selection], FieldErrors]:
    selections: dict[uuid.UUID, Selection] = {}
    errors: FieldErrors = {}
    for row in waiting:
        field = f"selection-{row.job_id}"
        choice = text(form, field)
        numbers = {candidate.company_number for candidate in row.candidates}
        if choice == NO_MATCH:
            selections[row.job_id] = Selection(no_match=True)
        elif choice and choice in numbers:
            selections[row.job_id] = Selection(company_number=choice)
        elif choice:
            errors[field] = f"{row.restaurant_name}: that company is not one of the candidates."
        else:
            errors[field] = f"{row.restaurant_name}: choose a company, or “No match”."
    return selections, errors


@router.post("/batches/{batch_id}/steps/3")
async def complete_company_selection(
    request: Request,
    batch_id: uuid.UUID,
    viewer: CurrentViewer,
    form: CheckedForm,
    database: CurrentDatabase,
    settings: CurrentSettings,
) -> Response:
    """Every restaurant the form showed gets its company (or none) at once."""
    async with database.read() as session:
        detail = await service.step_detail(session, batch_id, COMPANY_SELECTION)
    waiting = _waiting(detail, values(form, "job_ids"))
    selections, errors = _selections(form, waiting)
    if not waiting:
        errors[""] = "No restaurant of this batch is waiting for a company any more."
    if not errors:
        try:
            async with database.transaction() as session:
                done = await service.complete_step(
                    session,
                    settings,
                    batch_id,
                    COMPANY_SELECTION,
                    selections=selections,
                    configurations=None,
                    apply_defaults_to_remaining=False,
                )
        except AppError as exc:
            job = exc.details.get("job_id")
            errors[f"selection-{job}" if job else ""] = exc.message
    if errors:
        given = {
            f"selection-{row.job_id}": text(form, f"selection-{row.job_id}") for row in waiting
        }
        async with database.read() as session:
            return await _step_page(
                request, viewer, session, batch_id, COMPANY_SELECTION, errors=errors, given=given
            )
    chosen = sum(not selection.no_match for selection in selections.values())
    return redirect(
        request,
        _batch_path(batch_id),
        notice=f"Companies chosen for {done.updated_jobs} restaurants "
        f"({chosen} matched, {done.updated_jobs - chosen} without a match).",
    )


# --- step 5: configure accounts -------------------------------------------------------------


@dataclass(frozen=True)
class JobDefaults:
    email: str
    steps: dict[str, bool]


async def _defaults(
    session: AsyncSession, execution_config: dict[str, Any], waiting: Sequence[StepRestaurant]
) -> dict[uuid.UUID, JobDefaults]:
    """What "use defaults" gives each job: the email step 4 found (or the restaurant's own)
    and the batch's sub-steps."""
    config = ExecutionConfig.model_validate(execution_config)
    steps = enabled_sub_steps(None, auto_configure_services=config.auto_configure_services)
    restaurants = await restaurants_service.get_many(
        session, [row.restaurant_id for row in waiting]
    )
    defaults = {}
    for row in waiting:
        restaurant = restaurants.get(row.restaurant_id)
        email = (row.configuration or {}).get("email") or (restaurant.email if restaurant else "")
        defaults[row.job_id] = JobDefaults(email=email or "", steps=steps)
    return defaults


async def _configuration_context(
    session: AsyncSession, execution_config: dict[str, Any], waiting: Sequence[StepRestaurant]
) -> dict[str, Any]:
    config = ExecutionConfig.model_validate(execution_config)
    return {
        "defaults": await _defaults(session, execution_config, waiting),
        "batch_steps": enabled_sub_steps(
            None, auto_configure_services=config.auto_configure_services
        ),
        "sub_steps": [(name, SUB_STEP_LABELS[name]) for name in SUB_STEPS],
        "labels": SUB_STEP_LABELS,
        "needs": SUB_STEP_NEEDS,
    }


@router.get("/batches/{batch_id}/steps/5")
async def configuration(
    request: Request, batch_id: uuid.UUID, viewer: CurrentViewer, session: ReadSession
) -> Response:
    return await _step_page(request, viewer, session, batch_id, CONFIGURATION)


def _configurations(
    form: FormData, waiting: Sequence[StepRestaurant], defaults: dict[uuid.UUID, JobDefaults]
) -> tuple[dict[uuid.UUID, Configuration], FieldErrors]:
    """Per restaurant on the form: nothing (left waiting), the defaults (ticked, unchanged),
    or its own email, password and sub-steps (changed)."""
    configurations: dict[uuid.UUID, Configuration] = {}
    errors: FieldErrors = {}
    for row in waiting:
        job = row.job_id
        default = defaults[job]
        email = text(form, f"email-{job}")
        password = raw(form, f"password-{job}")
        ticked = set(values(form, f"steps-{job}"))
        steps = {name: name in ticked for name in SUB_STEPS}
        changed = email != default.email or bool(password) or steps != default.steps
        if not changed and text(form, f"configure-{job}") != "on":
            continue
        if not changed:
            configurations[job] = Configuration(use_defaults=True)
            continue
        missing = [
            (name, need) for name, need in SUB_STEP_NEEDS.items() if steps[name] > steps[need]
        ]
        if missing:
            name, need = (SUB_STEP_LABELS[item] for item in missing[0])
            errors[f"steps-{job}"] = f"{name} needs {need}: turn {need} on, or {name} off."
            continue
        try:
            configurations[job] = Configuration.model_validate(
                {"email": email or None, "password": password or None, "steps_enabled": steps}
            )
        except PydanticValidationError as exc:
            found = field_errors(
                exc,
                {"email": f"email-{job}", "password": f"password-{job}"},
                default=f"steps-{job}",
            )
            if f"email-{job}" in found:
                found[f"email-{job}"] = "Enter an email address like name@example.com."
            errors.update(found)
    return configurations, errors


@router.post("/batches/{batch_id}/steps/5")
async def complete_configuration(
    request: Request,
    batch_id: uuid.UUID,
    viewer: CurrentViewer,
    form: CheckedForm,
    database: CurrentDatabase,
    settings: CurrentSettings,
) -> Response:
    """The ticked or changed restaurants get their configuration; with "apply defaults to the
    rest", every other restaurant waiting at step 5 gets the batch's defaults."""
    rest = text(form, "action") == "rest"
    async with database.read() as session:
        batch = await service.get_batch(session, batch_id)
        detail = await service.step_detail(session, batch_id, CONFIGURATION)
        waiting = _waiting(detail, values(form, "job_ids"))
        defaults = await _defaults(session, batch.execution_config, waiting)
    configurations, errors = _configurations(form, waiting, defaults)
    if not errors and not configurations and not rest:
        errors[""] = (
            "Tick at least one restaurant (or change its settings), "
            "or apply the defaults to the rest."
        )
    if not errors:
        try:
            async with database.transaction() as session:
                done = await service.complete_step(
                    session,
                    settings,
                    batch_id,
                    CONFIGURATION,
                    selections=None,
                    configurations=configurations,
                    apply_defaults_to_remaining=rest,
                )
        except AppError as exc:
            if exc.message.startswith("No email is known"):
                for job in exc.details.get("job_ids", []):
                    errors[f"email-{job}"] = "No email is known for this restaurant: enter one."
            else:
                errors[""] = exc.message
    if errors:
        given: dict[str, Any] = {
            name: value
            for name, value in form.multi_items()
            if isinstance(value, str) and not name.startswith(("password-", "csrf_token"))
        }
        given["steps"] = {row.job_id: values(form, f"steps-{row.job_id}") for row in waiting}
        async with database.read() as session:
            return await _step_page(
                request, viewer, session, batch_id, CONFIGURATION, errors=errors, given=given
            )
    return redirect(
        request,
        _batch_path(batch_id),
        notice=f"{done.updated_jobs} restaurants configured; their accounts are being set up.",
    )


# --- a job ---------------------------------------------------------------------------------


def _job_path(job_id: uuid.UUID) -> str:
    return f"{PREFIX}/jobs/{job_id}"


async def _job_page(
    request: Request,
    viewer: Viewer,
    session: AsyncSession,
    job_id: uuid.UUID,
    *,
    errors: FieldErrors | None = None,
    given: dict[str, str] | None = None,
) -> Response:
    job: JobRead = await service.job_detail(session, job_id)
    batch = await service.get_batch(session, job.batch_job_id)
    searching = any(
        row.step_number == 2 and row.status == StepStatus.ACTION_REQUIRED for row in job.steps
    )
    return render(
        request,
        "batches/job.html",
        {
            "job": job,
            "batch": batch,
            "failed": job.status == JobStatus.FAILED,
            "searching": searching and batch.status == BatchStatus.IN_PROGRESS,
            "sub_step_labels": SUB_STEP_LABELS,
            "config": [
                (label, job.execution_config[key])
                for key, label in CONFIG_LABELS.items()
                if job.execution_config.get(key)
            ],
            "password_set": bool(job.execution_config.get("password_set")),
            "errors": errors or {},
            "given": given or {},
        },
        viewer=viewer,
        status_code=400 if errors else 200,
    )


@router.get("/jobs/{job_id}")
async def job_page(
    request: Request, job_id: uuid.UUID, viewer: CurrentViewer, session: ReadSession
) -> Response:
    return await _job_page(request, viewer, session, job_id)


@router.post("/jobs/{job_id}/retry")
async def retry_job(
    request: Request,
    job_id: uuid.UUID,
    viewer: CurrentViewer,
    form: CheckedForm,
    database: CurrentDatabase,
) -> Response:
    """Run a failed job again from the step the operator chose."""
    chosen = text(form, "from_step")
    reset = text(form, "reset_config") == "on"
    errors: FieldErrors = {}
    if not chosen.isdigit() or not 1 <= int(chosen) <= len(STEPS):
        errors["from_step"] = "Choose the step to run again from."
    if not errors:
        try:
            async with database.transaction() as session:
                job = await service.retry(
                    session, job_id, from_step=int(chosen), reset_config=reset
                )
        except (service.InvalidStatus, service.RestaurantAlreadyInBatch) as exc:
            errors[""] = exc.message
        except AppError as exc:
            field = "reset_config" if exc.message.startswith("reset_config") else "from_step"
            errors[field] = exc.message.replace("from_step", "The step").replace(
                "reset_config", "Forgetting the configuration"
            )
    if errors:
        async with database.read() as session:
            return await _job_page(
                request,
                viewer,
                session,
                job_id,
                errors=errors,
                given={"from_step": chosen, "reset_config": "on" if reset else ""},
            )
    return redirect(request, _job_path(job_id), notice=f"Retrying from step {job.current_step}.")


@router.post("/jobs/{job_id}/company-search")
async def search_company(
    request: Request,
    job_id: uuid.UUID,
    viewer: CurrentViewer,
    form: CheckedForm,
    database: CurrentDatabase,
) -> Response:
    """A step-2 search that found nothing: search again under another name, or skip it."""
    skip = text(form, "action") == "skip"
    term = text(form, "search_term")
    errors: FieldErrors = {}
    if not skip and not term:
        errors["search_term"] = "Enter the name to search the companies register for."
    if not errors:
        try:
            body = CompanySearch(skip=True) if skip else CompanySearch(search_term=term)
            async with database.transaction() as session:
                await service.search_company(session, job_id, body)
        except PydanticValidationError as exc:
            errors = field_errors(exc, {"search_term": "search_term"})
        except AppError as exc:
            errors[""] = exc.message
    if errors:
        async with database.read() as session:
            return await _job_page(
                request, viewer, session, job_id, errors=errors, given={"search_term": term}
            )
    notice = (
        "Search skipped: the restaurant goes on to step 5."
        if skip
        else (f"Searching the register for “{term}”.")
    )
    return redirect(request, _job_path(job_id), notice=notice)
