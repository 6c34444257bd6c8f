"""The batch pipeline's outside systems: the NZBN register, restaurant websites and the account
setup service against a local fake server, and the simulators' promise to repeat themselves."""

import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from conveyor.batches import providers
from conveyor.batches.providers import (
    AccountRequest,
    Candidate,
    HttpAccountSetup,
    NzbnRegistry,
    ProviderError,
    RestaurantFacts,
    SimulatedAccountSetup,
    SimulatedCompanyRegistry,
    SimulatedMenuExtractor,
    WebsiteMenuExtractor,
)
from tests.support import make_settings

SUBSCRIPTION_KEY = "nzbn-key-0123456789abcdef"
API_KEY = "acct-key-fedcba9876543210"
PASSWORD = "Tr0ub4dor&3-pumpd"
NZBN = "9429041535134"


@dataclass
class Sent:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeServer:
    """Answers each path with what a test put in `routes`; 404 for anything else. With
    `subscription_key` set it refuses requests without it, as the NZBN gateway does."""

    url: str = ""
    routes: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)
    subscription_key: str | None = None
    delay: float = 0.0

    def answer(self, path: str, body: object, *, status: int = 200, **headers: str) -> None:
        raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        kind = "text/html; charset=utf-8" if isinstance(body, str) else "application/json"
        self.routes[path] = (status, {"content-type": kind, **headers}, raw)


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    state = FakeServer()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("content-length", 0))
            raw = self.rfile.read(length).decode()
            state.sent.append(
                Sent(self.command, self.path, dict(self.headers), json.loads(raw) if raw else None)
            )
            time.sleep(state.delay)
            key = self.headers.get("Ocp-Apim-Subscription-Key")
            route: tuple[int, dict[str, str], bytes]
            if state.subscription_key is not None and key != state.subscription_key:
                route = (401, {}, b'{"message": "Access denied due to invalid subscription key"}')
            else:
                path = self.path if self.path in state.routes else self.path.split("?")[0]
                route = state.routes.get(path, (404, {}, b'{"message": "not found"}'))
            status, headers, body = route
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _handle

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a client that timed out and hung up is what the timeout tests want

    server = Server(("127.0.0.1", 0), Handler)
    # a short poll interval: shutdown() waits for it at every test's end
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


# --- NZBN register ------------------------------------------------------------------------


def _registry(fake: FakeServer, *, key: str | None = SUBSCRIPTION_KEY) -> NzbnRegistry:
    fake.subscription_key = SUBSCRIPTION_KEY
    return NzbnRegistry(api_url=f"{fake.url}/nzbn/v5/", subscription_key=key, timeout=0.5)


async def test_a_register_search_sends_the_key_and_maps_each_entity(fake: FakeServer) -> None:
    fake.answer(
        "/nzbn/v5/entities",
        {
            "totalItems": 2,
            "items": [
                {
                    "entityName": "PIZZA & CO LIMITED",
                    "nzbn": NZBN,
                    "sourceRegisterUniqueId": "6512345",
                    "entityStatusDescription": "Registered",
                    "entityTypeDescription": "NZ Limited Company",
                },
                {"entityName": "NO NUMBER", "entityStatusDescription": "Removed"},
            ],
        },
    )
    found = await _registry(fake).search("Pizza & Co")
    assert found == [Candidate("PIZZA & CO LIMITED", "6512345", "Registered", NZBN)]
    (sent,) = fake.sent
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(sent.path).query) == {
        "search-term": ["Pizza & Co"]
    }
    assert sent.headers["Ocp-Apim-Subscription-Key"] == SUBSCRIPTION_KEY
    assert sent.headers["Accept"] == "application/json"


