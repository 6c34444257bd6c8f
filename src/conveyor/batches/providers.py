"""Outside systems the onboarding pipeline talks to: a menu extractor (step 1), the company
registry (steps 2 and 4) and the account setup service (step 6).

Each is a `Protocol` with a deterministic simulator (the default: the same restaurant always
gives the same menu, candidates and details; latency and failure knobs
`CONVEYOR_SIMULATOR_LATENCY_MS` and `CONVEYOR_SIMULATOR_FAILURE_RATE`) and a real HTTP client.
Calls to one provider are limited to `CONVEYOR_BATCHES_PROVIDER_CONCURRENCY` at a time per
process, so a 10,000-restaurant batch cannot flood it.
"""

import asyncio
import hashlib
import html
import json
import re
import urllib.parse
import uuid
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from html.parser import HTMLParser
from typing import Any, Protocol

import httpx

from conveyor.config import Settings
from conveyor.kit.network import internal_address
from conveyor.kit.redact import excerpt
from conveyor.kit.simulation import Simulation, dice, digits


class ProviderError(Exception):
    """The outside system refused or could not be reached; the step is retried."""


@dataclass(frozen=True)
class RestaurantFacts:
    """What the pipeline knows about a restaurant when it asks an outside system."""

    id: str
    name: str
    street: str | None = None
    city: str | None = None
    website: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class MenuItem:
    name: str
    description: str | None = None
    price: str | None = None
    """Decimal as text (`"18.50"`), so JSON keeps it exact."""
    category: str | None = None


@dataclass(frozen=True)
class Branding:
    """Step 1's result."""

    items: list[MenuItem]
    logo_url: str | None
    colours: list[str]
    """Hex colours, primary first (`#a1b2c3`)."""
    source: str
    """Where it came from: `simulator`, or the page that was read."""


@dataclass(frozen=True)
class Candidate:
    """A company the registry found for a restaurant."""

    company_name: str
    company_number: str
    status: str
    nzbn: str
    match_source: str = "name"
    """`name` or `address`: which search found it."""


@dataclass(frozen=True)
class CompanyDetails:
    """Step 4's result: what the registry holds about the chosen company."""

    company_name: str
    company_number: str
    nzbn: str
    status: str
    directors: list[str] = field(default_factory=list)
    gst_number: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class AccountRequest:
    """What one step-6 sub-step needs; earlier sub-steps' ids are filled in as they finish."""

    job_id: str
    restaurant: RestaurantFacts
    email: str
    password: str
    company: dict[str, Any] | None = None
    menu: dict[str, Any] | None = None
    pumpd_user_id: str | None = None
    pumpd_restaurant_id: str | None = None


class MenuExtractor(Protocol):
    name: str

    async def extract(self, restaurant: RestaurantFacts, *, attempt: int = 1) -> Branding: ...


class CompanyRegistry(Protocol):
    name: str

    async def search(self, term: str, *, attempt: int = 1) -> list[Candidate]:
        """Companies whose name or address matches `term` (no `match_source` decided yet)."""
        ...

    async def details(self, candidate: Candidate, *, attempt: int = 1) -> CompanyDetails:
        """Everything the register holds about a company it found (looked up by its NZBN)."""
        ...


class AccountSetup(Protocol):
    name: str

    async def run(
        self, sub_step: str, request: AccountRequest, *, idempotency_key: str, attempt: int = 1
    ) -> dict[str, str]:
        """Do one sub-step; returns the ids it created (`user_id`, `restaurant_id`, ...)."""
        ...


# --- concurrency limits -------------------------------------------------------------------

_limits: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]]"
_limits = weakref.WeakKeyDictionary()


@asynccontextmanager
async def limited(provider: str, concurrency: int) -> AsyncIterator[None]:
    """At most `concurrency` calls to `provider` at once in this process (per event loop)."""
    semaphores = _limits.setdefault(asyncio.get_running_loop(), {})
    semaphore = semaphores.setdefault(provider, asyncio.Semaphore(concurrency))
    async with semaphore:
        yield


