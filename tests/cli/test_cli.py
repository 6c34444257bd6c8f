"""The `conveyor` command line, run as a user runs it: in a subprocess."""

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conveyor import __version__, migrations
from tests.workers import free_port


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("CONVEYOR_")
    }
    environment["COLUMNS"] = "200"  # rich tables wrap at 80 columns when not on a terminal
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_version(tmp_path: Path) -> None:
    result = run_cli("version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == __version__


def test_db_upgrade_then_current_on_the_default_sqlite_file(tmp_path: Path) -> None:
    before = run_cli("db", "current", cwd=tmp_path)
    assert before.returncode == 0
    assert "never migrated" in before.stdout
    upgraded = run_cli("db", "upgrade", cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert (tmp_path / "conveyor.db").exists()
    after = run_cli("db", "current", cwd=tmp_path)
    assert after.returncode == 0
    heads = migrations.head_revisions()
    assert all(head in after.stdout for head in heads)
    assert "up to date" in after.stdout


def test_settings_come_from_a_dotenv_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"CONVEYOR_DATABASE_URL=sqlite:///{tmp_path / 'other.db'}\n")
    assert run_cli("db", "upgrade", cwd=tmp_path).returncode == 0
    assert (tmp_path / "other.db").exists()
    assert not (tmp_path / "conveyor.db").exists()


def test_user_mistakes_print_one_line_without_a_traceback(tmp_path: Path) -> None:
    bad_setting = run_cli("db", "current", cwd=tmp_path, env={"CONVEYOR_SERVICES": "payroll"})
    assert bad_setting.returncode == 2
    assert "Traceback" not in bad_setting.stderr
    assert "CONVEYOR_SERVICES" in bad_setting.stderr
    assert "payroll" in bad_setting.stderr
    assert len(bad_setting.stderr.strip().splitlines()) == 1

    unreachable = run_cli(
        "db",
        "upgrade",
        cwd=tmp_path,
        env={"CONVEYOR_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
    )
    assert unreachable.returncode == 1
    assert "Traceback" not in unreachable.stderr
    assert unreachable.stderr.startswith("error: could not migrate the database")
    assert len(unreachable.stderr.strip().splitlines()) == 1


def test_production_refuses_to_start_with_the_default_secret(tmp_path: Path) -> None:
    result = run_cli("serve", cwd=tmp_path, env={"CONVEYOR_ENV": "production"})
    assert result.returncode == 2
    assert "CONVEYOR_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("processes", [1, 2])
def test_serve_answers_then_stops_cleanly_on_ctrl_c(tmp_path: Path, processes: int) -> None:
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    command = ["serve", "--port", str(port), "--processes", str(processes)]
    process = subprocess.Popen(
        [sys.executable, "-m", "conveyor", *command],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "conveyor serve did not become ready"
            time.sleep(0.2)
        for path in ("/docs", "/api/v1/health", "/api/v1/health/detailed"):
            assert httpx.get(base + path, timeout=5).status_code == 200, path
        for _ in range(20):  # new connections: the processes share them
            assert httpx.get(f"{base}/api/v1/health/live", timeout=5).status_code == 200
        # Whichever process answers, /metrics counts what every process served.
        metrics = httpx.get(f"{base}/metrics", timeout=5).text
        counted = re.search(
            r'^api_request_duration_seconds_count\{[^}]*route="/api/v1/health/live"[^}]*\} (\S+)$',
            metrics,
            re.MULTILINE,
        )
        assert counted is not None, metrics
        assert float(counted.group(1)) == 20
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "Traceback" not in stderr
    assert (tmp_path / "conveyor.db").exists()  # the default database, migrated on start


def test_tasks_commands_show_and_replay(tmp_path: Path) -> None:
    assert run_cli("db", "upgrade", cwd=tmp_path).returncode == 0
    url = f"sqlite:///{tmp_path / 'conveyor.db'}"

    async def seed() -> int:
        from sqlalchemy import update

        from conveyor.database import Database
        from conveyor.tasks import Task, TaskStatus, enqueue
        from tests.tasks import handlers  # noqa: F401

        database = Database(url)
        try:
            async with database.transaction() as session:
                queued = await enqueue(session, "accept.poison", {})
                await session.execute(
                    update(Task)
                    .where(Task.id == queued.id)
                    .values(status=TaskStatus.DEAD, last_error="Killed by SIGKILL")
                )
            return queued.id
        finally:
            await database.dispose()

    task_id = asyncio.run(seed())
    listed = run_cli("tasks", "list", "--status", "dead", cwd=tmp_path)
    assert listed.returncode == 0
    assert "accept.poison" in listed.stdout
    shown = run_cli("tasks", "show", str(task_id), cwd=tmp_path)
    assert "Killed by SIGKILL" in shown.stdout
    assert run_cli("tasks", "replay", str(task_id), cwd=tmp_path).returncode == 0
    stats = run_cli("tasks", "stats", cwd=tmp_path)
    assert "queued" in stats.stdout
    again = run_cli("tasks", "replay", str(task_id), cwd=tmp_path)
    assert again.returncode == 1
    assert "only dead or cancelled" in again.stderr
    missing = run_cli("tasks", "show", "999", cwd=tmp_path)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: no task with id 999"


def test_worker_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    result = run_cli("worker", cwd=tmp_path)
    assert result.returncode == 1
    assert "conveyor db upgrade" in result.stderr
    assert "Traceback" not in result.stderr


def test_users_create_and_list(tmp_path: Path) -> None:
    assert run_cli("db", "upgrade", cwd=tmp_path).returncode == 0
    created = run_cli(
        "users", "create", "Admin@Example.com", "--password", "s3cret-pass", "--admin",
        "--name", "Ada Admin", cwd=tmp_path,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "Admin@Example.com" in created.stdout
    assert "admin" in created.stdout
    assert "s3cret-pass" not in created.stdout + created.stderr
    from_stdin = subprocess.run(
        [sys.executable, "-m", "conveyor", "users", "create", "op@example.com",
         "--password-stdin", "--operator", "--signup-complete"],
        cwd=tmp_path, input="piped-secret-1\n", capture_output=True, text=True,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")},
             "COLUMNS": "200"},
        timeout=60, check=False,
    )  # fmt: skip
    assert from_stdin.returncode == 0, from_stdin.stderr
    listed = run_cli("users", "list", cwd=tmp_path)
    assert "Ada Admin" in listed.stdout
    assert "op@example.com" in listed.stdout
    assert "operator" in listed.stdout
    duplicate = run_cli(
        "users", "create", "admin@example.com", "--password", "another-1", cwd=tmp_path
    )
    assert duplicate.returncode == 1
    assert "already exists" in duplicate.stderr
    short = run_cli("users", "create", "x@example.com", "--password", "short", cwd=tmp_path)
    assert short.returncode == 1
    assert "at least 8 characters" in short.stderr


def test_api_keys_create_list_revoke(tmp_path: Path) -> None:
    assert run_cli("db", "upgrade", cwd=tmp_path).returncode == 0
    created = run_cli("api-keys", "create", "reports frontend", "--scopes", "reports", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    plaintext = created.stdout.strip().splitlines()[-1]
    assert created.stdout.strip() == plaintext, "the key is alone on standard output"
    assert plaintext.startswith("cvk_")
    key_id = plaintext.split("_")[1]
    listed = run_cli("api-keys", "list", cwd=tmp_path)
    assert key_id in listed.stdout
    assert "reports frontend" in listed.stdout
    assert plaintext.split("_", 2)[2] not in listed.stdout
    assert run_cli("api-keys", "revoke", key_id, cwd=tmp_path).returncode == 0
    missing = run_cli("api-keys", "revoke", "0000000000000000", cwd=tmp_path)
    assert missing.returncode == 1
    assert "not found" in missing.stderr


def test_webhooks_create_list_delete(tmp_path: Path) -> None:
    assert run_cli("db", "upgrade", cwd=tmp_path).returncode == 0
    created = run_cli(
        "webhooks",
        "create",
        "http://localhost:9000/hooks",
        "--events",
        "batch.completed, registration.failed",
        cwd=tmp_path,
    )
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("whsec_"), "the secret is alone on standard output"
    subscription_id = created.stderr.split(" as ")[1].split(";")[0].strip()
    listed = run_cli("webhooks", "list", cwd=tmp_path)
    assert subscription_id in listed.stdout
    assert "batch.completed, registration.failed" in listed.stdout
    assert secret not in listed.stdout
    assert run_cli("webhooks", "delete", subscription_id, cwd=tmp_path).returncode == 0
    assert subscription_id not in run_cli("webhooks", "list", cwd=tmp_path).stdout
    bad = run_cli("webhooks", "create", "not a url", "--events", "Nope", cwd=tmp_path)
    assert bad.returncode == 1
    assert "url:" in bad.stderr
    assert "event_types.0:" in bad.stderr
    assert "Traceback" not in bad.stderr
