"""What handlers raise to steer the engine, and what the engine raises to callers."""

from datetime import timedelta


class Retry(Exception):
    """Run this task again later without counting the attempt (e.g. an outside job is busy)."""

    def __init__(self, after: float | timedelta = 0.0, reason: str = "retry requested") -> None:
        self.after = after.total_seconds() if isinstance(after, timedelta) else float(after)
        super().__init__(reason)


class PermanentFailure(Exception):
    """This task can never succeed; move it straight to the dead-letter queue."""


class Cancelled(Exception):
    """The handler stopped because the task was cancelled while running."""


class LeaseLost(Exception):
    """The worker no longer owns this attempt (its lease expired and the task was rescued)."""


class UnknownTask(LookupError):
    """No handler is registered under this task name."""


class TaskNotFound(LookupError):
    """No task has this id."""


class InvalidTransition(Exception):
    """The task is not in a status that allows this operation."""
