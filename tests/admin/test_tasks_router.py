"""The admin API for tasks: list, inspect, replay, cancel, in the platform error format."""

import httpx
from sqlalchemy import update

from conveyor.database import Database
from conveyor.kit.clock import utcnow
from conveyor.tasks import Task, TaskStatus, enqueue
from tests.tasks import handlers  # noqa: F401 - registers the accept.* tasks


async def _seed(database: Database) -> tuple[int, int]:
    async with database.transaction() as session:
        queued = await enqueue(session, "accept.sleep", {"seconds": 1}, key="k-1")
        dead = await enqueue(session, "accept.poison", {})
        await session.execute(
            update(Task)
            .where(Task.id == dead.id)
            .values(status=TaskStatus.DEAD, attempts=3, last_error="Killed", finished_at=utcnow())
        )
    return queued.id, dead.id


async def test_list_filters_and_pages(admin_client: httpx.AsyncClient, database: Database) -> None:
    queued_id, dead_id = await _seed(database)
    everything = (await admin_client.get("/api/v1/admin/tasks")).json()
    assert everything["total"] == 2
    assert [item["id"] for item in everything["items"]] == [dead_id, queued_id]
    dead = (await admin_client.get("/api/v1/admin/tasks", params={"status": "dead"})).json()
    assert [item["id"] for item in dead["items"]] == [dead_id]
    assert dead["items"][0]["last_error"] == "Killed"
    by_name = (
        await admin_client.get("/api/v1/admin/tasks", params={"name": "accept.sleep"})
    ).json()
    assert by_name["items"][0]["key"] == "k-1"
    page = (await admin_client.get("/api/v1/admin/tasks", params={"limit": 1, "offset": 1})).json()
    assert (page["total"], page["limit"], page["offset"]) == (2, 1, 1)
    assert [item["id"] for item in page["items"]] == [queued_id]


async def test_page_size_is_capped_and_bad_filters_rejected(
    admin_client: httpx.AsyncClient,
) -> None:
    too_big = await admin_client.get("/api/v1/admin/tasks", params={"limit": 101})
    assert too_big.status_code == 422
    assert too_big.json()["error_code"] == "VALIDATION_ERROR"
    assert "limit" in too_big.json()["detail"]
    bad_status = await admin_client.get("/api/v1/admin/tasks", params={"status": "sleeping"})
    assert bad_status.status_code == 422
    assert "status" in bad_status.json()["detail"]


async def test_show_replay_and_cancel(admin_client: httpx.AsyncClient, database: Database) -> None:
    queued_id, dead_id = await _seed(database)
    shown = (await admin_client.get(f"/api/v1/admin/tasks/{dead_id}")).json()
    assert (shown["status"], shown["attempts"], shown["name"]) == ("dead", 3, "accept.poison")

    replayed = await admin_client.post(f"/api/v1/admin/tasks/{dead_id}/replay")
    assert replayed.status_code == 200
    assert (replayed.json()["status"], replayed.json()["attempts"]) == ("queued", 0)
    again = await admin_client.post(f"/api/v1/admin/tasks/{dead_id}/replay")
    assert again.status_code == 409
    assert again.json()["error_code"] == "CONFLICT"
    assert "only dead or cancelled" in again.json()["detail"]

    cancelled = await admin_client.post(f"/api/v1/admin/tasks/{queued_id}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert (await admin_client.post(f"/api/v1/admin/tasks/{queued_id}/cancel")).status_code == 409


async def test_unknown_tasks_are_404(admin_client: httpx.AsyncClient) -> None:
    for response in (
        await admin_client.get("/api/v1/admin/tasks/424242"),
        await admin_client.post("/api/v1/admin/tasks/424242/replay"),
        await admin_client.post("/api/v1/admin/tasks/424242/cancel"),
    ):
        assert response.status_code == 404
        assert response.json()["detail"] == "Task 424242 not found"
        assert response.json()["error_code"] == "NOT_FOUND"


async def test_stats_and_queue_depth_metric(
    admin_client: httpx.AsyncClient, database: Database
) -> None:
    await _seed(database)
    stats = (await admin_client.get("/api/v1/admin/tasks/stats")).json()
    assert {(row["name"], row["status"], row["count"]) for row in stats} == {
        ("accept.sleep", "queued", 1),
        ("accept.poison", "dead", 1),
    }
    metrics = (await admin_client.get("/metrics")).text
    assert 'queue_depth{queue="default",status="queued"} 1.0' in metrics
    assert 'queue_depth{queue="default",status="dead"} 1.0' in metrics
    assert 'queue_depth{queue="default",status="running"} 0.0' in metrics
