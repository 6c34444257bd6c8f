"""Every surface renders every kind of error in its own document's format."""

from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import BaseModel, ConfigDict, Field

from conveyor.auth.policies import OPEN
from conveyor.config import Settings
from conveyor.errors import (
    ConflictError,
    ErrorFormat,
    FlatErrorFormat,
    NestedErrorFormat,
    NotFoundError,
    PlatformErrorFormat,
    ProblemDetailsFormat,
    StatusEnvelopeFormat,
    Surface,
)
from conveyor.main import create_app
from conveyor.module import Module

SECRET_TEXT = "db password is hunter2"


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: str = Field(min_length=2, max_length=2)


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    count: int
    address: Address


def _module(name: str, errors: ErrorFormat) -> Module:
    prefix = f"/t/{name}"
    surface = Surface(name, errors, prefixes=(prefix,))
    router = surface.router(prefix=prefix, dependencies=[Depends(OPEN)])

    @router.post("/things", status_code=201)
    async def create_thing(thing: Thing) -> dict[str, Any]:
        return thing.model_dump()

    @router.get("/things/{thing_id}")
    async def get_thing(thing_id: int) -> dict[str, Any]:
        raise NotFoundError(f"Thing {thing_id} not found", code="THING_NOT_FOUND")

    @router.post("/things/{thing_id}/approve")
    async def approve(thing_id: int) -> dict[str, Any]:
        raise ConflictError("Thing is not pending", details={"status": "approved"})

    @router.get("/boom")
    async def boom() -> dict[str, Any]:
        raise RuntimeError(SECRET_TEXT)

    return Module(name=name, routers=[router], surface=surface)


FORMATS = {
    "platform": PlatformErrorFormat(),
    "nested": NestedErrorFormat(),
    "flat": FlatErrorFormat(),
    "envelope": StatusEnvelopeFormat(),
    "problem": ProblemDetailsFormat(),
}


@pytest.fixture
async def app(settings: Settings) -> FastAPI:
    return create_app(
        settings, extra_modules=[_module(name, errors) for name, errors in FORMATS.items()]
    )


BAD_THING = {"name": "", "count": "many", "address": {"state": "California"}, "colour": "red"}


# --- 004 / platform: {"detail", "error_code", "timestamp"} -------------------------------


async def test_platform_validation_is_422_naming_each_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/t/platform/things", json=BAD_THING)
    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"detail", "error_code", "timestamp"}
    assert body["error_code"] == "VALIDATION_ERROR"
    for field in ("name", "count", "address.state", "colour"):
        assert field in body["detail"]
    assert body["timestamp"].endswith("Z")


async def test_platform_domain_not_found_and_conflict(client: httpx.AsyncClient) -> None:
    response = await client.get("/t/platform/things/7")
    assert response.status_code == 404
    assert response.json()["detail"] == "Thing 7 not found"
    assert response.json()["error_code"] == "THING_NOT_FOUND"
    response = await client.post("/t/platform/things/7/approve")
    assert response.status_code == 409
    assert response.json()["error_code"] == "CONFLICT"


async def test_platform_unknown_path_and_method(client: httpx.AsyncClient) -> None:
    response = await client.get("/t/platform/nothing-here")
    assert response.status_code == 404
    assert response.json()["error_code"] == "NOT_FOUND"
    assert "/t/platform/nothing-here" in response.json()["detail"]
    response = await client.delete("/t/platform/things")
    assert response.status_code == 405
    assert response.json()["error_code"] == "METHOD_NOT_ALLOWED"
    assert response.headers["allow"] == "POST"


