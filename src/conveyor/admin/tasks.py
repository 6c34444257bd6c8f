"""Routes for seeing and repairing background tasks: list, inspect, replay, cancel."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Query
from pydantic import BaseModel, ConfigDict

from conveyor import tasks
from conveyor.auth.policies import ADMIN
from conveyor.database import ReadSession, WriteSession
from conveyor.errors import PLATFORM, ConflictError, NotFoundError
from conveyor.kit.paging import Offset

TaskId = Annotated[int, Path(ge=1, le=2**63 - 1)]
"""Task ids are 64-bit: larger numbers are a 422, not a database overflow."""

router = PLATFORM.router(
    prefix="/api/v1/admin/tasks", tags=["admin: tasks"], dependencies=[Depends(ADMIN)]
)


class TaskRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    queue: str
    status: tasks.TaskStatus
    priority: int
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    key: str | None
    run_at: datetime
    locked_by: str | None
    locked_until: datetime | None
    cancel_requested: bool
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class TaskPage(BaseModel):
    items: list[TaskRead]
    total: int
    limit: int
    offset: int


class TaskCount(BaseModel):
    queue: str
    name: str
    status: tasks.TaskStatus
    count: int


async def _get_or_404(session: Any, task_id: int) -> tasks.Task:
    try:
        return await tasks.get(session, task_id)
    except tasks.TaskNotFound:
        raise NotFoundError(f"Task {task_id} not found") from None


@router.get("", response_model=TaskPage, summary="List tasks, newest first")
async def list_tasks(
    session: ReadSession,
    status: tasks.TaskStatus | None = None,
    name: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Offset = 0,
) -> TaskPage:
    items, total = await tasks.list_tasks(
        session, status=status, name=name, limit=limit, offset=offset
    )
    return TaskPage(
        items=[TaskRead.model_validate(item) for item in items],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/stats", response_model=list[TaskCount], summary="Task counts by queue, name, status")
async def task_stats(session: ReadSession) -> list[TaskCount]:
    return [
        TaskCount(queue=queue, name=name, status=tasks.TaskStatus(status), count=count)
        for queue, name, status, count in await tasks.stats(session)
    ]


@router.get("/{task_id}", response_model=TaskRead, summary="One task, with its last error")
async def get_task(task_id: TaskId, session: ReadSession) -> TaskRead:
    return TaskRead.model_validate(await _get_or_404(session, task_id))


@router.post(
    "/{task_id}/replay",
    response_model=TaskRead,
    summary="Put a dead (or cancelled) task back in its queue with fresh attempts",
)
async def replay_task(task_id: TaskId, session: WriteSession) -> TaskRead:
    await _get_or_404(session, task_id)
    try:
        return TaskRead.model_validate(await tasks.replay(session, task_id))
    except tasks.InvalidTransition as exc:
        raise ConflictError(str(exc)) from None


@router.post(
    "/{task_id}/cancel",
    response_model=TaskRead,
    summary="Cancel a queued task, or ask a running one to stop",
)
async def cancel_task(task_id: TaskId, session: WriteSession) -> TaskRead:
    await _get_or_404(session, task_id)
    try:
        await tasks.cancel(session, task_id)
    except tasks.InvalidTransition as exc:
        raise ConflictError(str(exc)) from None
    return TaskRead.model_validate(await tasks.get(session, task_id))
