"""Document 001 needs no demo rows: the simulated core banking system's customers are the
demo (`t24_customers.json`). This tells a newcomer which ones to try."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from conveyor.config import Settings


async def load(session: AsyncSession, settings: Settings) -> Sequence[str]:
    if settings.core_banking != "simulator" or settings.t24_customers_file is not None:
        return ["registrations: your core banking system's customers can register"]
    return [
        'registrations: POST /api/registrations {"customer_number": "1234567", '
        '"phone_number": "0991234567"} completes; 7654321 (+265888765432) has no accounts; '
        "2345678 and 3456789 hold no usable account; poll GET /api/registrations/status"
    ]
