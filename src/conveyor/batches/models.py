"""Tables of the batches package: registration batches, their jobs and steps, and leads."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from conveyor.batches.pipeline import BatchStatus, JobStatus, StepStatus
from conveyor.database import Base, TimestampMixin


class RegistrationBatch(TimestampMixin, Base):
    __tablename__ = "registration_batch"
    __table_args__ = (Index("ix_registration_batch_status_created", "status", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default=BatchStatus.PENDING.value)
    total_restaurants: Mapped[int]
    execution_config: Mapped[dict[str, Any]]
    """The batch's defaults: `default_password_pattern`, `auto_configure_services`."""
    source_lead_scrape_job_id: Mapped[uuid.UUID | None]
    created_by: Mapped[str | None] = mapped_column(String(100))
    """Who created it (`key:<id>`, `user:<id>` or `ip:<address>`)."""
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]


class RegistrationJob(TimestampMixin, Base):
    """One restaurant's way through the six steps."""

    __tablename__ = "registration_job"
    __table_args__ = (
        # The progress endpoint reads only this index on PostgreSQL (SQLite reads the counts).
        Index("ix_registration_job_progress", "batch_id", "status", "current_step", "updated_at"),
        # A restaurant is in at most one pending or in-progress batch, even under races.
        Index(
            "uq_registration_job_active_restaurant",
            "restaurant_id",
            unique=True,
            postgresql_where=text("in_active_batch"),
            sqlite_where=text("in_active_batch"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    batch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registration_batch.id"))
    restaurant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("restaurant.id"))
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.PENDING.value)
    current_step: Mapped[int] = mapped_column(default=1)
    """Every step before it is completed or skipped (the progress maths relies on this)."""
    in_active_batch: Mapped[bool] = mapped_column(default=True)
    """True while its batch is pending or in progress."""
    search_term: Mapped[str | None] = mapped_column(String(200))
    """An operator's own registry search term (step 2 found nothing under the name)."""
    menu: Mapped[dict[str, Any] | None]
    """Step 1: menu items, logo and colours."""
    candidates: Mapped[list[Any]] = mapped_column(default=list)
    """Step 2: registry matches `{company_name, company_number, status, match_source}`."""
    selected_company_number: Mapped[str | None] = mapped_column(String(50))
    company: Mapped[dict[str, Any] | None]
    """Step 4 (or the operator's manual entry): NZBN, directors, GST number, email."""
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The execution config shown to clients: pre-filled at step 4, set at step 5."""
    password_sealed: Mapped[str | None] = mapped_column(Text)
    """Step 5's account password, encrypted (never returned)."""
    pumpd_user_id: Mapped[str | None] = mapped_column(String(100))
    pumpd_restaurant_id: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(String(1000))
    completed_at: Mapped[datetime | None]


class RegistrationJobStep(Base):
    __tablename__ = "registration_job_step"
    __table_args__ = (
        UniqueConstraint("job_id", "step_number"),
        Index("ix_registration_job_step_summary", "batch_id", "step_number", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registration_job.id"))
    batch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registration_batch.id"))
    step_number: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default=StepStatus.PENDING.value)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    duration_ms: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(1000))
    task_id: Mapped[int | None] = mapped_column(BigInteger)
    """The engine task running this step, so that cancelling the job cancels it."""
    sub_step_progress: Mapped[dict[str, Any] | None]
    """Step 6 only: `{current_sub_step, sub_steps: {name: {status, attempts, error}}}`."""


class Lead(TimestampMixin, Base):
    """A prospect found by a lead scrape, converted into a restaurant by an operator."""

    __tablename__ = "lead"
    __table_args__ = (Index("ix_lead_created", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    city: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(30))
    website_url: Mapped[str | None] = mapped_column(String(2000))
    google_address: Mapped[str | None] = mapped_column(String(300))
    """The address as enriched from Google (preferred by `address_source: auto`)."""
    lead_scrape_job_id: Mapped[uuid.UUID | None]
    restaurant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("restaurant.id"))
    converted_at: Mapped[datetime | None]


class RegistrationBatchCount(Base):
    """How many jobs of a batch are at each (status, step), and when one last changed there.

    Kept on SQLite by triggers on `registration_job` (migration `batch_counts`), in the same
    transaction as every change of a job, so that the progress poll reads a few rows instead
    of aggregating every job of a large batch. PostgreSQL aggregates the jobs' index instead:
    it does so in a couple of milliseconds, and row triggers there would make concurrent
    workers queue on a batch's count rows (and could deadlock with a cancel).
    """

    __tablename__ = "registration_batch_count"

    batch_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    current_step: Mapped[int] = mapped_column(primary_key=True)
    jobs: Mapped[int]
    last_updated: Mapped[datetime | None]
