"""Task pages (admins only): how many tasks each handler has in each status, and the dead
ones with their last error and a button to replay them."""

from fastapi import Depends, Request
from starlette.responses import Response

from conveyor import tasks
from conveyor.auth.policies import CONSOLE_ADMIN
from conveyor.console.web import (
    CONSOLE,
    PREFIX,
    CheckedForm,
    CurrentViewer,
    page_number,
    redirect,
    render,
)
from conveyor.database import CurrentDatabase, ReadSession

router = CONSOLE.router(
    PREFIX, tags=["console"], include_in_schema=False, dependencies=[Depends(CONSOLE_ADMIN)]
)

TASKS = f"{PREFIX}/tasks"
DEAD_PER_PAGE = 20
STATUSES = [status.value for status in tasks.TaskStatus]


@router.get("/tasks")
async def overview(
    request: Request, viewer: CurrentViewer, session: ReadSession, page: str | None = None
) -> Response:
    depth: dict[tuple[str, str], dict[str, int]] = {}
    for queue, name, status, count in await tasks.stats(session):
        depth.setdefault((name, queue), dict.fromkeys(STATUSES, 0))[status] = count
    totals = {status: sum(counts[status] for counts in depth.values()) for status in STATUSES}
    number = page_number(page)
    dead, dead_total = await tasks.list_tasks(
        session,
        status=tasks.TaskStatus.DEAD,
        limit=DEAD_PER_PAGE,
        offset=(number - 1) * DEAD_PER_PAGE,
    )
    return render(
        request,
        "tasks/overview.html",
        {
            "depth": sorted(depth.items()),
            "totals": totals,
            "statuses": STATUSES,
            "dead": dead,
            "dead_total": dead_total,
            "page": number,
            "has_next": number * DEAD_PER_PAGE < dead_total,
            "total_pages": max(1, -(-dead_total // DEAD_PER_PAGE)),
            "base": TASKS,
        },
        viewer=viewer,
    )


@router.post("/tasks/{task_id}/replay")
async def replay(
    request: Request, task_id: int, form: CheckedForm, database: CurrentDatabase
) -> Response:
    try:
        async with database.transaction() as session:
            task = await tasks.replay(session, task_id)
    except tasks.TaskNotFound:
        return redirect(request, TASKS, error=f"Task {task_id} no longer exists.")
    except tasks.InvalidTransition as exc:
        return redirect(request, TASKS, error=f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
    return redirect(
        request, TASKS, notice=f"Task {task.id} ({task.name}) is queued again with fresh attempts."
    )
