"""The shared Restaurant entity and its operator API (/api/restaurants)."""

from conveyor.module import Module
from conveyor.restaurants import demo
from conveyor.restaurants.router import RESTAURANTS, router

module = Module(name="restaurants", routers=[router], surface=RESTAURANTS, demo=demo.load)

__all__ = ["module"]
