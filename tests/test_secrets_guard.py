"""The suite's own guard against leaked credentials catches a leak (and only a leak)."""

import httpx
import pytest

from tests.secrets_guard import ResponseHook

LEAKY_TEST = """
import logging

def test_logs_a_key():
    logging.getLogger("leak").warning("using cvk_0123456789abcdef_" + "A" * 43)

def test_prints_a_token():
    print("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3OCJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ")

def test_is_quiet():
    print("nothing secret: cvk_short")
"""


@pytest.mark.shows_secrets
def test_a_test_that_logs_a_credential_fails(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('pytest_plugins = ("tests.secrets_guard",)')
    pytester.makepyfile(test_leaky=LEAKY_TEST)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:asyncio")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*test_logs_a_key: captured output (call) contains a API key*",
            "*test_prints_a_token: captured output (call) contains a bearer token*",
        ]
    )


async def test_responses_never_echo_the_callers_credentials(
    no_echoed_credentials: ResponseHook,
) -> None:
    async def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, text=f"bad key {request.headers['x-api-key']}")

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(echo), event_hooks={"response": [no_echoed_credentials]}
    ) as client:
        with pytest.raises(AssertionError, match="echoed a credential"):
            await client.get("http://t/", headers={"X-API-Key": "cvk_secret_value"})
