"""Document 003: restaurant owners submit registrations; admins approve or reject them."""

from conveyor.module import Module
from conveyor.restaurant_registrations import demo
from conveyor.restaurant_registrations.router import REVIEWS, router

module = Module(name="restaurant_registrations", routers=[router], surface=REVIEWS, demo=demo.load)

__all__ = ["module"]
