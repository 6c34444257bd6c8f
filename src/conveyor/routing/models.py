"""Tables of the routing package: companies, their skills and technicians, jobs, routings."""

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, String, UniqueConstraint, and_, or_
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from conveyor.database import Base, TimestampMixin


class SkillLevel(StrEnum):
    BASIC = "basic"
    INTERMEDIATE = "intermediate"
    EXPERT = "expert"

    @property
    def rank(self) -> int:
        """1, 2, 3: the numbers the matching formula works with."""
        return LEVEL_RANK[self]


LEVEL_RANK = {SkillLevel.BASIC: 1, SkillLevel.INTERMEDIATE: 2, SkillLevel.EXPERT: 3}


class ProviderType(StrEnum):
    SERVICETITAN = "servicetitan"
    MOCK = "mock"


class JobStatus(StrEnum):
    PENDING = "pending"
    """Created and routed; no routing has reported the work done."""
    COMPLETED = "completed"
    """A company's point-of-sale system reported the work completed (with revenue)."""


class SyncStatus(StrEnum):
    PENDING = "pending"
    """Waiting for a sync attempt (first, or retry after a failure)."""
    PROCESSING = "processing"
    """A worker claimed it and is talking to the provider."""
    SYNCED = "synced"
    """The provider accepted the job (`external_id` holds its reference)."""
    FAILED = "failed"
    """Every attempt failed; the task is dead and can be replayed."""
    COMPLETED = "completed"
    """The provider reported the work completed."""


class Company(TimestampMixin, Base):
    """A trade company: receives routed jobs, and may request them."""

    __tablename__ = "company"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(255))
    primary_skill: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)
    provider_type: Mapped[str] = mapped_column(String(20), default=ProviderType.MOCK.value)
    st_tenant_id: Mapped[str | None] = mapped_column(String(100))
    st_client_id: Mapped[str | None] = mapped_column(String(255))
    st_client_secret_sealed: Mapped[str | None] = mapped_column(String(1000))
    st_app_key_sealed: Mapped[str | None] = mapped_column(String(1000))

    @hybrid_property
    def provider_configured(self) -> bool:
        """The built-in mock needs nothing; ServiceTitan needs all four settings."""
        if self.provider_type == ProviderType.MOCK:
            return True
        return None not in (
            self.st_tenant_id,
            self.st_client_id,
            self.st_client_secret_sealed,
            self.st_app_key_sealed,
        )

    @provider_configured.inplace.expression
    @classmethod
    def _provider_configured_expression(cls) -> ColumnElement[bool]:
        return or_(
            cls.provider_type == ProviderType.MOCK.value,
            and_(
                cls.st_tenant_id.is_not(None),
                cls.st_client_id.is_not(None),
                cls.st_client_secret_sealed.is_not(None),
                cls.st_app_key_sealed.is_not(None),
            ),
        )


class CompanySkill(Base):
    """One skill of a company at a level: the rows matching reads through its index.

    The company's flags that scoring needs are copied onto its skill rows (and kept in step by
    the repository), so a match is scored from the index alone, without visiting companies.
    """

    __tablename__ = "company_skill"
    __table_args__ = (
        Index(
            "ix_company_skill_match",
            "skill",
            "active",
            "level",
            "is_primary",
            "company_id",
            "provider_configured",
        ),
    )

    company_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("company.id", ondelete="CASCADE"), primary_key=True
    )
    skill: Mapped[str] = mapped_column(String(100), primary_key=True)
    level: Mapped[int]
    """1 basic, 2 intermediate, 3 expert."""
    is_primary: Mapped[bool] = mapped_column(default=False)
    """This is the company's primary skill (copied from `company.primary_skill`)."""
    active: Mapped[bool] = mapped_column(default=True)
    """Copied from `company.active`."""
    provider_configured: Mapped[bool] = mapped_column(default=True)
    """Copied from `company.provider_configured`."""


class CompanyCategory(Base):
    __tablename__ = "company_category"
    __table_args__ = (Index("ix_company_category_category", "category", "company_id"),)

    company_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("company.id", ondelete="CASCADE"), primary_key=True
    )
    category: Mapped[str] = mapped_column(String(100), primary_key=True)


class Technician(TimestampMixin, Base):
    __tablename__ = "technician"
    __table_args__ = (Index("ix_technician_company", "company_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))


class Job(TimestampMixin, Base):
    """A piece of trade work one company found and others may do."""

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_created_at", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    summary: Mapped[str] = mapped_column(String(1000))
    street: Mapped[str] = mapped_column(String(255))
    city: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(2))
    zip_code: Mapped[str] = mapped_column(String(10))
    homeowner_name: Mapped[str] = mapped_column(String(255))
    homeowner_phone: Mapped[str | None] = mapped_column(String(20))
    homeowner_email: Mapped[str | None] = mapped_column(String(255))
    created_by_company_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("company.id"))
    created_by_technician_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("technician.id"))
    required_skills: Mapped[list[Any]]
    skill_levels: Mapped[dict[str, Any]]
    category: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.PENDING.value)
    revenue: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    completed_at: Mapped[datetime | None]


class JobRouting(TimestampMixin, Base):
    """A job routed to one company, and the state of its sync to that company's provider."""

    __tablename__ = "job_routing"
    __table_args__ = (
        UniqueConstraint("job_id", "company_id_received"),
        Index("ix_job_routing_sync_status", "sync_status", "last_synced_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"))
    company_id_received: Mapped[uuid.UUID] = mapped_column(ForeignKey("company.id"))
    external_id: Mapped[str | None] = mapped_column(String(255))
    sync_status: Mapped[str] = mapped_column(String(20), default=SyncStatus.PENDING.value)
    retry_count: Mapped[int] = mapped_column(default=0)
    last_sync_attempt: Mapped[datetime | None]
    last_synced_at: Mapped[datetime | None]
    error_message: Mapped[str | None] = mapped_column(String(2000))
    claimed_at: Mapped[datetime | None]
    matching_score: Mapped[float | None]
    matched_skills: Mapped[list[Any]]
