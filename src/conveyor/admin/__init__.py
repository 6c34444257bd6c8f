"""Operator APIs for the platform itself (tasks now; users, API keys and webhooks join)."""

from conveyor.admin.tasks import router as tasks_router
from conveyor.errors import PLATFORM
from conveyor.module import Module

module = Module(name="admin", routers=[tasks_router], surface=PLATFORM)
