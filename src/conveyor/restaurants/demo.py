"""Demo restaurants: the ones document 000's examples put in a batch, and a few more."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from conveyor.config import Settings
from conveyor.restaurants import service
from conveyor.restaurants.models import RestaurantSource

RESTAURANTS = [
    ("Pizza Palace", "pizza", "123 Main Street", "Auckland", "https://pizzapalace.example"),
    ("Burger House", "burger", "45 Queen Street", "Auckland", "https://burgerhouse.example"),
    ("Taco Town (Ponsonby)", "taco", "210 Ponsonby Road", "Auckland", None),
    ("Sushi Central", "sushi", "8 Cuba Street", "Wellington", "https://sushicentral.example"),
    ("Curry Corner", "curry", "77 Colombo Street", "Christchurch", None),
    ("Unregistered Noodle Bar", "noodles", None, "Hamilton", None),
]


async def load(session: AsyncSession, settings: Settings) -> Sequence[str]:
    for name, cuisine, street, city, website in RESTAURANTS:
        slug = "".join(ch for ch in name.lower() if ch.isalnum())
        await service.create(
            session,
            name=name,
            source=RestaurantSource.API,
            cuisine=cuisine,
            street=street,
            city=city,
            country="New Zealand",
            email=f"hello@{slug}.example",
            website=website,
        )
    return [
        f"restaurants: {len(RESTAURANTS)} (GET /api/restaurants); "
        "'Unregistered Noodle Bar' has no company in the registry"
    ]
