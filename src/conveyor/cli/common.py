"""What every CLI command shares: settings loading and user-facing errors."""

from pydantic import ValidationError

from conveyor.config import Settings


class CliError(Exception):
    """A mistake the user can fix; printed as one line."""

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def load_settings() -> Settings:
    """Read settings once; an invalid value becomes a one-line error."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"CONVEYOR_{'.'.join(str(p) for p in e['loc']).upper() or 'SETTINGS'}: {e['msg']}"
            for e in exc.errors()
        )
        raise CliError(f"invalid settings: {problems}", exit_code=2) from None
