"""Routes of document 004 under /api/v1: jobs and routings, and the companies and technicians
the document needs to exist."""

import uuid
from typing import Annotated

from fastapi import Depends, Query

from conveyor.auth.policies import SERVICE
from conveyor.config import CurrentSettings
from conveyor.database import CurrentDatabase, ReadSession, WriteSession
from conveyor.errors import PlatformErrorFormat, Surface
from conveyor.idempotency import IDEMPOTENT
from conveyor.kit.paging import Offset
from conveyor.ratelimit import RateLimit
from conveyor.routing import service
from conveyor.routing.models import Job
from conveyor.routing.schemas import (
    Address,
    CompanyCreate,
    CompanyRead,
    CompanyUpdate,
    Homeowner,
    JobCreate,
    JobRead,
    RoutingRead,
    SyncRequest,
    TechnicianCreate,
    TechnicianRead,
)

ROUTING = Surface("routing", PlatformErrorFormat(), prefixes=("/api/v1/jobs", "/api/v1/companies"))
DEFAULT_LIMIT = RateLimit("routing.default", "100/minute")
CREATE_JOB_LIMIT = RateLimit("routing.create_job", "10/minute")

router = ROUTING.router(prefix="/api/v1", dependencies=[Depends(SERVICE), Depends(DEFAULT_LIMIT)])

PageLimit = Annotated[int, Query(ge=1, le=100)]


def job_read(job: Job) -> JobRead:
    return JobRead(
        id=job.id,
        summary=job.summary,
        address=Address(street=job.street, city=job.city, state=job.state, zip_code=job.zip_code),
        homeowner=Homeowner.model_construct(
            name=job.homeowner_name, phone=job.homeowner_phone, email=job.homeowner_email
        ),
        created_by_company_id=job.created_by_company_id,
        created_by_technician_id=job.created_by_technician_id,
        required_skills=job.required_skills,
        skill_levels=job.skill_levels,
        category=job.category,
        status=job.status,
        revenue=job.revenue,
        completed_at=job.completed_at,
        created_at=job.created_at,
        updated_at=job.updated_at,
    )


# -- jobs -----------------------------------------------------------------------------------


@router.post(
    "/jobs/",
    response_model=JobRead,
    status_code=201,
    tags=["jobs"],
    summary="Create a job and route it to the best-matching companies",
    dependencies=[Depends(CREATE_JOB_LIMIT), Depends(IDEMPOTENT)],
)
async def create_job(body: JobCreate, settings: CurrentSettings, session: WriteSession) -> JobRead:
    return job_read(await service.create_job(session, settings, body))


@router.get("/jobs/", response_model=list[JobRead], tags=["jobs"], summary="List jobs")
async def list_jobs(
    session: ReadSession,
    skip: Offset = 0,
    limit: PageLimit = 100,
) -> list[JobRead]:
    return [job_read(job) for job in await service.list_jobs(session, skip=skip, limit=limit)]


@router.get("/jobs/{job_id}", response_model=JobRead, tags=["jobs"], summary="One job")
async def get_job(job_id: uuid.UUID, session: ReadSession) -> JobRead:
    return job_read(await service.get_job(session, job_id))


@router.get(
    "/jobs/{job_id}/routings",
    response_model=list[RoutingRead],
    tags=["jobs"],
    summary="The job's routings and their sync status",
)
async def list_routings(job_id: uuid.UUID, session: ReadSession) -> list[RoutingRead]:
    return [RoutingRead.model_validate(r) for r in await service.routings_of(session, job_id)]


@router.post(
    "/jobs/{job_id}/sync",
    response_model=RoutingRead,
    tags=["jobs"],
    summary="Sync the job to a company now (routing it to the company first if needed)",
)
async def sync_job(
    job_id: uuid.UUID, body: SyncRequest, database: CurrentDatabase, settings: CurrentSettings
) -> RoutingRead:
    routing = await service.sync_now(database, settings, job_id, body.company_id)
    return RoutingRead.model_validate(routing)


# -- companies and technicians --------------------------------------------------------------


@router.post(
    "/companies",
    response_model=CompanyRead,
    status_code=201,
    tags=["companies"],
    summary="Create a company",
    dependencies=[Depends(IDEMPOTENT)],
)
async def create_company(
    body: CompanyCreate, settings: CurrentSettings, session: WriteSession
) -> CompanyRead:
    return await service.create_company(session, settings, body)


@router.get(
    "/companies", response_model=list[CompanyRead], tags=["companies"], summary="List companies"
)
async def list_companies(
    session: ReadSession,
    limit: PageLimit = 50,
    offset: Offset = 0,
) -> list[CompanyRead]:
    return await service.list_companies(session, limit=limit, offset=offset)


@router.get(
    "/companies/{company_id}", response_model=CompanyRead, tags=["companies"], summary="One company"
)
async def get_company(company_id: uuid.UUID, session: ReadSession) -> CompanyRead:
    return await service.read_company(session, await service.get_company(session, company_id))


@router.patch(
    "/companies/{company_id}",
    response_model=CompanyRead,
    tags=["companies"],
    summary="Change a company (fields left out stay as they are)",
)
async def update_company(
    company_id: uuid.UUID, body: CompanyUpdate, settings: CurrentSettings, session: WriteSession
) -> CompanyRead:
    return await service.update_company(session, settings, company_id, body)


@router.post(
    "/companies/{company_id}/technicians",
    response_model=TechnicianRead,
    status_code=201,
    tags=["companies"],
    summary="Add a technician to a company",
    dependencies=[Depends(IDEMPOTENT)],
)
async def create_technician(
    company_id: uuid.UUID, body: TechnicianCreate, session: WriteSession
) -> TechnicianRead:
    technician = await service.create_technician(session, company_id, name=body.name)
    return TechnicianRead.model_validate(technician)


@router.get(
    "/companies/{company_id}/technicians",
    response_model=list[TechnicianRead],
    tags=["companies"],
    summary="A company's technicians",
)
async def list_technicians(company_id: uuid.UUID, session: ReadSession) -> list[TechnicianRead]:
    return [
        TechnicianRead.model_validate(t)
        for t in await service.list_technicians(session, company_id)
    ]
