"""Demo for document 003: a restaurant owner who signed up and submitted two registrations,
waiting for an admin to approve or reject them."""

import secrets
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from conveyor.auth import service as auth_service
from conveyor.config import Settings
from conveyor.restaurant_registrations import service
from conveyor.restaurant_registrations.schemas import RegistrationSubmit

OWNER = "owner@conveyor.demo"

SUBMISSIONS = [
    ("Kai Kitchen", "Modern New Zealand food", "New Zealand", "12 Karangahape Road"),
    ("Little Saigon", "Pho and banh mi", "Vietnamese", "301 Dominion Road"),
]


async def load(session: AsyncSession, settings: Settings) -> Sequence[str]:
    password = secrets.token_urlsafe(12)
    owner = await auth_service.create_user(
        session, email=OWNER, password=password, name="Demo Owner", signup_completed=True
    )
    for name, description, cuisine, street in SUBMISSIONS:
        await service.submit(
            session,
            owner.id,
            RegistrationSubmit.model_validate(
                {
                    "name": name,
                    "description": description,
                    "cuisineType": cuisine,
                    "street": street,
                    "city": "Auckland",
                    "state": "Auckland",
                    "zipCode": "1010",
                    "country": "New Zealand",
                    "phoneNumber": "+64 9 555 0100",
                    "email": OWNER,
                    "businessHours": "Tue-Sun 11:00-22:00",
                }
            ),
        )
    return [
        f"restaurant registrations: {len(SUBMISSIONS)} pending review; the owner signs in as "
        f"{OWNER} / {password}",
    ]
