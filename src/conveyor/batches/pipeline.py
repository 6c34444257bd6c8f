"""The onboarding pipeline as data: its six steps, step 6's sub-steps, and every legal
transition of a step, a job and a batch. Services ask `check()` before they change a status,
so an illegal move is a bug caught here, not a corrupted batch.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

S = TypeVar("S", bound=StrEnum)


class BatchStatus(StrEnum):
    PENDING = "pending"
    """Created, not started."""
    IN_PROGRESS = "in_progress"
    """Started; at least one job is not finished."""
    COMPLETED = "completed"
    """Every job finished and at least one completed."""
    FAILED = "failed"
    """Every job failed."""
    CANCELLED = "cancelled"
    """Stopped by an operator."""


class JobStatus(StrEnum):
    PENDING = "pending"
    """Its batch has not started."""
    IN_PROGRESS = "in_progress"
    """An automatic step is queued or running."""
    ACTION_REQUIRED = "action_required"
    """Waiting for an operator (step 3 or 5, or step 2 when the registry found nothing)."""
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class StepStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    ACTION_REQUIRED = "action_required"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class StepType(StrEnum):
    AUTOMATIC = "automatic"
    ACTION_REQUIRED = "action_required"


@dataclass(frozen=True)
class Step:
    number: int
    name: str
    type: StepType

    @property
    def automatic(self) -> bool:
        return self.type is StepType.AUTOMATIC


STEPS = (
    Step(1, "Menu & Branding Extraction", StepType.AUTOMATIC),
    Step(2, "Contact Details Search", StepType.AUTOMATIC),
    Step(3, "Company Selection", StepType.ACTION_REQUIRED),
    Step(4, "Company Details Extraction", StepType.AUTOMATIC),
    Step(5, "Yolo Mode Configuration", StepType.ACTION_REQUIRED),
    Step(6, "Pumpd Account Setup", StepType.AUTOMATIC),
)
TOTAL_STEPS = len(STEPS)
COMPANY_SEARCH = 2
COMPANY_SELECTION = 3
COMPANY_DETAILS = 4
CONFIGURATION = 5
ACCOUNT_SETUP = 6


def step(number: int) -> Step:
    return STEPS[number - 1]


SUB_STEPS = (
    "account",
    "codeGeneration",
    "restaurantRegistration",
    "websiteConfig",
    "servicesConfig",
    "paymentConfig",
    "menuImport",
    "optionSets",
    "itemTags",
)
"""Step 6's sub-steps in the order they are shown."""

SUB_STEP_STAGES: tuple[tuple[str, ...], ...] = (
    ("account", "codeGeneration"),
    ("restaurantRegistration",),
    ("websiteConfig", "servicesConfig", "paymentConfig", "menuImport"),
    ("optionSets", "itemTags"),
)
"""Sub-steps in dependency order: a stage starts when the one before it has finished; the
sub-steps of one stage run side by side."""

SUB_STEP_NEEDS = {"optionSets": "menuImport", "itemTags": "menuImport"}
"""Sub-steps that make no sense without another (option sets and tags belong to menu items)."""


TERMINAL_JOB = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
ACTIVE_JOB = frozenset({JobStatus.PENDING, JobStatus.IN_PROGRESS, JobStatus.ACTION_REQUIRED})
ACTIVE_BATCH = frozenset({BatchStatus.PENDING, BatchStatus.IN_PROGRESS})
FINISHED_STEP = frozenset({StepStatus.COMPLETED, StepStatus.SKIPPED})
FINISHED_VALUES = frozenset(status.value for status in FINISHED_STEP)
OPEN_STEP = frozenset({StepStatus.PENDING, StepStatus.IN_PROGRESS, StepStatus.ACTION_REQUIRED})