# --- simulators ---------------------------------------------------------------------------


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower()) or "restaurant"


class Simulator(Simulation):
    failure = ProviderError


_CUISINES: dict[str, list[tuple[str, str, str]]] = {
    "pizza": [
        ("Margherita", "Tomato, mozzarella, basil", "Pizzas"),
        ("Pepperoni", "Pepperoni, mozzarella, oregano", "Pizzas"),
        ("Garlic Bread", "Wood-fired, with herb butter", "Sides"),
        ("Tiramisu", "Espresso-soaked sponge, mascarpone", "Desserts"),
    ],
    "burger": [
        ("Classic Cheeseburger", "Beef patty, cheddar, pickles", "Burgers"),
        ("Crispy Chicken Burger", "Buttermilk chicken, slaw", "Burgers"),
        ("Shoestring Fries", "Sea salt", "Sides"),
        ("Thick Shake", "Vanilla, chocolate or caramel", "Drinks"),
    ],
    "taco": [
        ("Carnitas Taco", "Slow-cooked pork, salsa verde", "Tacos"),
        ("Baja Fish Taco", "Beer-battered fish, chipotle mayo", "Tacos"),
        ("Loaded Nachos", "Black beans, cheese, jalapeños", "Sides"),
        ("Churros", "Cinnamon sugar, chocolate sauce", "Desserts"),
    ],
    "sushi": [
        ("Salmon Nigiri", "Two pieces", "Nigiri"),
        ("Chicken Katsu Roll", "Eight pieces, katsu sauce", "Rolls"),
        ("Edamame", "Sea salt", "Sides"),
        ("Miso Soup", "Tofu, wakame, spring onion", "Sides"),
    ],
    "curry": [
        ("Butter Chicken", "Tomato and cream sauce", "Curries"),
        ("Lamb Rogan Josh", "Kashmiri chilli, yoghurt", "Curries"),
        ("Garlic Naan", "From the tandoor", "Breads"),
        ("Mango Lassi", "Yoghurt, mango, cardamom", "Drinks"),
    ],
    "cafe": [
        ("Flat White", "Double shot", "Coffee"),
        ("Eggs Benedict", "Poached eggs, hollandaise, bacon", "Brunch"),
        ("Cheese Scone", "Baked this morning", "Cabinet"),
        ("Banana Bread", "Toasted, with butter", "Cabinet"),
    ],
}
_CUISINE_WORDS = {
    "pizza": "pizza",
    "pizzeria": "pizza",
    "burger": "burger",
    "burgers": "burger",
    "taco": "taco",
    "tacos": "taco",
    "cantina": "taco",
    "sushi": "sushi",
    "curry": "curry",
    "tandoori": "curry",
    "cafe": "cafe",
    "coffee": "cafe",
    "espresso": "cafe",
}


@dataclass
class SimulatedMenuExtractor(Simulator):
    """Reads the cuisine off the restaurant's name (`Pizza Palace` serves pizza; a name that
    names none is a café) and prices each dish by the restaurant, so menus differ."""

    name: str = "simulator"

    async def extract(self, restaurant: RestaurantFacts, *, attempt: int = 1) -> Branding:
        await self._call("menu", restaurant.id, attempt)
        words = re.findall(r"[a-z]+", restaurant.name.lower())
        cuisine = next((_CUISINE_WORDS[word] for word in words if word in _CUISINE_WORDS), "cafe")
        items = [
            MenuItem(
                name=dish,
                description=description,
                price=f"{6 + int(dice('price', restaurant.id, dish) * 2400) / 100:.2f}",
                category=category,
            )
            for dish, description, category in _CUISINES[cuisine]
        ]
        base = (restaurant.website or f"https://{_slug(restaurant.name)}.example").rstrip("/")
        colours = [
            "#" + hashlib.sha256(f"{restaurant.name}|{index}".encode()).hexdigest()[:6]
            for index in range(2)
        ]
        return Branding(items=items, logo_url=f"{base}/logo.png", colours=colours, source=self.name)


