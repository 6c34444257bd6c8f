"""The comparison every contract test rests on: it must refuse what differs from an example."""

from typing import Any

import pytest

from tests.contract.conftest import COUNT, assert_like

ID = "6bdb6aa7-2b76-4bb2-9c16-7a9f1ce0df9f"
EXAMPLE: dict[str, Any] = {
    "id": "job-uuid",
    "registration_id": 123,
    "status": "pending",
    "revenue": 450.0,
    "ready": False,
    "created_at": "2024-12-20T10:00:00Z",
    "stamped_at": "2024-12-14T16:00:00.000Z",
    "steps": [{"step_number": 1, "duration_ms": 45000}],
}
ANSWER: dict[str, Any] = {
    "id": ID,
    "registration_id": 7,
    "status": "pending",
    "revenue": 450,
    "ready": False,
    "created_at": "2026-01-02T03:04:05.678901Z",
    "stamped_at": "2026-01-02T03:04:05.678Z",
    "steps": [{"step_number": 1, "duration_ms": 45000}],
}


def test_an_answer_like_the_example_passes() -> None:
    assert_like(ANSWER, EXAMPLE)
    assert_like(ANSWER, EXAMPLE, ids={"job-uuid": ID})
    assert_like({**ANSWER, "created_at": "2026-01-02T03:04:05Z"}, EXAMPLE)
    steps = [{"step_number": 1, "duration_ms": 3, "error": None}, {"step_number": 2}]
    assert_like(
        {**ANSWER, "steps": steps, "extra": 1},
        {**EXAMPLE, "steps": [{"step_number": 1, "duration_ms": COUNT}]},
        extra={"extra", "steps[].error", "steps[1]"},
    )


@pytest.mark.parametrize(
    ("change", "extra", "ids"),
    [
        ({"status": "completed"}, (), None),  # another value
        ({"ready": 0}, (), None),  # another type
        ({"revenue": "450.00"}, (), None),
        ({"id": "job-1"}, (), None),  # not a UUID
        ({"id": "b64f47b6-61a6-4490-89c7-2cc5bfdb8c3c"}, (), {"job-uuid": ID}),  # not that one
        ({"registration_id": "7"}, (), None),  # an integer id in the example
        ({"registration_id": 0}, (), None),
        ({"created_at": "2026-01-02T03:04:05+00:00"}, (), None),  # not Z
        ({"stamped_at": "2026-01-02T03:04:05Z"}, (), None),  # milliseconds in the example
        ({"stamped_at": "2026-01-02T03:04:05.678901Z"}, (), None),
        ({"surplus": 1}, (), None),  # a field the example does not have
        ({"surplus": 1}, ("steps[].surplus",), None),  # declared elsewhere
        ({}, ("surplus",), None),  # declared, but not there
        ({"steps": []}, (), None),  # fewer elements
        ({"steps": [{"step_number": 1}]}, (), None),  # a field missing
        ({"steps": [*ANSWER["steps"], {"step_number": 2}]}, (), None),  # more elements
    ],
)
def test_a_difference_fails(
    change: dict[str, Any], extra: tuple[str, ...], ids: dict[str, str] | None
) -> None:
    with pytest.raises(AssertionError):
        assert_like({**ANSWER, **change}, EXAMPLE, extra=extra, ids=ids)


def test_an_extra_that_is_in_the_example_is_refused() -> None:
    with pytest.raises(AssertionError, match="example"):
        assert_like(ANSWER, EXAMPLE, extra={"status"})
