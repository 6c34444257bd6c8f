"""Declaring task handlers: `@task("<package>.<verb>", ...)`."""

import inspect
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, get_type_hints

from cronsim import CronSim, CronSimError
from pydantic import BaseModel

from conveyor.tasks.exceptions import UnknownTask
from conveyor.tasks.policy import Backoff, RetryPolicy

if TYPE_CHECKING:
    from conveyor.tasks.context import TaskContext

Handler = Callable[["TaskContext", Any], Awaitable[None]]


@dataclass(frozen=True)
class TaskDefinition:
    """A registered handler and its policies; what `enqueue` accepts besides a name."""

    name: str
    handler: Handler
    payload_model: type[BaseModel] | None = None
    queue: str = "default"
    priority: int = 0
    max_attempts: int = 5
    backoff: RetryPolicy = field(default_factory=Backoff)
    timeout: timedelta | None = timedelta(minutes=5)
    cron: str | None = None

    def dump_payload(self, payload: BaseModel | dict[str, Any] | None) -> dict[str, Any]:
        """Validate a payload at enqueue time and turn it into JSON-ready data."""
        if self.payload_model is not None:
            model = (
                payload
                if isinstance(payload, self.payload_model)
                else self.payload_model.model_validate(payload or {})
            )
            return model.model_dump(mode="json")
        if isinstance(payload, BaseModel):
            return payload.model_dump(mode="json")
        return dict(payload or {})

    def load_payload(self, data: dict[str, Any]) -> Any:
        if self.payload_model is not None:
            return self.payload_model.model_validate(data)
        return data


class Registry:
    """Task definitions by name. One per process (`registry`); tests may build their own."""

    def __init__(self) -> None:
        self._definitions: dict[str, TaskDefinition] = {}

    def add(self, definition: TaskDefinition) -> TaskDefinition:
        existing = self._definitions.get(definition.name)
        if existing is not None and existing.handler is not definition.handler:
            raise ValueError(f"task {definition.name!r} is already registered")
        self._definitions[definition.name] = definition
        return definition

    def get(self, name: str) -> TaskDefinition:
        try:
            return self._definitions[name]
        except KeyError:
            raise UnknownTask(name) from None

    def resolve(self, handler_or_name: "TaskDefinition | str") -> TaskDefinition:
        if isinstance(handler_or_name, TaskDefinition):
            return handler_or_name
        return self.get(handler_or_name)

    def periodic(self) -> list[TaskDefinition]:
        return [definition for definition in self if definition.cron is not None]

    def __iter__(self) -> Iterator[TaskDefinition]:
        return iter(list(self._definitions.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._definitions


registry = Registry()
"""The process-wide registry that `@task` writes to and workers read."""


def _payload_model(handler: Handler) -> type[BaseModel] | None:
    parameters = list(inspect.signature(handler).parameters)
    if len(parameters) != 2:
        raise TypeError(f"{handler.__qualname__} must take (ctx, payload)")
    hint = get_type_hints(handler).get(parameters[1])
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        return hint
    return None


def task(
    name: str,
    *,
    queue: str = "default",
    priority: int = 0,
    max_attempts: int = 5,
    backoff: RetryPolicy | None = None,
    timeout: timedelta | None = timedelta(minutes=5),
    cron: str | None = None,
    into: Registry | None = None,
) -> Callable[[Handler], TaskDefinition]:
    """Register an async handler `(ctx, payload)`; a Pydantic payload type is validated.

    `cron` (five fields, UTC) makes the task periodic: workers enqueue it once per slot.
    """
    if "." not in name:
        raise ValueError(f"task names are '<package>.<verb>', got {name!r}")
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    if cron is not None:
        try:
            CronSim(cron, datetime(2000, 1, 1, tzinfo=UTC))
        except CronSimError as exc:
            raise ValueError(f"invalid cron expression {cron!r}: {exc}") from None

    def decorate(handler: Handler) -> TaskDefinition:
        definition = TaskDefinition(
            name=name,
            handler=handler,
            payload_model=_payload_model(handler),
            queue=queue,
            priority=priority,
            max_attempts=max_attempts,
            backoff=backoff or Backoff(),
            timeout=timeout,
            cron=cron,
        )
        return (into or registry).add(definition)

    return decorate