BATCH_TRANSITIONS: dict[BatchStatus, frozenset[BatchStatus]] = {
    BatchStatus.PENDING: frozenset({BatchStatus.IN_PROGRESS, BatchStatus.CANCELLED}),
    BatchStatus.IN_PROGRESS: frozenset(
        {BatchStatus.COMPLETED, BatchStatus.FAILED, BatchStatus.CANCELLED}
    ),
    # A retried job brings a finished batch back to work.
    BatchStatus.COMPLETED: frozenset({BatchStatus.IN_PROGRESS}),
    BatchStatus.FAILED: frozenset({BatchStatus.IN_PROGRESS}),
    BatchStatus.CANCELLED: frozenset(),
}

JOB_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({JobStatus.IN_PROGRESS, JobStatus.CANCELLED}),
    JobStatus.IN_PROGRESS: frozenset(
        {
            JobStatus.ACTION_REQUIRED,
            JobStatus.COMPLETED,
            JobStatus.FAILED,
            JobStatus.CANCELLED,
        }
    ),
    JobStatus.ACTION_REQUIRED: frozenset({JobStatus.IN_PROGRESS, JobStatus.CANCELLED}),
    JobStatus.COMPLETED: frozenset(),
    # Retry: from a chosen step, either running it or asking an operator.
    JobStatus.FAILED: frozenset({JobStatus.IN_PROGRESS, JobStatus.ACTION_REQUIRED}),
    JobStatus.CANCELLED: frozenset(),
}

STEP_TRANSITIONS: dict[StepStatus, frozenset[StepStatus]] = {
    StepStatus.PENDING: frozenset(
        {
            StepStatus.IN_PROGRESS,
            StepStatus.ACTION_REQUIRED,
            StepStatus.SKIPPED,
            StepStatus.CANCELLED,
        }
    ),
    StepStatus.IN_PROGRESS: frozenset(
        {
            StepStatus.COMPLETED,
            StepStatus.FAILED,
            # Step 2 when the registry found no candidate.
            StepStatus.ACTION_REQUIRED,
            StepStatus.CANCELLED,
        }
    ),
    StepStatus.ACTION_REQUIRED: frozenset(
        {
            StepStatus.COMPLETED,
            # Step 2: a new search term runs the search again.
            StepStatus.IN_PROGRESS,
            # Step 2: the operator skips the search and enters the company by hand.
            StepStatus.SKIPPED,
            StepStatus.CANCELLED,
        }
    ),
    # A retry resets the steps from the chosen one onwards.
    StepStatus.COMPLETED: frozenset({StepStatus.PENDING}),
    StepStatus.FAILED: frozenset({StepStatus.PENDING}),
    StepStatus.SKIPPED: frozenset({StepStatus.PENDING}),
    StepStatus.CANCELLED: frozenset(),
}


class IllegalTransition(Exception):
    """A status change the pipeline does not allow (a bug, never a user's mistake)."""


def check(transitions: dict[S, frozenset[S]], current: S, target: S) -> S:
    """`target`, if moving there from `current` is legal."""
    if target not in transitions[current]:
        raise IllegalTransition(f"{current.value} -> {target.value} is not allowed")
    return target


def elapsed_ms(started: datetime, finished: datetime) -> int:
    """A step's `duration_ms` (never negative, whatever the clocks did)."""
    return max(0, int((finished - started).total_seconds() * 1000))


def next_step_status(number: int) -> StepStatus:
    """The status a step takes when a job reaches it."""
    return StepStatus.IN_PROGRESS if step(number).automatic else StepStatus.ACTION_REQUIRED


def job_status_at(number: int) -> JobStatus:
    """The status of a job that has just reached step `number`."""
    return JobStatus.IN_PROGRESS if step(number).automatic else JobStatus.ACTION_REQUIRED


def initial_sub_steps(enabled: dict[str, bool]) -> dict[str, Any]:
    """Step 6's progress when a job reaches it: the first stage under way, disabled ones
    skipped."""
    sub_steps = {
        name: {
            "status": (StepStatus.PENDING if enabled.get(name, True) else StepStatus.SKIPPED).value,
            "attempts": 0,
            "error": None,
        }
        for name in SUB_STEPS
    }
    return start_next_stage({"current_sub_step": None, "sub_steps": sub_steps})