async def test_details_keep_active_directors_and_the_first_gst_number_and_email(
    fake: FakeServer,
) -> None:
    person = {"roleType": "Director", "roleStatus": "ACTIVE"}
    fake.answer(
        f"/nzbn/v5/entities/{NZBN}",
        {
            "entityName": "PIZZA & CO LIMITED",
            "nzbn": NZBN,
            "sourceRegisterUniqueId": "6512345",
            "entityStatusDescription": "Registered",
            "roles": [
                {**person, "rolePerson": {"firstName": "Aroha", "lastName": "Ngata"}},
                {**person, "roleStatus": "INACTIVE", "rolePerson": {"firstName": "Old"}},
                {"roleType": "Shareholder", "rolePerson": {"firstName": "Not", "lastName": "One"}},
                {"roleType": "Director", "rolePerson": {"firstName": "Sam", "lastName": "Chen"}},
            ],
            "gstNumbers": [{"gstNumber": "123-456-789"}, {"gstNumber": "999-999-999"}],
            "emailAddresses": [{"emailAddress": "accounts@pizzaco.co.nz"}],
        },
    )
    candidate = Candidate("Pizza & Co Limited", "6512345", "Registered", NZBN)
    details = await _registry(fake).details(candidate)
    assert details.company_name == "PIZZA & CO LIMITED"
    assert (details.company_number, details.nzbn, details.status) == ("6512345", NZBN, "Registered")
    assert details.directors == ["Aroha Ngata", "Sam Chen"]
    assert details.gst_number == "123-456-789"
    assert details.email == "accounts@pizzaco.co.nz"


async def test_a_refused_key_is_named_but_never_shown(fake: FakeServer) -> None:
    with pytest.raises(ProviderError, match="refused the subscription key") as raised:
        await _registry(fake, key="wrong-key-123").search("Pizza")
    assert "wrong-key-123" not in str(raised.value)


async def test_a_missing_key_fails_before_calling_the_register(fake: FakeServer) -> None:
    with pytest.raises(ProviderError, match="CONVEYOR_NZBN_SUBSCRIPTION_KEY is not set"):
        await _registry(fake, key=None).search("Pizza")
    assert fake.sent == []


@pytest.mark.parametrize("status", [404, 429, 503])
async def test_register_errors_are_provider_errors(fake: FakeServer, status: int) -> None:
    fake.answer(f"/nzbn/v5/entities/{NZBN}", {"key": SUBSCRIPTION_KEY}, status=status)
    candidate = Candidate("Pizza & Co Limited", "6512345", "Registered", NZBN)
    with pytest.raises(ProviderError, match=f"HTTP {status}") as raised:
        await _registry(fake).details(candidate)
    assert SUBSCRIPTION_KEY not in str(raised.value)


async def test_a_slow_register_times_out_as_a_provider_error(fake: FakeServer) -> None:
    fake.delay = 1.0
    with pytest.raises(ProviderError, match="unreachable: ReadTimeout"):
        await _registry(fake).search("Pizza")


# --- restaurant websites ------------------------------------------------------------------


def _page(*blocks: object, head: str = "", body: str = "") -> str:
    scripts = "".join(
        f'<script type="application/ld+json">{b if isinstance(b, str) else json.dumps(b)}</script>'
        for b in blocks
    )
    return f"<html><head>{head}{scripts}</head><body>{body}</body></html>"


MENU = {
    "@type": "Menu",
    "hasMenuSection": [
        {
            "@type": "MenuSection",
            "name": "Pizzas",
            "hasMenuItem": [
                {
                    "@type": "MenuItem",
                    "name": "Margherita",
                    "description": "Tomato, mozzarella &amp; basil",
                    "offers": {"@type": "Offer", "price": 18.5, "priceCurrency": "NZD"},
                },
                {"@type": "MenuItem", "name": "Pepperoni", "offers": [{"price": "$21"}]},
            ],
        }
    ],
    "hasMenuItem": {"@type": "MenuItem", "name": "Garlic Bread"},
}


def _restaurant(website: str | None) -> RestaurantFacts:
    return RestaurantFacts(id="r-1", name="Pizza Palace", website=website)


async def test_the_menu_logo_and_colours_are_read_from_json_ld(fake: FakeServer) -> None:
    restaurant = {"@type": "Restaurant", "logo": {"@type": "ImageObject", "url": "/logo.png"}}
    page = _page(
        "{ not json",
        {"@context": "https://schema.org", "@graph": [{"@type": "WebSite"}, restaurant]},
        [{**MENU, "@context": "https://schema.org"}],
        head='<meta name="theme-color" content="#C0FFEE"><meta name="theme-color" content="#AbC">',
    )
    fake.answer("/", "", status=301, location="/home")
    fake.answer("/home", page)
    branding = await WebsiteMenuExtractor(timeout=2).extract(_restaurant(f"{fake.url}/"))
    assert [(i.name, i.description, i.price, i.category) for i in branding.items] == [
        ("Garlic Bread", None, None, None),
        ("Margherita", "Tomato, mozzarella & basil", "18.50", "Pizzas"),
        ("Pepperoni", None, "21.00", "Pizzas"),
    ]
    assert branding.logo_url == f"{fake.url}/logo.png"
    assert branding.colours == ["#c0ffee", "#aabbcc"]
    assert branding.source == f"{fake.url}/home"