@dataclass
class SimulatedCompanyRegistry(Simulator):
    """A make-believe companies register, the same on every run.

    A name search finds `<Name> Limited`, and for about a third of names also
    `<Name> Holdings Limited`; names starting with "Unregistered" have no company. An address
    search finds a trading company registered at about half of all addresses (which half is
    fixed by the address). Company numbers and NZBNs are derived from the company name.
    """

    name: str = "simulator"

    async def search(self, term: str, *, attempt: int = 1) -> list[Candidate]:
        await self._call("registry-search", term.lower(), attempt)
        words = term.split()
        if not words or words[0].lower() == "unregistered":
            return []
        if any(char.isdigit() for char in words[0]):  # an address: "12 Queen Street Auckland"
            if dice("address", term.lower()) >= 0.5:
                return []
            street = next((word for word in words[1:] if word.isalpha()), words[-1])
            return [self._company(f"{street.title()} Trading Limited")]
        found = [self._company(f"{term} Limited")]
        if dice("holdings", term.lower()) < 1 / 3:
            found.append(self._company(f"{term} Holdings Limited"))
        return found

    def _company(self, company_name: str) -> Candidate:
        key = company_name.lower()
        removed = dice("removed", key) < 0.1
        return Candidate(
            company_name=company_name,
            company_number=str(1_000_000 + int(dice("number", key) * 8_999_999)),
            status="Removed" if removed else "Registered",
            nzbn="9429" + digits(9, "nzbn", key),
        )

    async def details(self, candidate: Candidate, *, attempt: int = 1) -> CompanyDetails:
        await self._call("registry-details", candidate.nzbn, attempt)
        key = candidate.company_name.lower()
        directors = [
            f"{_FIRST_NAMES[int(dice('first', key, index) * len(_FIRST_NAMES))]} "
            f"{_LAST_NAMES[int(dice('last', key, index) * len(_LAST_NAMES))]}"
            for index in range(1 + int(dice("directors", key) * 2))
        ]
        gst = digits(9, "gst", key)
        domain = _slug(re.sub(r"\b(holdings|trading|limited|ltd)\b", "", key))
        return CompanyDetails(
            company_name=candidate.company_name,
            company_number=candidate.company_number,
            nzbn=candidate.nzbn,
            status=candidate.status,
            directors=directors,
            gst_number=f"{gst[:3]}-{gst[3:6]}-{gst[6:]}",
            email=f"accounts@{domain}.co.nz",
        )


_FIRST_NAMES = ("Aroha", "Ben", "Chloe", "Daniel", "Emma", "Hemi", "Mei", "Priya", "Sam", "Tui")
_LAST_NAMES = ("Anderson", "Brown", "Chen", "Kaur", "Ngata", "Patel", "Smith", "Tane", "Wilson")


@dataclass
class SimulatedAccountSetup(Simulator):
    """Creates Pumpd accounts that exist only in its answers: ids are derived from the job, so
    a repeated sub-step returns the same ids (as the real service does for one idempotency
    key)."""

    name: str = "simulator"

    async def run(
        self, sub_step: str, request: AccountRequest, *, idempotency_key: str, attempt: int = 1
    ) -> dict[str, str]:
        await self._call(f"account-{sub_step}", request.job_id, attempt)
        ids = {
            "account": "user_id",
            "restaurantRegistration": "restaurant_id",
            "codeGeneration": "code_id",
        }
        if sub_step not in ids:
            return {}
        return {ids[sub_step]: str(uuid.uuid5(uuid.NAMESPACE_URL, f"{request.job_id}/{sub_step}"))}


