"""The section catalogue: the document's titles, every template renders, and it is data that an
operator can extend (Commercial_proposal's sections, once someone defines them)."""

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from importlib import resources
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from conveyor.reports import providers, schemas
from conveyor.reports.catalogue import PLACEHOLDERS, Catalogue, catalogue
from conveyor.reports.models import ReportAction, ReportType
from conveyor.reports.providers import SectionBrief
from conveyor.reports.schemas import CustomerFacts, OpportunityFacts
from conveyor.tasks import Worker
from tests.reports.conftest import CUSTOMER, OPPORTUNITY, PREFIX, generate_body, unb64
from tests.tasks.conftest import wait_for

# The document's lists, in its order.
FEASIBILITY = [
    "Executive Summary",
    "Project Overview",
    "Business Requirements",
    "Technical Assessment",
    "Resource Assessment",
    "Cost-Benefit Analysis",
    "Risk Assessment",
    "Alternative Solutions",
    "Timeline Feasibility",
    "Stakeholder Analysis",
    "Recommendations",
    "Appendix",
]
TECHNICAL = [
    "Executive Summary",
    "Company Background",
    "Current State Analysis",
    "Requirements Overview",
    "Proposed Solution",
    "Technology Stack",
    "Integration Points",
    "Security & Compliance",
    "Implementation Timeline",
    "Resource Requirements",
    "Risks & Mitigations",
    "Assumptions & Dependencies",
]


def _shipped() -> dict[str, Any]:
    text = resources.files("conveyor.reports").joinpath("sections.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def test_the_shipped_catalogue_has_the_documents_sections() -> None:
    assert catalogue().titles(ReportType.FEASIBILITY_REPORT) == FEASIBILITY
    assert catalogue().titles(ReportType.TECHNICAL_SCOPE) == TECHNICAL
    assert catalogue().titles(ReportType.COMMERCIAL_PROPOSAL) == []


@pytest.mark.parametrize(
    "title", ["executive summary", "  Executive   Summary ", "EXECUTIVE SUMMARY"]
)
def test_titles_are_found_whatever_their_case_and_spacing(title: str) -> None:
    assert catalogue().canonical_title(ReportType.TECHNICAL_SCOPE, title) == "Executive Summary"
    assert catalogue().canonical_title(ReportType.TECHNICAL_SCOPE, "Appendix") is None


def _brief(kind: ReportType, title: str, *, known: bool) -> SectionBrief:
    return SectionBrief(
        job_id="job",
        action=ReportAction.GENERATE,
        report_type=kind,
        section_title=title,
        customer_id="cust-001",
        opportunity_id="opp-042",
        customer=CustomerFacts.model_validate(CUSTOMER) if known else None,
        opportunity=OpportunityFacts.model_validate(OPPORTUNITY) if known else None,
    )


@pytest.mark.parametrize("known", [True, False], ids=["full context", "no context"])
@pytest.mark.parametrize(
    ("kind", "title"),
    [(ReportType.FEASIBILITY_REPORT, t) for t in FEASIBILITY]
    + [(ReportType.TECHNICAL_SCOPE, t) for t in TECHNICAL],
)
def test_every_section_renders_with_and_without_context(
    kind: ReportType, title: str, known: bool
) -> None:
    brief = _brief(kind, title, known=known)
    markdown = catalogue().render(kind, title, brief.values(), brief.facts())
    assert markdown.startswith(f"## {title}\n\n")
    body = markdown.removeprefix(f"## {title}\n\n")
    assert len(body.split()) >= 8, "every section says something, context or not"
    assert "{" not in markdown
    assert ".." not in markdown
    if known:
        unknown = _brief(kind, title, known=False)
        without = catalogue().render(kind, title, unknown.values(), unknown.facts())
        assert markdown != without, "what the context store knows finds its way in"


def test_templates_use_only_known_placeholders_and_lists() -> None:
    data = _shipped()
    data["report_types"]["Technical_scope"]["sections"]["Executive Summary"] = [
        {"text": "For {client_name}."}
    ]
    with pytest.raises(ValidationError, match="unknown placeholder"):
        Catalogue.model_validate(data)
    data = _shipped()
    data["default_section"] = [{"list": "budget"}]
    with pytest.raises(ValidationError, match="list must be one of"):
        Catalogue.model_validate(data)
    assert {"customer", "objectives", "budget"} <= PLACEHOLDERS


def test_every_report_type_must_be_listed_and_no_section_twice() -> None:
    data = _shipped()
    del data["report_types"]["Commercial_proposal"]
    with pytest.raises(ValidationError, match="lacks Commercial_proposal"):
        Catalogue.model_validate(data)
    data = _shipped()
    data["report_types"]["Technical_scope"]["sections"]["executive summary"] = []
    with pytest.raises(ValidationError, match="lists a section twice"):
        Catalogue.model_validate(data)


@pytest.fixture
def proposal_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    """The catalogue as an operator might edit it: Commercial_proposal gets two sections, one
    with a template and one that uses the default."""
    data = _shipped()
    data["report_types"]["Commercial_proposal"]["sections"] = {
        "Pricing": [{"text": "The price for {opportunity} is {budget}.", "else": "Price: TBC."}],
        "Terms": [],
    }
    edited = Catalogue.model_validate(data)
    for module in (schemas, providers):
        monkeypatch.setattr(module, "catalogue", lambda: edited)


@pytest.mark.usefixtures("proposal_sections")
async def test_sections_added_to_the_catalogue_are_accepted_and_written(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    worker: Callable[..., AbstractAsyncContextManager[Worker]],
) -> None:
    jobs = {}
    for title in ("Pricing", "Terms"):
        body = generate_body(type="Commercial_proposal", section_title=title)
        response = await client.post(f"{PREFIX}/generate", json=body, headers=headers)
        assert response.status_code == 202, response.text
        jobs[title] = response.json()["data"]["job_id"]

    async def ready(job_id: str) -> bool:
        answer = await client.get(f"{PREFIX}/status/{job_id}", headers=headers)
        return bool(answer.json()["status"] == "ready")

    async with worker():
        for job_id in jobs.values():
            await wait_for(lambda job_id=job_id: ready(job_id))  # type: ignore[misc]
    sections = {}
    for title, job_id in jobs.items():
        answer = (await client.get(f"{PREFIX}/status/{job_id}", headers=headers)).json()
        sections[title] = unb64(answer["data"]["result"]["generated_section_b64"])
    assert sections["Pricing"] == "## Pricing\n\nPrice: TBC.\n"
    assert sections["Terms"] == (
        "## Terms\n\nThis section of the commercial proposal for cust-001 covers Terms.\n"
    )
