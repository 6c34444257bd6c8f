"""The operator console at /console: server-rendered pages over the same services as the API.

Operators run batches (000), follow routing (004) and look up registrations (001); admins also
review restaurant registrations (003) and repair background tasks. Sign-in uses the platform's
users, in a cookie session with a CSRF token on every form.
"""

from conveyor.console.pages import batches, registrations, reviews, routing, session, tasks
from conveyor.console.web import CONSOLE
from conveyor.module import Module

module = Module(
    name="console",
    routers=[
        session.router,
        batches.router,
        routing.router,
        registrations.router,
        reviews.router,
        tasks.router,
    ],
    surface=CONSOLE,
)

__all__ = ["module"]