# --- real clients -------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    """JSON that may hold one thing or a list of them, as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str | None:
    """A string or number from JSON as stripped text; anything else (or blank) is None."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value).strip() or None


class NzbnRegistry:
    """The New Zealand Business Number register (api.business.govt.nz) over httpx.

    Every call carries the `Ocp-Apim-Subscription-Key` the API gateway asks for; without one
    configured, calls fail with a message naming the setting, so the step says what is missing.
    """

    name = "nzbn"

    def __init__(
        self,
        *,
        api_url: str,
        subscription_key: str | None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._subscription_key = subscription_key
        self.timeout = timeout
        self.transport = transport

    async def _get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        if not self._subscription_key:
            raise ProviderError("CONVEYOR_NZBN_SUBSCRIPTION_KEY is not set")
        headers = {
            "Ocp-Apim-Subscription-Key": self._subscription_key,
            "Accept": "application/json",
        }
        try:
            async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as client:
                response = await client.get(f"{self.api_url}{path}", params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise ProviderError(f"NZBN register unreachable: {type(exc).__name__}") from None
        status = response.status_code
        if status in (401, 403):
            raise ProviderError(f"NZBN register refused the subscription key (HTTP {status})")
        if status == 404:
            raise ProviderError(f"NZBN register has nothing at {path} (HTTP 404)")
        if status >= 400:
            quoted = excerpt(response.text, self._subscription_key)
            raise ProviderError(f"NZBN register answered HTTP {status}: {quoted}")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ProviderError("NZBN register answered with something other than a JSON object")
        return body

    async def search(self, term: str, *, attempt: int = 1) -> list[Candidate]:
        body = await self._get("/entities", {"search-term": term})
        return [
            Candidate(
                company_name=_text(item.get("entityName")) or "",
                company_number=_text(item.get("sourceRegisterUniqueId")) or "",
                status=_text(item.get("entityStatusDescription")) or "",
                nzbn=nzbn,
            )
            for item in _as_list(body.get("items"))
            if isinstance(item, dict) and (nzbn := _text(item.get("nzbn")))
        ]

    async def details(self, candidate: Candidate, *, attempt: int = 1) -> CompanyDetails:
        if not candidate.nzbn:
            raise ProviderError(f"{candidate.company_name} has no NZBN to look up")
        body = await self._get(f"/entities/{urllib.parse.quote(candidate.nzbn, safe='')}")
        directors = []
        for role in _as_list(body.get("roles")):
            if not isinstance(role, dict) or role.get("roleType") != "Director":
                continue
            if role.get("roleStatus") is not None and role["roleStatus"] != "ACTIVE":
                continue
            person = role.get("rolePerson")
            if isinstance(person, dict):
                parts = (_text(person.get("firstName")), _text(person.get("lastName")))
                if full_name := " ".join(filter(None, parts)):
                    directors.append(full_name)
        gst = (item for item in _as_list(body.get("gstNumbers")) if isinstance(item, dict))
        emails = (item for item in _as_list(body.get("emailAddresses")) if isinstance(item, dict))
        return CompanyDetails(
            company_name=_text(body.get("entityName")) or candidate.company_name,
            company_number=_text(body.get("sourceRegisterUniqueId")) or candidate.company_number,
            nzbn=_text(body.get("nzbn")) or candidate.nzbn,
            status=_text(body.get("entityStatusDescription")) or candidate.status,
            directors=directors,
            gst_number=next(filter(None, (_text(item.get("gstNumber")) for item in gst)), None),
            email=next(filter(None, (_text(item.get("emailAddress")) for item in emails)), None),
        )


_ESTABLISHMENTS = frozenset(
    {
        "Restaurant",
        "FoodEstablishment",
        "BarOrPub",
        "Bakery",
        "CafeOrCoffeeShop",
        "FastFoodRestaurant",
        "IceCreamShop",
    }
)


def _types(node: dict[str, Any]) -> set[str]:
    """A JSON-LD object's `@type`s without their vocabulary (`schema:Menu` is `Menu`)."""
    return {
        re.split(r"[/:#]", kind)[-1]
        for kind in _as_list(node.get("@type"))
        if isinstance(kind, str)
    }


