"""Document 000: restaurants onboarded in batches through six steps, two of them by a person."""

from conveyor.batches import demo, tasks
from conveyor.batches.router import BATCHES, batches, jobs, leads
from conveyor.module import Module

module = Module(name="batches", routers=[batches, jobs, leads], surface=BATCHES, demo=demo.load)

__all__ = ["module", "tasks"]