async def test_paths_outside_every_surface_use_the_platform_format(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/no/such/thing")
    assert response.status_code == 404
    assert set(response.json()) == {"detail", "error_code", "timestamp"}


# --- 000: {"success": false, "error": {"code", "message", "details"}} -----------------------


async def test_nested_validation_is_400_with_field_details(client: httpx.AsyncClient) -> None:
    response = await client.post("/t/nested/things", json=BAD_THING)
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "VALIDATION_ERROR"
    fields = {item["field"] for item in body["error"]["details"]["fields"]}
    assert fields == {"name", "count", "address.state", "colour"}


async def test_nested_domain_errors_keep_code_and_details(client: httpx.AsyncClient) -> None:
    response = await client.get("/t/nested/things/3")
    assert response.status_code == 404
    assert response.json() == {
        "success": False,
        "error": {"code": "THING_NOT_FOUND", "message": "Thing 3 not found", "details": {}},
    }
    response = await client.post("/t/nested/things/3/approve")
    assert response.json()["error"]["details"] == {"status": "approved"}


async def test_nested_unknown_path_and_method(client: httpx.AsyncClient) -> None:
    response = await client.get("/t/nested/unknown")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
    response = await client.put("/t/nested/things/3")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


# --- 001: {"success": false, "error": "<type>", "message"} ----------------------------------


async def test_flat_validation_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/t/flat/things", json=BAD_THING)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"success", "error", "message"}
    assert body["success"] is False
    assert body["error"] == "Bad Request"
    assert "address.state" in body["message"]


async def test_flat_not_found_unknown_path_and_method(client: httpx.AsyncClient) -> None:
    response = await client.get("/t/flat/things/9")
    assert response.status_code == 404
    assert response.json() == {
        "success": False,
        "error": "Not Found",
        "message": "Thing 9 not found",
    }
    response = await client.get("/t/flat/elsewhere")
    assert response.status_code == 404
    assert response.json()["success"] is False
    response = await client.patch("/t/flat/things")
    assert response.status_code == 405
    assert response.json()["error"] == "Method Not Allowed"


# --- 002: {"status": "error", "message", "data": {"error_code", "path"}} ----------------------


async def test_envelope_validation_is_422_with_pydantic_details(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/t/envelope/things", json=BAD_THING)
    assert response.status_code == 422
    body = response.json()
    assert body["status"] == "error"
    assert body["data"]["error_code"] == "VALIDATION_ERROR"
    assert body["data"]["path"] == "/t/envelope/things"
    locs = {tuple(item["loc"]) for item in body["data"]["details"]}
    assert ("body", "address", "state") in locs
    assert all({"type", "loc", "msg"} <= set(item) for item in body["data"]["details"])
    assert all("input" not in item for item in body["data"]["details"])


async def test_envelope_not_found_carries_path(client: httpx.AsyncClient) -> None:
    response = await client.get("/t/envelope/things/5")
    assert response.status_code == 404
    assert response.json() == {
        "status": "error",
        "message": "Thing 5 not found",
        "data": {"error_code": "THING_NOT_FOUND", "path": "/t/envelope/things/5"},
    }
    response = await client.delete("/t/envelope/things")
    assert response.status_code == 405
    assert response.json()["data"]["error_code"] == "METHOD_NOT_ALLOWED"


# --- 003: RFC 9457 problem details ----------------------------------------------------------


async def test_problem_validation_is_400_with_errors_map(client: httpx.AsyncClient) -> None:
    response = await client.post("/t/problem/things", json=BAD_THING)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 400
    assert body["title"] == "One or more validation errors occurred."
    assert body["type"] == "https://tools.ietf.org/html/rfc9110#section-15.5.1"
    assert body["instance"] == "/t/problem/things"
    assert set(body["errors"]) == {"name", "count", "address.state", "colour"}
    assert all(isinstance(messages, list) for messages in body["errors"].values())


async def test_problem_not_found_conflict_and_405(client: httpx.AsyncClient) -> None:
    response = await client.get("/t/problem/things/4")
    assert response.status_code == 404
    body = response.json()
    assert body["type"] == "https://tools.ietf.org/html/rfc9110#section-15.5.5"
    assert (body["title"], body["status"], body["detail"]) == (
        "Not found",
        404,
        "Thing 4 not found",
    )
    assert body["instance"] == "/t/problem/things/4"
    response = await client.post("/t/problem/things/4/approve")
    assert response.status_code == 409
    assert response.json()["status"] == 409
    response = await client.put("/t/problem/things")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"


# --- shared behaviour -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FORMATS))
async def test_unexpected_errors_are_500_without_internals(
    client: httpx.AsyncClient, name: str
) -> None:
    response = await client.get(f"/t/{name}/boom", headers={"X-Request-ID": f"req-{name}"})
    assert response.status_code == 500
    assert SECRET_TEXT not in response.text
    assert "RuntimeError" not in response.text
    assert "Traceback" not in response.text
    assert f"req-{name}" in response.text
    assert response.headers["x-request-id"] == f"req-{name}"


@pytest.mark.parametrize(
    ("name", "status"),
    [("platform", 422), ("nested", 400), ("flat", 400), ("envelope", 422), ("problem", 400)],
)
async def test_malformed_json_is_a_validation_error(
    client: httpx.AsyncClient, name: str, status: int
) -> None:
    response = await client.post(
        f"/t/{name}/things", content=b'{"name": "x",', headers={"content-type": "application/json"}
    )
    assert response.status_code == status
    assert "not valid JSON" in response.text


@pytest.mark.parametrize("name", sorted(FORMATS))
async def test_rejected_input_is_never_echoed(client: httpx.AsyncClient, name: str) -> None:
    response = await client.post(
        f"/t/{name}/things",
        json={"name": "ok", "count": 1, "address": {"state": "CA"}, "password": "hunter2"},
    )
    assert response.status_code in {400, 422}
    assert "hunter2" not in response.text
    assert "password" in response.text


# --- a surface mounted where a setting says, and a format with its own code names ----------


def _mounted_module() -> Module:
    surface = Surface(
        "mounted",
        StatusEnvelopeFormat(codes={"NOT_FOUND": "NOTHING_HERE"}),
        prefixes=("/things",),
    )
    router = surface.router(dependencies=[Depends(OPEN)])

    @router.get("/things/{thing_id}")
    async def get_mounted_thing(thing_id: int) -> dict[str, Any]:
        raise NotFoundError(f"Thing {thing_id} not found")

    return Module(name="mounted", routers=[router], surface=surface, prefix=lambda _: "/m/v2")


async def test_a_module_is_mounted_at_its_prefix_and_owns_the_paths_under_it(
    settings: Settings,
) -> None:
    app = create_app(settings, extra_modules=[_mounted_module()])
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        found = await http.get("/m/v2/things/3")
        assert found.status_code == 404
        assert found.json() == {
            "status": "error",
            "message": "Thing 3 not found",
            "data": {"error_code": "NOTHING_HERE", "path": "/m/v2/things/3"},
        }
        unknown = await http.get("/m/v2/other")
        assert unknown.json()["data"] == {"error_code": "NOTHING_HERE", "path": "/m/v2/other"}
        assert (await http.get("/things/3")).json()["error_code"] == "NOT_FOUND"  # platform
