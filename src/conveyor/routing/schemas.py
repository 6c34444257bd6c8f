"""The JSON of document 004 (jobs, routings) and of the companies and technicians it needs."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_serializer, model_validator

from conveyor.routing.models import ProviderType, SkillLevel, SyncStatus

Name = Annotated[str, Field(min_length=1, max_length=255)]
SkillName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^\S(.*\S)?$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# -- companies and technicians --------------------------------------------------------------


class SkillIn(Strict):
    name: SkillName
    level: SkillLevel


class ProviderSettingsIn(Strict):
    """ServiceTitan credentials; the secret and the app key are write-only."""

    tenant_id: str | None = Field(default=None, max_length=100)
    client_id: str | None = Field(default=None, max_length=255)
    client_secret: str | None = Field(default=None, max_length=500)
    app_key: str | None = Field(default=None, max_length=500)


class CompanyCreate(Strict):
    name: Name
    skills: list[SkillIn] = Field(default_factory=list, max_length=50)
    primary_skill: SkillName | None = None
    categories: list[SkillName] = Field(default_factory=list, max_length=20)
    provider_type: ProviderType = ProviderType.MOCK
    provider_settings: ProviderSettingsIn | None = None
    active: bool = True

    @model_validator(mode="after")
    def _skills_once(self) -> Self:
        names = [skill.name.lower() for skill in self.skills]
        if len(names) != len(set(names)):
            raise ValueError("skills: each skill may appear once")
        return self


class CompanyUpdate(Strict):
    """Fields to change; those left out stay as they are."""

    name: Name | None = None
    skills: list[SkillIn] | None = Field(default=None, max_length=50)
    primary_skill: SkillName | None = None
    categories: list[SkillName] | None = Field(default=None, max_length=20)
    provider_type: ProviderType | None = None
    provider_settings: ProviderSettingsIn | None = None
    active: bool | None = None


class ProviderSettingsRead(BaseModel):
    tenant_id: str | None
    client_id: str | None
    client_secret_set: bool
    app_key_set: bool


class CompanyRead(BaseModel):
    id: uuid.UUID
    name: str
    skills: list[SkillIn]
    primary_skill: str | None
    categories: list[str]
    active: bool
    provider_type: ProviderType
    provider_configured: bool
    provider_settings: ProviderSettingsRead
    created_at: datetime
    updated_at: datetime


class TechnicianCreate(Strict):
    name: Name


class TechnicianRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    company_id: uuid.UUID
    name: str
    created_at: datetime


# -- jobs -------------------------------------------------------------------------------------


class Address(Strict):
    street: str = Field(min_length=1, max_length=255)
    city: str = Field(min_length=1, max_length=100)
    state: str = Field(pattern=r"^[A-Z]{2}$", description="Exactly 2 upper-case letters")
    zip_code: str = Field(min_length=5, max_length=10)


class Homeowner(Strict):
    name: Name
    phone: str | None = Field(default=None, max_length=20)
    email: EmailStr | None = Field(default=None, max_length=255)


class JobCreate(Strict):
    summary: str = Field(min_length=1, max_length=1000)
    address: Address
    homeowner: Homeowner
    created_by_company_id: uuid.UUID
    created_by_technician_id: uuid.UUID
    required_skills: list[SkillName] = Field(default_factory=list, max_length=20)
    skill_levels: dict[SkillName, SkillLevel] = Field(default_factory=dict)
    category: str | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _levels_for_required_skills(self) -> Self:
        extra = sorted(set(self.skill_levels) - set(self.required_skills))
        if extra:
            raise ValueError(f"skill_levels: {', '.join(extra)} not in required_skills")
        if len(set(self.required_skills)) != len(self.required_skills):
            raise ValueError("required_skills: each skill may appear once")
        return self

    def requirements(self) -> dict[str, int]:
        """Each required skill with its level rank (basic when no level is given)."""
        return {
            skill: self.skill_levels.get(skill, SkillLevel.BASIC).rank
            for skill in self.required_skills
        }


class JobRead(BaseModel):
    id: uuid.UUID
    summary: str
    address: Address
    homeowner: Homeowner
    created_by_company_id: uuid.UUID
    created_by_technician_id: uuid.UUID
    required_skills: list[str]
    skill_levels: dict[str, str]
    category: str | None
    status: str
    revenue: Decimal | None
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @field_serializer("revenue")
    def _money(self, revenue: Decimal | None) -> float | None:
        return None if revenue is None else float(round(revenue, 2))


class RoutingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    job_id: uuid.UUID
    company_id_received: uuid.UUID
    external_id: str | None
    sync_status: SyncStatus
    retry_count: int
    last_sync_attempt: datetime | None
    last_synced_at: datetime | None
    error_message: str | None
    created_at: datetime
    updated_at: datetime


class SyncRequest(Strict):
    company_id: uuid.UUID


class SyncEvent(BaseModel):
    """The `job_sync` outbox event's `event_data`: the payload of each `routing.sync` task."""

    routing_id: uuid.UUID
    job_id: uuid.UUID
    company_id: uuid.UUID
    matching_score: float | None
    """None when a manual sync routed the job (no match was scored)."""
    matched_skills: list[str]
    provider_type: ProviderType

    def data(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
