"""Idempotency keys for the POSTs that create something; see `service` for the rules."""

from conveyor.idempotency import tasks
from conveyor.idempotency.models import IdempotencyRecord
from conveyor.idempotency.service import (
    HEADER,
    IDEMPOTENT,
    REPLAYED_HEADER,
    IdempotencyMiddleware,
    Replay,
    replay_handler,
)
from conveyor.module import Module

module = Module(name="idempotency")

__all__ = [
    "HEADER",
    "IDEMPOTENT",
    "REPLAYED_HEADER",
    "IdempotencyMiddleware",
    "IdempotencyRecord",
    "Replay",
    "module",
    "replay_handler",
    "tasks",
]
