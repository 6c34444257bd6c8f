"""Demo leads for document 000: a scrape's worth, ready for `POST /api/leads/convert`."""

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from conveyor.batches import service
from conveyor.config import Settings

SCRAPE_JOB = uuid.UUID("00000000-0000-4000-8000-000000000d30")

LEADS = [
    ("Dumpling Den", "14 Dominion Road, Mt Eden", "Auckland", "https://dumplingden.example"),
    ("Cafe Aroha", "3 Jervois Road, Herne Bay", "Auckland", None),
    ("Wok This Way", "90 Riccarton Road", "Christchurch", "https://wokthisway.example"),
    ("Harbour Fish & Chips", "1 Marine Parade", "Napier", None),
]


async def load(session: AsyncSession, settings: Settings) -> Sequence[str]:
    leads = await service.import_leads(
        session,
        [
            {
                "name": name,
                "address": address,
                "city": city,
                "email": f"owner@{''.join(c for c in name.lower() if c.isalnum())}.example",
                "website_url": website,
                "lead_scrape_job_id": SCRAPE_JOB,
            }
            for name, address, city, website in LEADS
        ],
    )
    return [
        f"leads: {len(leads)} (GET /api/leads); convert them into a batch with "
        'POST /api/leads/convert {"lead_ids": [...], "create_registration_batch": true}',
        'batches: POST /api/registration-batches {"name", "restaurant_ids", "auto_start": '
        "true}, then poll /progress; steps 3 and 5 wait for you (or use the console)",
    ]
