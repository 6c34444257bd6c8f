"""The document's Python example, run unchanged apart from its base URL against a live server."""

import time

import httpx
import pytest

from conveyor.main import create_app
from tests.support import make_settings, serving

# Copied from the document's "Python Example", character for character.
EXAMPLE = """
import requests

def check_registration_status(customer_number):
    url = "https://your-domain.com/api/registrations/status"
    params = {"customer_number": customer_number}
    
    response = requests.get(url, params=params)
    result = response.json()
    
    if result.get("success"):
        print(f"Status: {result['data']['status']}")
        print(f"Message: {result['message']}")
        
        if result['data'].get('user_id'):
            print(f"User ID: {result['data']['user_id']}")
    else:
        print(f"Error: {result['error']}")
    
    return result

# Usage
check_registration_status("1234567")
"""  # noqa: W293 - the document's blank lines carry its indentation


def test_the_documents_python_example_runs_unchanged(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(
        database_url, embedded_worker=True, worker_poll_interval=0.05, rate_limits_enabled=False
    )
    with serving(create_app(settings)) as base_url:
        created = httpx.post(
            f"{base_url}/api/registrations",
            json={"customer_number": "1234567", "phone_number": "+265991234567"},
        )
        assert created.status_code == 202
        deadline = time.monotonic() + 30
        while created.json()["data"]["status"] != "COMPLETED":
            assert time.monotonic() < deadline, created.json()
            time.sleep(0.1)
            created = httpx.get(
                f"{base_url}/api/registrations/status", params={"customer_number": "1234567"}
            )
        capsys.readouterr()
        exec(EXAMPLE.replace("https://your-domain.com", base_url), {})  # noqa: S102
        unknown = EXAMPLE.replace("https://your-domain.com", base_url).replace(
            'check_registration_status("1234567")', 'check_registration_status("7654321")'
        )
        exec(unknown, {})  # noqa: S102

    user_id = created.json()["data"]["user_id"]
    assert capsys.readouterr().out.splitlines() == [
        "Status: COMPLETED",
        "Message: Registration completed successfully",
        f"User ID: {user_id}",
        "Error: Not Found",
    ]
