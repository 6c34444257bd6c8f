"""Task pages (admins only): queue depth by task name and status; dead tasks with their last
error and a replay button."""

import re

from conveyor.database import Database
from conveyor.tasks import PermanentFailure, Registry, TaskContext, Worker, enqueue, get, task
from tests.console.conftest import Console
from tests.console.html import element, text
from tests.tasks.conftest import FAST, running, status_is, wait_for


def _tbody(html: str, table_id: str) -> str:
    table = html[html.index(f'id="{table_id}"') :]
    return table[table.index("<tbody>") : table.index("</tbody>")]


def _flaky(registry: Registry, outage: dict[str, bool]) -> None:
    @task("console.ping", max_attempts=2, into=registry)
    async def ping(ctx: TaskContext, payload: dict[str, object]) -> None:
        if outage["on"]:
            raise PermanentFailure("partner API refused the call (HTTP 503)")


async def test_an_admin_sees_queue_depth_and_replays_a_dead_task(
    admin: Console, database: Database
) -> None:
    registry = Registry()
    outage = {"on": True}
    _flaky(registry, outage)
    async with database.transaction() as session:
        dead = (await enqueue(session, "console.ping", tasks=registry)).id
        await enqueue(session, "console.ping", tasks=registry, delay=3600)
    async with running(Worker(database, FAST, tasks=registry)):
        await wait_for(status_is(database, dead, "dead"))

    page = await admin.get("/console/tasks")
    # Per task: queued, running, succeeded, dead, cancelled.
    assert element(page.text, "queue-depth") == (
        "Task Queued Running Succeeded Dead Cancelled "
        "console.ping default 1 0 0 1 0 All tasks 1 0 0 1 0"
    )
    assert "Dead tasks (1)" in text(page.text)
    (row,) = re.findall(r"<tr>(.*?)</tr>", _tbody(page.text, "dead-tasks"), flags=re.S)
    assert text(row).startswith(f"console.ping #{dead} 1 of 2 ")  # permanent: no retry
    assert (
        "conveyor.tasks.exceptions.PermanentFailure: partner API refused the call (HTTP 503)"
        in text(row)
    )

    outage["on"] = False
    replayed = await admin.post(f"/console/tasks/{dead}/replay")
    assert replayed.status_code == 303
    page = await admin.get(replayed.headers["location"])
    shown = text(page.text)
    assert f"Task {dead} (console.ping) is queued again with fresh attempts." in shown
    assert "No dead tasks." in shown
    async with database.read() as session:
        assert (await get(session, dead)).attempts == 0

    async with running(Worker(database, FAST, tasks=registry)):
        await wait_for(status_is(database, dead, "succeeded"))
    depth = element((await admin.get("/console/tasks")).text, "queue-depth")
    assert "console.ping default 1 0 1 0 0" in (depth or "")

    again = await admin.post(f"/console/tasks/{dead}/replay")
    page = await admin.get(again.headers["location"])
    assert "only dead or cancelled tasks can be replayed" in text(page.text)
    gone = await admin.post("/console/tasks/999999/replay")
    page = await admin.get(gone.headers["location"])
    assert "Task 999999 no longer exists." in text(page.text)
