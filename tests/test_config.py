"""Settings: defaults, environment parsing and the production guards."""

import pytest
from pydantic import ValidationError

from conveyor.config import DEFAULT_SECRET_KEY, SURFACES, Settings


def test_defaults_serve_every_surface_on_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "ENV", "SERVICES", "LOG_FORMAT", "REDIS_URL"):
        monkeypatch.delenv(f"CONVEYOR_{name}", raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.services == SURFACES
    assert settings.redis_url is None
    assert settings.effective_log_format == "console"


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_SERVICES", "routing, reports")
    monkeypatch.setenv("CONVEYOR_ENV", "production")
    monkeypatch.setenv("CONVEYOR_SECRET_KEY", "a-real-secret-of-at-least-32-characters")
    monkeypatch.setenv("CONVEYOR_LOG_LEVEL", "debug")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.services == ("routing", "reports")
    assert settings.is_production
    assert settings.effective_log_format == "json"
    assert settings.log_level == "DEBUG"


def test_env_file_is_supported(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONVEYOR_SERVICES", raising=False)
    env_file = tmp_path / ".env"  # type: ignore[operator]
    env_file.write_text("CONVEYOR_SERVICES=batches\n")
    settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
    assert settings.services == ("batches",)


def test_unknown_service_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="unknown service"):
        Settings(_env_file=None, services="routing,payroll")  # type: ignore[call-arg]


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(ValidationError, match="CONVEYOR_SECRET_KEY"):
        Settings(_env_file=None, env="production", secret_key=DEFAULT_SECRET_KEY)  # type: ignore[call-arg]


def test_production_refuses_a_short_secret() -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(_env_file=None, env="production", secret_key="too-short")  # type: ignore[call-arg]


def test_secret_key_is_not_shown_in_repr() -> None:
    settings = Settings(_env_file=None, secret_key="very-private")  # type: ignore[call-arg]
    assert "very-private" not in repr(settings)
