"""Settings: one pydantic-settings class, read once by `create_app()` or the CLI."""

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, Request
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SECRET_KEY = "conveyor-development-secret-change-me"  # noqa: S105 - refused in production

SURFACES = ("batches", "registrations", "reports", "restaurant_registrations", "routing")


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every knob of the service; environment variables use the `CONVEYOR_` prefix."""

    model_config = SettingsConfigDict(
        env_prefix="CONVEYOR_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    env: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite+aiosqlite:///./conveyor.db"
    redis_url: str | None = None
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    services: Annotated[tuple[str, ...], NoDecode] = SURFACES
    log_format: Literal["console", "json"] | None = None
    log_level: str = "INFO"
    database_echo: bool = False
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)
    database_pool_size: int = Field(default=10, ge=1)
    access_token_minutes: int = Field(default=60, ge=1, le=60 * 24 * 30)
    console_enabled: bool = True
    """Serve the operator console at /console (server-rendered pages for operators and admins)."""
    console_session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    """How long a console sign-in lasts."""
    embedded_worker: bool | None = None
    """Run a task worker inside `conveyor serve` (default: yes in development, no in production)."""
    worker_concurrency: int = Field(default=10, ge=1, le=1000)
    worker_poll_interval: float = Field(default=1.0, gt=0)
    worker_lease_seconds: float = Field(default=30.0, ge=1)
    worker_grace_seconds: float = Field(default=10.0, ge=0)
    task_retention_hours: float = Field(default=168.0, gt=0)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    """Larger request bodies are refused with 413 before any handler reads them."""
    cors_origins: list[str] = Field(default_factory=list)
    """Browser origins allowed to call the API (JSON list); none by default."""
    rate_limits_enabled: bool = True
    rate_limits: dict[str, str] = Field(default_factory=dict)
    """Overrides by limit name, as JSON: `{"routing.create_job": "20/minute"}`."""
    routing_max_routings: int = Field(default=3, ge=1, le=50)
    """004: how many of the best-matching companies a job is routed to."""
    mock_pos_latency_ms: int = Field(default=50, ge=0)
    mock_pos_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    mock_pos_completion_minutes: float = Field(default=5.0, ge=0.0)
    servicetitan_auth_url: str = "https://auth.servicetitan.io"
    servicetitan_api_url: str = "https://api.servicetitan.io"
    servicetitan_booking_provider_id: str = "tradeengage"
    servicetitan_timeout_seconds: float = Field(default=10.0, gt=0)
    simulator_latency_ms: int = Field(default=200, ge=0)
    """How long each call to a simulated outside system takes (000's and 001's)."""
    simulator_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    """The share of simulated calls that fail (decided by the call, so runs replay exactly)."""
    menu_extractor: Literal["simulator", "website"] = "simulator"
    company_registry: Literal["simulator", "nzbn"] = "simulator"
    nzbn_api_url: str = "https://api.business.govt.nz/gateway/nzbn/v5"
    nzbn_subscription_key: SecretStr | None = None
    account_setup: Literal["simulator", "http"] = "simulator"
    account_setup_url: str = "http://127.0.0.1:8100/api"
    account_setup_api_key: SecretStr | None = None
    batches_provider_concurrency: int = Field(default=8, ge=1, le=1000)
    """000: calls in flight to one outside system, per process."""
    batches_provider_timeout_seconds: float = Field(default=10.0, gt=0)
    registrations_default_region: str = Field(default="MW", pattern=r"^[A-Z]{2}$")
    """001: the country whose national phone numbers (`0991234567`) registrations accept."""
    registrations_allowed_currencies: tuple[str, ...] = ("MWK", "USD", "GBP", "EUR", "ZAR")
    """001: a registration needs at least one active account in one of these currencies."""
    core_banking: Literal["simulator", "t24"] = "simulator"
    t24_customers_file: Path | None = None
    """001: the simulator's customers (default: `t24_customers.json` in the package)."""
    t24_url: str = "http://127.0.0.1:8300"
    """001: base URL of the bank's service bus in front of T24."""
    t24_username: str | None = None
    t24_password: SecretStr | None = None
    t24_timeout_seconds: float = Field(default=10.0, gt=0)
    rate_limit_key_prefix: str = "conveyor-ratelimit"
    """Prefix of the counters in Redis (deployments sharing one Redis need different ones)."""
    reports_prefix: str = "/api/reports"
    """002: where the reports surface is mounted; empty serves the document's bare paths."""
    reports_writer: Literal["offline", "openai"] = "offline"
    """002: who writes sections: the deterministic offline writer, or an OpenAI-compatible API."""
    reports_openai_base_url: str = "https://api.openai.com/v1"
    reports_openai_model: str = "gpt-4o-mini"
    reports_openai_api_key: SecretStr | None = None
    reports_openai_timeout_seconds: float = Field(default=60.0, gt=0)
    """002: how long one call to the model may take."""
    reports_openai_max_retries: int = Field(default=3, ge=0, le=10)
    """002: retries of one call answered 429 or 5xx (or not answered), with backoff."""
    reports_job_timeout_seconds: float = Field(default=300.0, gt=0, le=3600)
    """002: a job not finished this long after a worker first started it fails (`TIMEOUT`)."""
    reports_expiry_hours: float = Field(default=24.0, gt=0)
    """002: finished jobs are deleted (and answer 404) this long after they finished."""
    reports_max_text_bytes: int = Field(default=200_000, ge=1)
    """002: the largest `original_text` accepted, in bytes once decoded."""
    reports_max_prompt_chars: int = Field(default=4_000, ge=1)

    @field_validator("services", mode="before")
    @classmethod
    def _split_services(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
            if value == ["all"]:
                return SURFACES
        return value

    @field_validator("services")
    @classmethod
    def _known_services(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(SURFACES))
        if unknown:
            raise ValueError(
                f"unknown service(s) {', '.join(unknown)}; choose from {', '.join(SURFACES)}"
            )
        return value

    @field_validator("reports_prefix")
    @classmethod
    def _mount_path(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith("/"):
            raise ValueError("reports_prefix must be empty or a path starting with '/'")
        return value

    @field_validator("rate_limits")
    @classmethod
    def _parse_rate_limits(cls, value: dict[str, str]) -> dict[str, str]:
        from limits import parse

        for name, limit in value.items():
            try:
                parse(limit)
            except ValueError:
                raise ValueError(
                    f"rate limit {name!r}: {limit!r} is not like '10/minute' or '100 per hour'"
                ) from None
        return value

    @field_validator("log_level")
    @classmethod
    def _upper_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @model_validator(mode="after")
    def _production_needs_a_secret(self) -> "Settings":
        if self.is_production and self.secret_key.get_secret_value() == DEFAULT_SECRET_KEY:
            raise ValueError(
                "CONVEYOR_SECRET_KEY must be set to a private value when CONVEYOR_ENV=production"
            )
        if self.is_production and len(self.secret_key.get_secret_value()) < 32:
            # HS256 tokens are signed with it; RFC 7518 asks for at least 256 bits.
            raise ValueError("CONVEYOR_SECRET_KEY must have at least 32 characters in production")
        return self

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def runs_embedded_worker(self) -> bool:
        return not self.is_production if self.embedded_worker is None else self.embedded_worker

    @property
    def effective_log_format(self) -> Literal["console", "json"]:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.is_production else "console"


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


CurrentSettings = Annotated[Settings, Depends(_settings)]
"""The app's settings, as a route dependency."""