def _nodes(data: Any) -> Iterator[dict[str, Any]]:
    """Every object in a JSON-LD block, in document order, however nested (`@graph`, lists,
    properties)."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(reversed(value))
        elif isinstance(value, dict):
            yield value
            stack.extend(reversed(list(value.values())))


def _price(offers: Any) -> str | None:
    """The first offer's price as a 2-decimal string (`18.5`, `"$18.50"` and `"18,50"` all
    give `"18.50"`)."""
    for offer in _as_list(offers):
        if not isinstance(offer, dict):
            continue
        spec = offer.get("priceSpecification")
        price = offer.get("price", spec.get("price") if isinstance(spec, dict) else None)
        text = _text(price)
        if text is None:
            continue
        if isinstance(price, str):
            text = text.replace(" ", "")
            if re.fullmatch(r"\D*\d+,\d{2}", text):  # a decimal comma
                text = text.replace(",", ".")
            text = re.sub(r"[^\d.]", "", text)
        try:
            value = Decimal(text)
        except InvalidOperation:
            continue
        if value.is_finite():
            return f"{value:.2f}"
    return None


def _menu_items(menu: dict[str, Any], category: str | None = None) -> Iterator[MenuItem]:
    def text(value: Any) -> str | None:
        found = _text(value)
        return html.unescape(found) if found else None

    for item in _as_list(menu.get("hasMenuItem")):
        if isinstance(item, dict) and (name := text(item.get("name"))):
            yield MenuItem(
                name=name,
                description=text(item.get("description")),
                price=_price(item.get("offers")),
                category=category,
            )
    for section in _as_list(menu.get("hasMenuSection")):
        if isinstance(section, dict):
            yield from _menu_items(section, text(section.get("name")) or category)


def _hex_colour(value: str) -> str | None:
    """`#ABC`, `#AABBCC` or `#aabbccff` as `#aabbcc`; None for anything that is not hex."""
    match = re.fullmatch(r"#([0-9a-f]{3,8})", value.strip().lower())
    digits = match.group(1) if match else ""
    if len(digits) in (3, 4):
        return "#" + "".join(digit * 2 for digit in digits[:3])
    if len(digits) in (6, 8):
        return "#" + digits[:6]
    return None


class _PageReader(HTMLParser):
    """Collects a page's JSON-LD blocks and `theme-color`s."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = []
        self.theme_colours: list[str] = []
        self._block: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "script":
            kind = values.get("type", "").split(";")[0].strip().lower()
            self._block = [] if kind == "application/ld+json" else None
        elif tag == "meta" and values.get("name", "").strip().lower() == "theme-color":
            self.theme_colours.append(values.get("content", ""))

    def handle_data(self, data: str) -> None:
        if self._block is not None:
            self._block.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._block is not None:
            self.blocks.append("".join(self._block))
            self._block = None


@dataclass
class _Page:
    """What one page says about its restaurant."""

    items: list[MenuItem]
    logo_url: str | None
    menu_urls: list[str]
    colours: list[str]


