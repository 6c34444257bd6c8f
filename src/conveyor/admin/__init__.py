"""Operator APIs for the platform itself (tasks, API keys, webhooks); admins only."""

from conveyor.admin.api_keys import router as api_keys_router
from conveyor.admin.tasks import router as tasks_router
from conveyor.errors import PLATFORM
from conveyor.module import Module

module = Module(name="admin", routers=[tasks_router, api_keys_router], surface=PLATFORM)