def start_next_stage(progress: dict[str, Any]) -> dict[str, Any]:
    """Mark the pending sub-steps of the first unfinished stage in progress (a copy)."""
    sub_steps = {name: dict(state) for name, state in progress["sub_steps"].items()}
    current = None
    for stage in SUB_STEP_STAGES:
        waiting = [name for name in stage if sub_steps[name]["status"] not in FINISHED_VALUES]
        if waiting:
            for name in waiting:
                if sub_steps[name]["status"] == StepStatus.PENDING.value:
                    sub_steps[name]["status"] = StepStatus.IN_PROGRESS.value
            current = waiting[0]
            break
    return {"current_sub_step": current, "sub_steps": sub_steps}


def unfinished_stage(progress: dict[str, Any]) -> tuple[str, ...]:
    """The sub-steps of the first stage that still has work, or () when all are done."""
    for stage in SUB_STEP_STAGES:
        waiting = tuple(
            name for name in stage if progress["sub_steps"][name]["status"] not in FINISHED_VALUES
        )
        if waiting:
            return waiting
    return ()


def enabled_sub_steps(
    given: dict[str, bool] | None, *, auto_configure_services: bool
) -> dict[str, bool]:
    """Every sub-step on, except services when the batch says so and whatever `given` turns
    off; a sub-step whose need is off is off too unless asked for by name."""
    enabled = dict.fromkeys(SUB_STEPS, True)
    enabled["servicesConfig"] = auto_configure_services
    enabled.update(given or {})
    for name, needed in SUB_STEP_NEEDS.items():
        if not enabled[needed] and name not in (given or {}):
            enabled[name] = False
    return enabled


def password_from_pattern(pattern: str, restaurant_name: str) -> str:
    """`Restaurantname789!` with the restaurant's name, alphanumerics only, capitalised."""
    word = "".join(char for char in restaurant_name if char.isalnum())
    return pattern.replace("Restaurantname", word[:1].upper() + word[1:].lower())


@dataclass
class JobGroup:
    """The jobs of one batch in one status: how many, and the steps they are on."""

    count: int
    step_sum: int
    min_step: int
    max_step: int
    last_updated: datetime | None = None


@dataclass
class Tally:
    """A batch's jobs grouped by status: everything progress and summaries are made of.

    A job's steps before its `current_step` are all completed or skipped, so the finished
    steps of a batch follow from the groups alone, without reading a single step row.
    """

    groups: dict[JobStatus, JobGroup]

    def count(self, status: JobStatus) -> int:
        group = self.groups.get(status)
        return group.count if group else 0

    @property
    def total(self) -> int:
        return sum(group.count for group in self.groups.values())

    @property
    def progress_percent(self) -> int:
        """Completed-or-skipped steps of the jobs not cancelled, over all their steps."""
        finished = total = 0
        for status, group in self.groups.items():
            if status is JobStatus.CANCELLED:
                continue
            total += TOTAL_STEPS * group.count
            if status is JobStatus.COMPLETED:
                finished += TOTAL_STEPS * group.count
            else:
                finished += group.step_sum - group.count
        return 0 if total == 0 else finished * 100 // total

    @property
    def current_step(self) -> int:
        """The lowest step an unfinished job is on; when all are finished, the furthest."""
        active = [self.groups[status].min_step for status in ACTIVE_JOB if status in self.groups]
        if active:
            return min(active)
        return max((group.max_step for group in self.groups.values()), default=1)

    @property
    def last_updated(self) -> datetime | None:
        return max((g.last_updated for g in self.groups.values() if g.last_updated), default=None)

    @property
    def step_requiring_action(self) -> int | None:
        group = self.groups.get(JobStatus.ACTION_REQUIRED)
        return group.min_step if group else None

    def outcome(self) -> "BatchStatus | None":
        """What a started batch becomes: None while any job is still active."""
        if any(self.count(status) for status in ACTIVE_JOB):
            return None
        if self.count(JobStatus.COMPLETED):
            return BatchStatus.COMPLETED
        if self.count(JobStatus.FAILED):
            return BatchStatus.FAILED
        return BatchStatus.CANCELLED