def _read_page(text: str, url: str) -> _Page:
    reader = _PageReader()
    reader.feed(text)
    reader.close()
    nodes: list[dict[str, Any]] = []
    for block in reader.blocks:
        try:
            nodes.extend(_nodes(json.loads(block)))
        except (ValueError, RecursionError):
            continue  # one broken block does not spoil the others
    menus: dict[int, dict[str, Any]] = {id(node): node for node in nodes if "Menu" in _types(node)}
    logo_url: str | None = None
    menu_urls: list[str] = []
    for node in nodes:
        if not _types(node) & _ESTABLISHMENTS:
            continue
        for logo in _as_list(node.get("logo")):
            found = (
                _text(logo.get("url") or logo.get("contentUrl"))
                if isinstance(logo, dict)
                else _text(logo)
            )
            if found and logo_url is None:
                logo_url = urllib.parse.urljoin(url, found)
        for menu in _as_list(node.get("hasMenu")):
            if not isinstance(menu, dict):
                menu = {"url": menu}
            if "hasMenuSection" in menu or "hasMenuItem" in menu:
                menus.setdefault(id(menu), menu)
            elif found := _text(menu.get("url") or menu.get("@id")):
                menu_urls.append(urllib.parse.urljoin(url, found))
    items = [item for menu in menus.values() for item in _menu_items(menu)]
    colours = (_hex_colour(value) for value in reader.theme_colours)
    return _Page(
        items=list(dict.fromkeys(items)),
        logo_url=logo_url,
        menu_urls=menu_urls,
        colours=list(dict.fromkeys(filter(None, colours))),
    )


def _site(url: str) -> str:
    return (urllib.parse.urlsplit(url).hostname or "").removeprefix("www.")


def _shown(url: str) -> str:
    """A URL for a message: without any user name or password it carries."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class WebsiteMenuExtractor:
    """Reads the menu off the restaurant's own website: the schema.org JSON-LD that sites
    publish for search engines (`Restaurant` with `logo` and `hasMenu`; `Menu` with sections
    and items), and the page's `theme-color`.

    When the page has no menu items but links a menu page on the same site, that page is read
    too. Pages are read up to `max_bytes`; the rest is ignored (JSON-LD sits near the top).
    """

    name = "website"
    MAX_BYTES = 2 * 1024 * 1024

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        max_bytes: int = MAX_BYTES,
        public_only: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.public_only = public_only
        """Refuse hosts inside our own network (production: websites are user data)."""
        self.transport = transport

    async def _check_host(self, request: httpx.Request) -> None:
        """Run before every request, redirects included."""
        if not self.public_only:
            return
        host = request.url.host
        try:
            address = await internal_address(host, request.url.port or 443)
        except OSError:
            raise ProviderError(f"{host} does not resolve") from None
        if address is not None:
            raise ProviderError(f"{host} is an internal address; menus are read from public sites")

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=self.timeout,
            transport=self.transport,
            event_hooks={"request": [self._check_host]},
            follow_redirects=True,
            headers={
                "Accept": "text/html,application/xhtml+xml",
                "User-Agent": "Conveyor menu reader",
            },
        )

    async def _fetch(self, client: httpx.AsyncClient, url: str) -> tuple[str, str]:
        """The page's text and the URL it was finally read from (after redirects)."""
        try:
            async with client.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise ProviderError(f"{_shown(url)} answered HTTP {response.status_code}")
                raw = bytearray()
                async for chunk in response.aiter_bytes():
                    raw += chunk
                    if len(raw) >= self.max_bytes:
                        break
                encoding, final_url = response.encoding or "utf-8", str(response.url)
        except httpx.HTTPError as exc:
            raise ProviderError(f"{_shown(url)} unreachable: {type(exc).__name__}") from None
        return raw[: self.max_bytes].decode(encoding, "replace"), final_url

    async def extract(self, restaurant: RestaurantFacts, *, attempt: int = 1) -> Branding:
        website = (restaurant.website or "").strip()
        if not website:
            raise ProviderError("restaurant has no website to read a menu from")
        if not urllib.parse.urlsplit(website).scheme:
            website = f"https://{website}"  # `pizzapalace.co.nz`, as people write it
        parts = urllib.parse.urlsplit(website)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ProviderError(f"not a web address to read a menu from: {_shown(website)}")
        async with self._client() as client:
            text, source = await self._fetch(client, website)
            page = _read_page(text, source)
            items, logo_url = page.items, page.logo_url
            menu_url = next(
                (
                    url
                    for url in page.menu_urls
                    if _site(url) == _site(source)
                    and urllib.parse.urldefrag(url).url != urllib.parse.urldefrag(source).url
                ),
                None,
            )
            if not items and menu_url:
                text, source = await self._fetch(client, menu_url)
                menu_page = _read_page(text, source)
                items, logo_url = menu_page.items, logo_url or menu_page.logo_url
        return Branding(items=items, logo_url=logo_url, colours=page.colours, source=source)


