"""The pipeline's pure rules: account validation, stage bookkeeping, phone numbers."""

import pytest

from conveyor.kit.phones import to_e164
from conveyor.registrations.providers import Account
from conveyor.registrations.service import Stage, accounts_phrase, assess, with_stage

ALLOWED = ("MWK", "USD")


def test_no_accounts_fail_the_lookup_retryably() -> None:
    assessment = assess([], ALLOWED)
    assert assessment.stages == [(Stage.T24_LOOKUP, "failed", "No accounts found")]
    assert (assessment.error, assessment.can_retry, assessment.usable) == (
        "No accounts found for customer",
        True,
        [],
    )


def test_only_active_accounts_in_allowed_currencies_count() -> None:
    accounts = [
        Account("1", "1001", "MWK"),
        Account("2", "1001", "MWK", active=False),
        Account("3", "6001", "CNY"),
        Account("4", "6001", "USD"),
    ]
    assessment = assess(accounts, ALLOWED)
    assert assessment.usable == [accounts[0], accounts[3]]
    assert assessment.stages == [
        (Stage.T24_LOOKUP, "completed", "Found 4 accounts"),
        (Stage.ACCOUNT_VALIDATION, "completed", "Validated 2 accounts"),
    ]
    assert assessment.error is None


def test_accounts_that_all_fall_short_fail_for_good_saying_why() -> None:
    accounts = [Account("2", "1001", "MWK", active=False), Account("3", "6001", "CNY")]
    assessment = assess(accounts, ["mwk", "usd"])  # settings may spell currencies in any case
    assert assessment.stages[1] == (
        Stage.ACCOUNT_VALIDATION,
        "failed",
        "No active account in an allowed currency (1 not active; currencies not allowed: CNY)",
    )
    assert (assessment.error, assessment.can_retry) == (
        "No active account in an allowed currency",
        False,
    )


def test_a_stage_that_runs_again_replaces_its_entry_in_place_of_order() -> None:
    stages = with_stage([], Stage.DUPLICATE_CHECK, "completed", "No duplicate found")
    stages = with_stage(stages, Stage.T24_LOOKUP, "failed", "No accounts found")
    stages = with_stage(stages, Stage.T24_LOOKUP, "completed", "Found 1 account")
    assert [(s["stage"], s["status"], s["details"]) for s in stages] == [
        ("duplicate_check", "completed", "No duplicate found"),
        ("t24_lookup", "completed", "Found 1 account"),
    ]
    assert all(s["timestamp"].endswith("Z") and len(s["timestamp"]) == 24 for s in stages)


def test_counts_read_naturally() -> None:
    assert [accounts_phrase(n) for n in (0, 1, 3)] == ["0 accounts", "1 account", "3 accounts"]


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("0991234567", "+265991234567"),
        ("099-123-4567", "+265991234567"),
        ("(0888) 765 432", "+265888765432"),
        ("+265 991 234 567", "+265991234567"),
        ("00265991234567", "+265991234567"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phone_numbers_become_e164(raw: str, e164: str) -> None:
    assert to_e164(raw, "MW") == e164


@pytest.mark.parametrize("raw", ["", "12345", "+265 12", "not a number", "+999 123456789"])
def test_invalid_phone_numbers_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="phone number"):
        to_e164(raw, "MW")