async def test_a_linked_menu_page_on_the_same_site_is_read_once(fake: FakeServer) -> None:
    restaurant = {"@type": "Restaurant", "logo": "https://cdn.example/logo.svg", "hasMenu": "/menu"}
    fake.answer("/", _page(restaurant))
    fake.answer("/menu", _page({"@type": "Restaurant", "hasMenu": MENU}))
    branding = await WebsiteMenuExtractor(timeout=2).extract(_restaurant(fake.url))
    assert [item.name for item in branding.items] == ["Garlic Bread", "Margherita", "Pepperoni"]
    assert branding.logo_url == "https://cdn.example/logo.svg"
    assert branding.source == f"{fake.url}/menu"
    assert [sent.path for sent in fake.sent] == ["/", "/menu"]


async def test_a_menu_on_another_site_is_not_fetched(fake: FakeServer) -> None:
    fake.answer("/", _page({"@type": "Restaurant", "hasMenu": "https://menus.example/pizza"}))
    branding = await WebsiteMenuExtractor(timeout=2).extract(_restaurant(fake.url))
    assert branding.items == []
    assert len(fake.sent) == 1


async def test_only_the_first_part_of_a_huge_page_is_read(fake: FakeServer) -> None:
    tail = "x" * 100_000 + '<meta name="theme-color" content="#123456">'
    fake.answer("/", _page(MENU, body=tail))
    extractor = WebsiteMenuExtractor(timeout=2, max_bytes=10_000)
    branding = await extractor.extract(_restaurant(fake.url))
    assert len(branding.items) == 3
    assert branding.colours == []


@pytest.mark.parametrize(
    ("website", "message"),
    [
        (None, "restaurant has no website to read a menu from"),
        ("ftp://pizza.example/menu", "not a web address"),
        ("javascript:alert(1)", "not a web address"),
    ],
)
async def test_a_restaurant_without_a_readable_website_is_refused(
    website: str | None, message: str
) -> None:
    with pytest.raises(ProviderError, match=message):
        await WebsiteMenuExtractor().extract(_restaurant(website))


async def test_a_failing_website_is_a_provider_error(fake: FakeServer) -> None:
    fake.answer("/", "<h1>Oops</h1>", status=500)
    with pytest.raises(ProviderError, match="answered HTTP 500"):
        await WebsiteMenuExtractor(timeout=2).extract(_restaurant(fake.url))
    fake.delay = 1.0
    with pytest.raises(ProviderError, match="unreachable: ReadTimeout"):
        await WebsiteMenuExtractor(timeout=0.2).extract(_restaurant(fake.url))


# --- account setup ------------------------------------------------------------------------


REQUEST = AccountRequest(
    job_id="job-1",
    restaurant=RestaurantFacts(
        id="r-1", name="Pizza Palace", street="1 Queen St", city="Auckland", phone="09 555 0101"
    ),
    email="owner@pizzapalace.co.nz",
    password=PASSWORD,
    company={"company_name": "Pizza Palace Limited", "nzbn": NZBN},
    pumpd_user_id="u-42",
)


def _setup(fake: FakeServer, *, api_key: str | None = API_KEY) -> HttpAccountSetup:
    return HttpAccountSetup(url=f"{fake.url}/api/", api_key=api_key, timeout=2)


async def test_the_account_sub_step_sends_the_password_and_returns_the_ids(
    fake: FakeServer,
) -> None:
    fake.answer("/api/account", {"user_id": 42, "restaurant_id": None, "token": "t", "ok": True})
    ids = await _setup(fake).run("account", REQUEST, idempotency_key="job-1:account")
    assert ids == {"user_id": "42"}
    (sent,) = fake.sent
    assert (sent.method, sent.path) == ("POST", "/api/account")
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert sent.headers["Idempotency-Key"] == "job-1:account"
    assert sent.body["password"] == PASSWORD
    assert sent.body["email"] == "owner@pizzapalace.co.nz"
    assert sent.body["restaurant"]["name"] == "Pizza Palace"
    assert sent.body["company"]["nzbn"] == NZBN
    assert sent.body["pumpd_user_id"] == "u-42"