_ACCOUNT_IDS = ("user_id", "restaurant_id", "code_id")


class HttpAccountSetup:
    """The account setup service over HTTP: one `POST {url}/{sub_step}` per sub-step.

    Each call carries the sub-step's `Idempotency-Key`, so a retried sub-step is recognised;
    a 409 means the service already did it, and its answer is read like a success. Only the
    `account` sub-step is sent the password.
    """

    name = "http"

    def __init__(
        self,
        *,
        url: str,
        api_key: str | None = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._api_key = api_key
        self.timeout = timeout
        self.transport = transport

    async def run(
        self, sub_step: str, request: AccountRequest, *, idempotency_key: str, attempt: int = 1
    ) -> dict[str, str]:
        restaurant = request.restaurant
        body: dict[str, Any] = {
            "job_id": request.job_id,
            "restaurant": {
                "name": restaurant.name,
                "street": restaurant.street,
                "city": restaurant.city,
                "website": restaurant.website,
                "phone": restaurant.phone,
            },
            "email": request.email,
            "company": request.company,
            "menu": request.menu,
            "pumpd_user_id": request.pumpd_user_id,
            "pumpd_restaurant_id": request.pumpd_restaurant_id,
        }
        if sub_step == "account":
            body["password"] = request.password
        headers = {"Idempotency-Key": idempotency_key, "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        try:
            async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as client:
                response = await client.post(
                    f"{self.url}/{urllib.parse.quote(sub_step, safe='')}",
                    json=body,
                    headers=headers,
                )
        except httpx.HTTPError as exc:
            raise ProviderError(
                f"account setup unreachable for {sub_step}: {type(exc).__name__}"
            ) from None
        status = response.status_code
        if status in (408, 429) or status >= 500:
            raise ProviderError(f"account setup answered HTTP {status} to {sub_step}")
        if status >= 400 and status != 409:
            quoted = excerpt(response.text, request.password, self._api_key)
            raise ProviderError(f"account setup refused {sub_step}: HTTP {status}: {quoted}")
        try:
            answer = response.json()
        except ValueError:
            return {}  # e.g. 204: nothing created that later sub-steps need
        if not isinstance(answer, dict):
            return {}
        return {key: value for key in _ACCOUNT_IDS if (value := _text(answer.get(key)))}


def menu_extractor(settings: Settings) -> MenuExtractor:
    if settings.menu_extractor == "website":
        return WebsiteMenuExtractor(
            timeout=settings.batches_provider_timeout_seconds,
            public_only=settings.is_production,
        )
    return SimulatedMenuExtractor.from_settings(settings)


def company_registry(settings: Settings) -> CompanyRegistry:
    if settings.company_registry == "nzbn":
        key = settings.nzbn_subscription_key
        return NzbnRegistry(
            api_url=settings.nzbn_api_url,
            subscription_key=key.get_secret_value() if key else None,
            timeout=settings.batches_provider_timeout_seconds,
        )
    return SimulatedCompanyRegistry.from_settings(settings)


def account_setup(settings: Settings) -> AccountSetup:
    if settings.account_setup == "http":
        key = settings.account_setup_api_key
        return HttpAccountSetup(
            url=settings.account_setup_url,
            api_key=key.get_secret_value() if key else None,
            timeout=settings.batches_provider_timeout_seconds,
        )
    return SimulatedAccountSetup.from_settings(settings)
