"""The operator API for restaurants (/api/restaurants), in the 000 family's envelope."""

import httpx


async def test_create_get_and_search(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/restaurants",
        json={
            "name": "Pizza Palace",
            "address": "1 Main St",
            "city": "Auckland",
            "email": "hello@pizza.example",
            "phone": "+64 9 555 0101",
            "website_url": "https://pizza.example",
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["success"] is True
    restaurant = body["restaurant"]
    assert (restaurant["name"], restaurant["street"], restaurant["source"]) == (
        "Pizza Palace",
        "1 Main St",
        "api",
    )
    assert restaurant["website"] == "https://pizza.example/"
    await client.post("/api/restaurants", json={"name": "Burger House"})

    shown = await client.get(f"/api/restaurants/{restaurant['id']}")
    assert shown.json() == {"success": True, "restaurant": restaurant}
    found = (await client.get("/api/restaurants", params={"search": "PIZZA"})).json()
    assert [r["name"] for r in found["restaurants"]] == ["Pizza Palace"]
    assert found["total_count"] == 1
    everything = (await client.get("/api/restaurants", params={"limit": 1})).json()
    assert (everything["total_count"], len(everything["restaurants"])) == (2, 1)
    assert everything["restaurants"][0]["name"] == "Burger House"
    literal = (await client.get("/api/restaurants", params={"search": "%"})).json()
    assert literal["total_count"] == 0


async def test_errors_use_the_nested_envelope(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/restaurants/00000000-0000-0000-0000-000000000001")
    assert missing.status_code == 404
    assert missing.json()["success"] is False
    assert missing.json()["error"]["code"] == "RESTAURANT_NOT_FOUND"
    invalid = await client.post("/api/restaurants", json={"name": "", "colour": "red"})
    assert invalid.status_code == 400
    error = invalid.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert {f["field"] for f in error["details"]["fields"]} == {"name", "colour"}
