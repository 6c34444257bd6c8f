"""Routing pages (document 004): jobs with the companies they were routed to and each
routing's sync status; companies with their skills."""

from fastapi import Depends, Request
from starlette.responses import Response

from conveyor.auth.policies import CONSOLE as CONSOLE_POLICY
from conveyor.console.web import CONSOLE, PREFIX, CurrentViewer, page_number, render
from conveyor.database import ReadSession
from conveyor.routing import service

router = CONSOLE.router(
    PREFIX, tags=["console"], include_in_schema=False, dependencies=[Depends(CONSOLE_POLICY)]
)

JOBS_PER_PAGE = 20
COMPANIES_PER_PAGE = 50


@router.get("/routing")
async def jobs(
    request: Request, viewer: CurrentViewer, session: ReadSession, page: str | None = None
) -> Response:
    number = page_number(page)
    # One more than a page: whether there is a next page, without counting every job.
    found = await service.list_jobs(
        session, skip=(number - 1) * JOBS_PER_PAGE, limit=JOBS_PER_PAGE + 1
    )
    shown = found[:JOBS_PER_PAGE]
    routings = await service.routings_of_jobs(session, [job.id for job in shown])
    names = await service.company_names(
        session,
        [job.created_by_company_id for job in shown]
        + [routing.company_id_received for items in routings.values() for routing in items],
    )
    return render(
        request,
        "routing/jobs.html",
        {
            "jobs": shown,
            "routings": routings,
            "names": names,
            "page": number,
            "has_next": len(found) > JOBS_PER_PAGE,
            "base": f"{PREFIX}/routing",
        },
        viewer=viewer,
    )


@router.get("/routing/companies")
async def companies(
    request: Request, viewer: CurrentViewer, session: ReadSession, page: str | None = None
) -> Response:
    number = page_number(page)
    found = await service.list_companies(
        session, limit=COMPANIES_PER_PAGE + 1, offset=(number - 1) * COMPANIES_PER_PAGE
    )
    return render(
        request,
        "routing/companies.html",
        {
            "companies": found[:COMPANIES_PER_PAGE],
            "page": number,
            "has_next": len(found) > COMPANIES_PER_PAGE,
            "base": f"{PREFIX}/routing/companies",
        },
        viewer=viewer,
    )
