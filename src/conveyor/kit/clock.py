"""The one clock every package reads, and the one way timestamps are written in JSON."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def isoformat_z(moment: datetime, *, milliseconds: bool = False) -> str:
    """ISO 8601 in UTC with a `Z` suffix: `2025-08-27T16:00:00Z` (or `...00.000Z`)."""
    moment = moment.astimezone(UTC)
    if milliseconds:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
