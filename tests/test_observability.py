"""Correlation ids, the per-request log line, secret redaction and Prometheus metrics."""

import json
import logging
import re

import httpx
import pytest
import structlog

from conveyor.observability import configure_logging, redact_secrets


async def test_correlation_id_is_echoed_back(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/health", headers={"X-Request-ID": "req-123"})
    assert response.headers["x-request-id"] == "req-123"
    assert response.headers["x-correlation-id"] == "req-123"
    response = await client.get("/api/v1/health", headers={"X-Correlation-ID": "corr-9"})
    assert response.headers["x-request-id"] == "corr-9"


async def test_correlation_id_is_generated_when_missing_or_unsafe(
    client: httpx.AsyncClient,
) -> None:
    first = await client.get("/api/v1/health")
    second = await client.get("/api/v1/health", headers={"X-Request-ID": "bad id\twith spaces"})
    ids = {first.headers["x-request-id"], second.headers["x-request-id"]}
    assert len(ids) == 2
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in ids)


async def test_one_json_log_line_per_request(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(level="INFO", json_format=True)
    await client.get("/api/v1/health/live", headers={"X-Request-ID": "req-log-1"})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    requests = [line for line in lines if line.get("event") == "request"]
    assert len(requests) == 1
    entry = requests[0]
    assert entry["method"] == "GET"
    assert entry["path"] == "/api/v1/health/live"
    assert entry["status_code"] == 200
    assert entry["correlation_id"] == "req-log-1"
    assert entry["level"] == "info"
    assert isinstance(entry["response_time_ms"], float | int)


def test_redaction_blanks_secrets_at_any_depth(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="INFO", json_format=True)
    structlog.get_logger("test").info(
        "provider_configured",
        password="hunter2",
        client_secret="s3cr3t-value",
        settings={"api_key": "cvk_abc", "nested": [{"Authorization": "Bearer tok-xyz"}]},
        headers={"X-API-Key": "key-123", "accept": "application/json"},
        access_token="jwt-value",
        username="alice",
    )
    logging.getLogger("stdlib").warning("plain %s", "message")
    output = capsys.readouterr().err
    for secret in ("hunter2", "s3cr3t-value", "cvk_abc", "tok-xyz", "key-123", "jwt-value"):
        assert secret not in output
    entry = json.loads(output.splitlines()[0])
    assert entry["username"] == "alice"
    assert entry["headers"]["accept"] == "application/json"
    assert entry["password"] == "[redacted]"
    assert "plain message" in output


def test_redaction_processor_keeps_the_event_name() -> None:
    event = redact_secrets(None, "info", {"event": "token refreshed", "token": "abc"})
    assert event == {"event": "token refreshed", "token": "[redacted]"}


def _count(metrics: str, route: str, status: str) -> float:
    pattern = (
        r'^api_request_duration_seconds_count\{method="GET",route="'
        + re.escape(route)
        + r'",status="'
        + status
        + r'"\} ([0-9.e+]+)$'
    )
    match = re.search(pattern, metrics, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_metrics_record_requests_by_route_template(client: httpx.AsyncClient) -> None:
    before = (await client.get("/metrics")).text
    await client.get("/api/v1/health")
    await client.get("/api/v1/health")
    await client.get("/definitely/not/here")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text
    assert _count(after, "/api/v1/health", "200") - _count(before, "/api/v1/health", "200") == 2
    assert _count(after, "unmatched", "404") - _count(before, "unmatched", "404") == 1
    assert "/definitely/not/here" not in after
