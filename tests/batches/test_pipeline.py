"""The pipeline's pure rules: transitions, progress maths, search terms, defaults."""

from itertools import pairwise

import pytest

from conveyor.batches.pipeline import (
    BATCH_TRANSITIONS,
    JOB_TRANSITIONS,
    STEP_TRANSITIONS,
    STEPS,
    BatchStatus,
    IllegalTransition,
    JobGroup,
    JobStatus,
    StepStatus,
    Tally,
    check,
    enabled_sub_steps,
    initial_sub_steps,
    job_status_at,
    next_step_status,
    password_from_pattern,
    start_next_stage,
    unfinished_stage,
)
from conveyor.batches.providers import Candidate
from conveyor.batches.service import address_search_term, merge_candidates, name_search_term


def test_the_six_steps_and_who_does_them() -> None:
    assert [(item.number, item.name, item.automatic) for item in STEPS] == [
        (1, "Menu & Branding Extraction", True),
        (2, "Contact Details Search", True),
        (3, "Company Selection", False),
        (4, "Company Details Extraction", True),
        (5, "Yolo Mode Configuration", False),
        (6, "Pumpd Account Setup", True),
    ]
    assert [next_step_status(n) for n in (1, 3, 6)] == [
        StepStatus.IN_PROGRESS,
        StepStatus.ACTION_REQUIRED,
        StepStatus.IN_PROGRESS,
    ]
    assert job_status_at(5) is JobStatus.ACTION_REQUIRED


def _walk(transitions: dict[StepStatus, frozenset[StepStatus]], path: list[StepStatus]) -> None:
    for current, target in pairwise(path):
        check(transitions, current, target)


def test_a_job_walks_the_legal_paths_and_no_other() -> None:
    walk = [JobStatus.PENDING, JobStatus.IN_PROGRESS, JobStatus.ACTION_REQUIRED]
    walk += [JobStatus.IN_PROGRESS, JobStatus.FAILED, JobStatus.IN_PROGRESS, JobStatus.COMPLETED]
    for current, target in pairwise(walk):
        assert check(JOB_TRANSITIONS, current, target) is target
    for finished in (JobStatus.COMPLETED, JobStatus.CANCELLED):
        for target in JobStatus:
            with pytest.raises(IllegalTransition):
                check(JOB_TRANSITIONS, finished, target)
    with pytest.raises(IllegalTransition, match="pending -> completed"):
        check(JOB_TRANSITIONS, JobStatus.PENDING, JobStatus.COMPLETED)


def test_steps_and_batches_walk_their_legal_paths() -> None:
    _walk(
        STEP_TRANSITIONS,
        [
            StepStatus.PENDING,
            StepStatus.IN_PROGRESS,
            StepStatus.ACTION_REQUIRED,  # step 2: nothing found
            StepStatus.IN_PROGRESS,  # a new search term
            StepStatus.FAILED,
            StepStatus.PENDING,  # retried
            StepStatus.SKIPPED,
        ],
    )
    with pytest.raises(IllegalTransition):
        check(STEP_TRANSITIONS, StepStatus.CANCELLED, StepStatus.PENDING)
    with pytest.raises(IllegalTransition):
        check(STEP_TRANSITIONS, StepStatus.PENDING, StepStatus.COMPLETED)
    check(BATCH_TRANSITIONS, BatchStatus.PENDING, BatchStatus.IN_PROGRESS)
    check(BATCH_TRANSITIONS, BatchStatus.FAILED, BatchStatus.IN_PROGRESS)  # a retry
    with pytest.raises(IllegalTransition):
        check(BATCH_TRANSITIONS, BatchStatus.CANCELLED, BatchStatus.IN_PROGRESS)
    with pytest.raises(IllegalTransition):
        check(BATCH_TRANSITIONS, BatchStatus.PENDING, BatchStatus.COMPLETED)
    # Every status of every machine has an entry, so no status is a dead end by accident.
    assert set(JOB_TRANSITIONS) == set(JobStatus)
    assert set(STEP_TRANSITIONS) == set(StepStatus)
    assert set(BATCH_TRANSITIONS) == set(BatchStatus)


def _tally(**groups: tuple[int, list[int]]) -> Tally:
    """status -> (jobs, their current steps)."""
    return Tally(
        {
            JobStatus(status): JobGroup(
                count=count, step_sum=sum(steps), min_step=min(steps), max_step=max(steps)
            )
            for status, (count, steps) in groups.items()
        }
    )


