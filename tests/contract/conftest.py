"""The contract tests' shared parts: each module performs its document's request examples in
the document's order, with the setup they assume, and compares every answer with the
document's own example through `assert_like` (also used by tests/registrations for 001).

Where the service deliberately differs from an example, the test says so next to the
assertion and names the row of docs/spec-decisions.md that records why."""

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from conveyor.auth import service as auth_service
from conveyor.auth.models import Role
from conveyor.config import Settings
from conveyor.database import Database
from conveyor.kit.clock import utcnow
from conveyor.tasks import Task, Worker
from tests.support import PASSWORD, REDIS_URL, make_settings


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The documents' rate limits would stop a walk through every example (and its polling);
    the limits are tested where they are declared. A module that checks the limit headers
    overrides this fixture."""
    return make_settings(database_url, redis_url=REDIS_URL, rate_limits_enabled=False)


def fill(example: Any, ids: Mapping[str, str]) -> Any:
    """A request example with the document's placeholders (`"job1"`, `"uuid1"`) replaced by
    the ids the setup made, in keys and in values."""
    if isinstance(example, dict):
        return {ids.get(key, key): fill(value, ids) for key, value in example.items()}
    if isinstance(example, list):
        return [fill(value, ids) for value in example]
    if isinstance(example, str):
        return ids.get(example, example)
    return example


async def sign_in(
    database: Database,
    settings: Settings,
    *,
    name: str,
    email: str,
    roles: tuple[Role, ...] = (Role.USER,),
    signup_completed: bool = True,
) -> tuple[str, dict[str, str]]:
    """A new user with this name: their id, and `Authorization` headers for them."""
    async with database.transaction() as session:
        user = await auth_service.create_user(
            session,
            email=email,
            password=PASSWORD,
            name=name,
            roles=roles,
            signup_completed=signup_completed,
        )
    token = auth_service.issue_token(
        user, secret=settings.secret_key.get_secret_value(), lifetime=timedelta(minutes=10)
    )
    return str(user.id), {"Authorization": f"Bearer {token}"}


async def hurry(database: Database, worker: Worker) -> None:
    """Skip the engine's backoff: every queued task is due now."""
    async with database.transaction() as session:
        await session.execute(update(Task).where(Task.status == "queued").values(run_at=utcnow()))
    worker.wake()


# --- answers against a document's examples ---------------------------------------------------

UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")


@dataclass(frozen=True)
class Like:
    """In an example, a value the answer cannot repeat (it depends on the setup): what the
    answer must hold there instead."""

    what: str
    check: Callable[[Any], bool]

    def __repr__(self) -> str:
        return f"<{self.what}>"


UUID = Like("a UUID", lambda value: isinstance(value, str) and bool(UUID_TEXT.fullmatch(value)))
COUNT = Like("an integer >= 0", lambda value: type(value) is int and value >= 0)
TEXT = Like("a sentence", lambda value: isinstance(value, str) and bool(value.strip()))


def exactly(expected: Any) -> Like:
    """The value the setup made, where the example has a placeholder for it."""
    return Like(repr(expected), lambda value: value == expected)


def _is_id(name: str) -> bool:
    return name == "id" or name.endswith(("_id", "Id"))


def _names(entry: str, path: str) -> bool:
    """Whether the `extra` entry names `path`: `[]` in an entry stands for every index."""
    pattern = re.escape(entry).replace(r"\[\]", r"\[\d+\]")
    return re.fullmatch(pattern, path) is not None


def _parent(entry: str) -> str:
    return entry.rsplit(".", 1)[0] if "." in entry else ""


def assert_like(
    actual: Any,
    example: Any,
    *,
    ids: Mapping[str, Any] | None = None,
    extra: Collection[str] = (),
    path: str = "",
) -> None:
    """`actual` is the document's `example` field by field: the same keys, the same values,
    apart from what no two runs share:

    - ids (`id`, `*_id`, `*Id`): an integer where the example has one, else a UUID; an example
      value named in `ids` (a placeholder such as `"uuid1"`) must be exactly the value given;
    - timestamps: ISO 8601 in UTC with `Z`, whole seconds or a fraction of them
      (docs/spec-decisions.md, all "Timestamp precision"); exactly as many digits as the
      example when it shows a fraction (001's `.000Z`);
    - `Like` values in the example: their check.

    Fields the answer has beyond the example (deliberate additions) are named in `extra` by
    path: `batch_job.completed_at`, `jobs[].error` (in every element), `stages[3]` (one more
    list element). Each one named must be there, so that the list cannot go stale.
    """
    ids = ids or {}
    name = path.rsplit(".", 1)[-1].split("[", 1)[0]
    where = path or "answer"
    if isinstance(example, Like):
        try:
            fits = example.check(actual)
        except (TypeError, AttributeError, KeyError):  # not even the right kind of value
            fits = False
        assert fits, f"{where}: {actual!r} is not {example.what}"
    elif isinstance(example, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not an object"
        declared = {
            entry.rsplit(".", 1)[-1]
            for entry in extra
            if not entry.endswith("]") and _names(_parent(entry), path)
        }
        assert not declared & set(example), f"{where}: {declared & set(example)} are examples"
        assert declared <= set(actual), f"{where}: the extra {declared - set(actual)} are missing"
        assert set(actual) - declared == set(example), (
            f"{where}: missing {sorted(set(example) - set(actual))}, "
            f"not in the example {sorted(set(actual) - declared - set(example))}"
        )
        for key, value in example.items():
            field = f"{path}.{key}" if path else key
            assert_like(actual[key], value, ids=ids, extra=extra, path=field)
    elif isinstance(example, list):
        assert isinstance(actual, list), f"{where}: {actual!r} is not a list"
        more = sorted(
            int(entry[len(path) + 1 : -1])
            for entry in extra
            if entry.startswith(f"{path}[") and entry[len(path) + 1 : -1].isdigit()
        )
        assert len(actual) == len(example) + len(more), (
            f"{where}: {len(actual)} elements; the example has {len(example)}, plus {len(more)}"
        )
        for index, value in enumerate(example):
            assert_like(actual[index], value, ids=ids, extra=extra, path=f"{path}[{index}]")
    elif isinstance(example, str) and example in ids:
        assert actual == ids[example], f"{where}: {actual!r} is not {example} ({ids[example]!r})"
    elif _is_id(name) and type(example) is int:
        assert COUNT.check(actual), f"{where}: {actual!r} is not an integer"
        assert actual > 0, f"{where}: {actual!r} is not positive"
    elif _is_id(name) and isinstance(example, str):
        assert UUID.check(actual), f"{where}: {actual!r} is not a UUID"
    elif isinstance(example, str) and TIMESTAMP.fullmatch(example):
        match = TIMESTAMP.fullmatch(actual) if isinstance(actual, str) else None
        assert match, f"{where}: {actual!r} is not ISO 8601 UTC with Z"
        if "." in example:
            assert len(match.group(1) or "") == len(example.split(".")[1]), (
                f"{where}: {actual!r} is not as precise as {example!r}"
            )
    else:
        same_type = type(actual) is type(example) or {type(actual), type(example)} == {int, float}
        assert same_type, f"{where}: {actual!r} is not of the type of {example!r}"
        assert actual == example, f"{where}: {actual!r} != {example!r}"