async def test_other_sub_steps_never_see_the_password(fake: FakeServer) -> None:
    fake.answer("/api/restaurantRegistration", {"restaurant_id": "rest-7"})
    ids = await _setup(fake, api_key=None).run(
        "restaurantRegistration", REQUEST, idempotency_key="job-1:restaurantRegistration"
    )
    assert ids == {"restaurant_id": "rest-7"}
    (sent,) = fake.sent
    assert "password" not in sent.body
    assert "Authorization" not in sent.headers


async def test_a_sub_step_already_done_is_a_success(fake: FakeServer) -> None:
    fake.answer("/api/codeGeneration", {"code_id": "code-9", "error": "duplicate"}, status=409)
    ids = await _setup(fake).run("codeGeneration", REQUEST, idempotency_key="job-1:code")
    assert ids == {"code_id": "code-9"}


async def test_a_refusal_shows_the_status_and_body_but_no_secret(fake: FakeServer) -> None:
    echoed = {"error": "weak password", "password": PASSWORD, "auth": f"Bearer {API_KEY}"}
    fake.answer("/api/account", echoed, status=422)
    with pytest.raises(ProviderError) as raised:
        await _setup(fake).run("account", REQUEST, idempotency_key="job-1:account")
    message = str(raised.value)
    assert "HTTP 422" in message
    assert "weak password" in message
    assert PASSWORD not in message
    assert API_KEY not in message


@pytest.mark.parametrize("status", [408, 429, 502])
async def test_transient_account_setup_failures_are_provider_errors(
    fake: FakeServer, status: int
) -> None:
    fake.answer("/api/menuImport", {"error": "busy"}, status=status)
    with pytest.raises(ProviderError, match=f"HTTP {status} to menuImport"):
        await _setup(fake).run("menuImport", REQUEST, idempotency_key="job-1:menuImport")


# --- factories and simulators -------------------------------------------------------------


def test_settings_choose_the_real_clients() -> None:
    chosen = make_settings(
        "sqlite+aiosqlite://",
        menu_extractor="website",
        company_registry="nzbn",
        nzbn_subscription_key=SUBSCRIPTION_KEY,
        account_setup="http",
    )
    assert isinstance(providers.menu_extractor(chosen), WebsiteMenuExtractor)
    assert isinstance(providers.company_registry(chosen), NzbnRegistry)
    assert isinstance(providers.account_setup(chosen), HttpAccountSetup)
    default = make_settings("sqlite+aiosqlite://")
    assert isinstance(providers.menu_extractor(default), SimulatedMenuExtractor)
    assert isinstance(providers.company_registry(default), SimulatedCompanyRegistry)
    assert isinstance(providers.account_setup(default), SimulatedAccountSetup)


async def test_the_simulators_give_the_same_answers_every_time() -> None:
    restaurant = _restaurant(None)
    assert await SimulatedMenuExtractor().extract(restaurant) == (
        await SimulatedMenuExtractor().extract(restaurant)
    )
    registry = SimulatedCompanyRegistry()
    found = await registry.search("Pizza Palace")
    assert found == await SimulatedCompanyRegistry().search("Pizza Palace")
    assert found[0].company_name == "Pizza Palace Limited"
    assert await registry.details(found[0]) == await registry.details(found[0])
    assert await registry.search("Unregistered Noodle Bar") == []
    first = await SimulatedAccountSetup().run("account", REQUEST, idempotency_key="a")
    assert first == await SimulatedAccountSetup().run("account", REQUEST, idempotency_key="b")


async def test_a_simulator_with_failure_rate_one_always_fails() -> None:
    with pytest.raises(ProviderError, match="simulated"):
        await SimulatedCompanyRegistry(failure_rate=1.0).search("Pizza Palace")
    with pytest.raises(ProviderError, match="simulated"):
        await SimulatedMenuExtractor(failure_rate=1.0).extract(_restaurant(None))


async def test_in_production_menus_are_not_read_from_internal_hosts(fake: FakeServer) -> None:
    fake.answer("/", _page(MENU))
    with pytest.raises(ProviderError, match=r"127\.0\.0\.1 is an internal address"):
        await WebsiteMenuExtractor(timeout=2, public_only=True).extract(_restaurant(fake.url))
    assert fake.sent == []