def test_progress_counts_finished_steps_of_jobs_not_cancelled() -> None:
    tally = _tally(
        completed=(1, [6]),  # 6 of 6
        action_required=(2, [3, 5]),  # 2 + 4 of 12
        failed=(1, [2]),  # 1 of 6
        cancelled=(1, [4]),  # not counted
    )
    assert tally.progress_percent == (6 + 2 + 4 + 1) * 100 // 24
    assert tally.current_step == 3  # the lowest step an unfinished job is on (failed is done)
    assert tally.step_requiring_action == 3
    assert tally.total == 5
    assert tally.outcome() is None


def test_a_batch_finishes_when_no_job_is_active() -> None:
    assert _tally(completed=(1, [6]), failed=(2, [6, 6])).outcome() is BatchStatus.COMPLETED
    assert _tally(failed=(2, [1, 6])).outcome() is BatchStatus.FAILED
    assert _tally(pending=(1, [1])).outcome() is None
    assert _tally(cancelled=(1, [1])).outcome() is BatchStatus.CANCELLED
    finished = _tally(completed=(1, [6]), failed=(1, [2]))
    assert finished.current_step == 6  # nothing unfinished: the furthest step
    assert Tally({}).progress_percent == 0


def test_the_password_pattern_uses_the_restaurants_name() -> None:
    assert password_from_pattern("Restaurantname789!", "Pizza Palace") == "Pizzapalace789!"
    assert password_from_pattern("Restaurantname789!", "mcdonald's 24/7") == "Mcdonalds247789!"
    assert password_from_pattern("Go-Restaurantname", "Ōtaki Café") == "Go-Ōtakicafé"


def test_search_terms() -> None:
    assert name_search_term("Taco Town (Ponsonby)") == "Taco Town"
    assert name_search_term("Pizza (Palace)") == "Pizza"
    assert name_search_term("(Only Brackets)") == "(Only Brackets)"
    assert address_search_term("12 Queen Street Level 2", "Auckland") == "12 Queen Street Auckland"
    assert address_search_term("5 Ponsonby Rd, Grey Lynn", "Auckland") == "5 Ponsonby Rd Auckland"
    assert address_search_term("Shop 4, The Mall", None) == "Shop 4 The Mall"
    assert address_search_term("  ", "Auckland") is None


def test_candidates_merge_by_company_number_and_a_name_match_wins() -> None:
    def company(number: str, name: str) -> Candidate:
        return Candidate(company_name=name, company_number=number, status="Registered", nzbn="1")

    merged = merge_candidates(
        [company("1", "Pizza Palace Limited"), company("2", "Pizza Palace Holdings Limited")],
        [company("2", "Pizza Palace Holdings Limited"), company("3", "Queen Trading Limited")],
    )
    assert [(c["company_number"], c["match_source"]) for c in merged] == [
        ("1", "name"),
        ("2", "name"),
        ("3", "address"),
    ]


def test_sub_steps_start_in_stages_and_skip_what_is_disabled() -> None:
    enabled = enabled_sub_steps({"menuImport": False}, auto_configure_services=False)
    # Option sets and tags need the menu: off with it unless asked for by name.
    assert [name for name, on in enabled.items() if not on] == [
        "servicesConfig",
        "menuImport",
        "optionSets",
        "itemTags",
    ]
    progress = initial_sub_steps(enabled)
    states = {name: state["status"] for name, state in progress["sub_steps"].items()}
    assert states["account"] == states["codeGeneration"] == "in_progress"
    assert states["restaurantRegistration"] == "pending"
    assert states["optionSets"] == "skipped"
    assert progress["current_sub_step"] == "account"
    for name in ("account", "codeGeneration"):
        progress["sub_steps"][name]["status"] = "completed"
    assert unfinished_stage(progress) == ("restaurantRegistration",)
    progress = start_next_stage(progress)
    assert progress["current_sub_step"] == "restaurantRegistration"
    assert progress["sub_steps"]["restaurantRegistration"]["status"] == "in_progress"
    progress["sub_steps"]["restaurantRegistration"]["status"] = "completed"
    # The third stage: menu and services are skipped, so website and payment run together.
    assert unfinished_stage(progress) == ("websiteConfig", "paymentConfig")
