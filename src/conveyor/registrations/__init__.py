"""Document 001: bank customers register for digital banking; third parties poll the status."""

from conveyor.module import Module
from conveyor.registrations import demo, models, tasks
from conveyor.registrations.router import REGISTRATIONS, router

module = Module(name="registrations", routers=[router], surface=REGISTRATIONS, demo=demo.load)

__all__ = ["models", "module", "tasks"]
