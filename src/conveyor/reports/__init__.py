"""Document 002: report sections generated or refined by background jobs that frontends poll."""

from conveyor.module import Module
from conveyor.reports import models, tasks
from conveyor.reports.router import REPORTS, router

module = Module(
    name="reports",
    routers=[router],
    surface=REPORTS,
    prefix=lambda settings: settings.reports_prefix,
)

__all__ = ["models", "module", "tasks"]
