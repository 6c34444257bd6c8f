"""Demo context for document 002: a customer and an opportunity for the demo API key, so that
a generated section has something to say (context belongs to the key that stored it)."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from conveyor.config import Settings
from conveyor.reports import service
from conveyor.reports.schemas import CustomerFacts, OpportunityFacts

CUSTOMER = "cust-harbour-foods"
OPPORTUNITY = "opp-cold-chain-2027"


async def load_context(session: AsyncSession, settings: Settings, api_key_id: str) -> Sequence[str]:
    await service.put_customer(
        session,
        CustomerFacts(
            name="Harbour Foods",
            industry="food distribution",
            location="Auckland, New Zealand",
            size="about 250 employees",
            description="Harbour Foods supplies restaurants across the North Island.",
        ),
        api_key_id=api_key_id,
        customer_id=CUSTOMER,
    )
    await service.put_opportunity(
        session,
        OpportunityFacts(
            name="Cold chain monitoring",
            summary="Sensors and alerts for every refrigerated truck and store room.",
            current_state="Temperatures are logged by hand twice a day.",
            budget="NZD 180,000",
            timeline="pilot in March, rollout by September",
            objectives=["No spoiled deliveries", "Audit-ready temperature records"],
            requirements=["Works offline in trucks", "Alerts by SMS"],
            risks=["Driver adoption"],
        ),
        api_key_id=api_key_id,
        opportunity_id=OPPORTUNITY,
    )
    base = settings.reports_prefix
    return [
        f"reports: POST {base}/generate with the API key and a Session-Id header, "
        f'{{"type": "Feasibility_report", "customer_id": "{CUSTOMER}", '
        f'"opportunity_id": "{OPPORTUNITY}", "section_title": "Executive Summary"}}, then '
        f"GET {base}/status/{{job_id}}"
    ]
