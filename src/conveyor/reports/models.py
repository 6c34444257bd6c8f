"""Tables of document 002: report section jobs, and what is known about customers and
opportunities (the context the sections are written from)."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from conveyor.database import Base, TimestampMixin


class ReportType(StrEnum):
    """The document's report types, spelled exactly as it spells them."""

    FEASIBILITY_REPORT = "Feasibility_report"
    TECHNICAL_SCOPE = "Technical_scope"
    COMMERCIAL_PROPOSAL = "Commercial_proposal"


class ReportAction(StrEnum):
    GENERATE = "generate"
    """`POST /generate`: write a section from the catalogue's template and the context."""
    REFINE = "refine"
    """`POST /refine`: rewrite the given section as the prompt asks."""


class ReportJobStatus(StrEnum):
    PENDING = "pending"
    """Queued: no worker has started it yet."""
    RUNNING = "running"
    """A worker is writing the section (or waits to retry after the writer failed)."""
    COMPLETED = "completed"
    """The section is written (`section_markdown`)."""
    FAILED = "failed"
    """No section: `error_code` and `error_message` say why."""


ACTIVE_JOB_STATUSES = (ReportJobStatus.PENDING, ReportJobStatus.RUNNING)

ACTIVE_INDEX_WHERE = text("status IN ('pending', 'running')")
"""The partial unique index's predicate, repeated as literal SQL by ON CONFLICT (bound
parameters stop PostgreSQL matching the index once a prepared statement goes generic)."""


class ReportJob(TimestampMixin, Base):
    """One request to generate or refine a section, durable from the moment it is accepted."""

    __tablename__ = "report_job"
    __table_args__ = (
        # An identical request of the same session while one is active is answered `busy`.
        Index(
            "uq_report_job_active",
            "api_key_id",
            "session_id",
            "request_hash",
            unique=True,
            postgresql_where=ACTIVE_INDEX_WHERE,
            sqlite_where=ACTIVE_INDEX_WHERE,
        ),
        Index("ix_report_job_expires_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    api_key_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("api_key.id", ondelete="CASCADE")
    )
    """The key that created the job: the only one that may see it."""
    session_id: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(10))
    report_type: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[str] = mapped_column(String(255))
    opportunity_id: Mapped[str] = mapped_column(String(255))
    section_title: Mapped[str] = mapped_column(String(200))
    """The catalogue's canonical title."""
    original_text: Mapped[str | None] = mapped_column(Text)
    """Refinement only: the section to refine, decoded from base64."""
    prompt: Mapped[str | None] = mapped_column(Text)
    request_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 of everything the request asked for (what makes two requests identical)."""
    status: Mapped[str] = mapped_column(String(20), default=ReportJobStatus.PENDING.value)
    section_markdown: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(String(1000))
    started_at: Mapped[datetime | None]
    """When a worker first took the job: its time limit counts from here."""
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime]
    """When the job is forgotten: `reports_expiry_hours` after it finished (or, if it never
    finishes, after it was created)."""


class ReportCustomer(TimestampMixin, Base):
    """What an API key's frontend told us about a customer (`PUT /context/customers/{id}`)."""

    __tablename__ = "report_customer"

    api_key_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("api_key.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    facts: Mapped[dict[str, Any]]
    """The `CustomerFacts` as stored (name, industry, location, ...)."""


class ReportOpportunity(TimestampMixin, Base):
    """What an API key's frontend told us about an opportunity
    (`PUT /context/opportunities/{id}`)."""

    __tablename__ = "report_opportunity"

    api_key_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("api_key.id", ondelete="CASCADE"), primary_key=True
    )
    opportunity_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    facts: Mapped[dict[str, Any]]
    """The `OpportunityFacts` as stored (name, summary, objectives, ...)."""
