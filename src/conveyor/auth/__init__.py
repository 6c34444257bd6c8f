"""Identity: users, password sign-in and bearer tokens."""

from conveyor.auth.router import router
from conveyor.errors import PLATFORM
from conveyor.module import Module

module = Module(name="auth", routers=[router], surface=PLATFORM)
