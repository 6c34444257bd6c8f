"""The section catalogue: the sections each report type allows, and each section's template.

The catalogue is `sections.json` in this package, data an operator may edit (to give
`Commercial_proposal` its sections, say) without touching code:

    {"default_section": [block, ...],
     "report_types": {"Feasibility_report": {"label": "feasibility report",
                                            "sections": {"Executive Summary": [block, ...]}}}}

A section is a list of blocks, rendered in order under `## <title>`, each one paragraph:

- `{"text": "... {customer} ..."}`: written when every `{placeholder}` in it is known;
- `{"list": "objectives", "text": "intro:"}`: the intro and one bullet per item, when the
  list has items;
- `{"facts": true, "text": "intro:"}`: a table of the free-form facts of the customer and the
  opportunity, when there are any;

and any block may have an `"else"` text, written instead when the block cannot be. A section
with no blocks uses `default_section`. Placeholders are the names in `PLACEHOLDERS`; the
catalogue is checked when it is loaded, so a typo fails at start-up, not in a job.
"""

import functools
import json
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from conveyor.reports.models import ReportType

SCALARS = frozenset(
    {
        "customer",
        "customer_id",
        "customer_name",
        "opportunity",
        "opportunity_id",
        "opportunity_name",
        "report",
        "section",
        "industry",
        "location",
        "size",
        "customer_description",
        "summary",
        "budget",
        "timeline",
        "current_state",
    }
)
"""Single values. `customer` and `opportunity` are the names, or the ids when no name is
known, so they (and the ids, `report` and `section`) are always known; `customer_name` and
`opportunity_name` only when a name is."""
LISTS = frozenset({"objectives", "requirements", "risks", "stakeholders", "technologies"})
"""Lists: bullets in a `list` block; "a, b and c" inside a text."""
PLACEHOLDERS = SCALARS | LISTS

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")

Values = Mapping[str, str | Sequence[str]]
"""What is known about a job's customer and opportunity, by placeholder name."""
FactRows = Sequence[tuple[str, str]]
"""Free-form (label, value) facts, for `facts` blocks."""


def _check_placeholders(*texts: str | None) -> None:
    for text in texts:
        unknown = set(_PLACEHOLDER.findall(text or "")) - PLACEHOLDERS
        if unknown:
            raise ValueError(f"unknown placeholder(s) {', '.join(sorted(unknown))} in {text!r}")


class TemplateBlock(BaseModel):
    """One paragraph of a section template."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    text: str | None = None
    list: str | None = None
    facts: bool = False
    otherwise: str | None = Field(default=None, alias="else")

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if self.list is not None and self.list not in LISTS:
            raise ValueError(f"list must be one of {', '.join(sorted(LISTS))}")
        if self.list is not None and self.facts:
            raise ValueError("a block is a text, a list or a facts table, not several")
        if self.text is None and self.list is None and not self.facts:
            raise ValueError("a block needs text, list or facts")
        _check_placeholders(self.text, self.otherwise)
        return self


class ReportTypeEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = Field(min_length=1)
    """How sections name the report: "this feasibility report"."""
    sections: dict[str, list[TemplateBlock]]
    """Allowed section titles (canonical spelling), in the order a report has them."""


def title_key(title: str) -> str:
    """Titles match whatever their case and spacing: `executive  SUMMARY` is Executive Summary."""
    return " ".join(title.split()).casefold()


class Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default_section: list[TemplateBlock] = Field(min_length=1)
    report_types: dict[ReportType, ReportTypeEntry]

    @model_validator(mode="after")
    def _every_type_listed(self) -> Self:
        missing = [kind.value for kind in ReportType if kind not in self.report_types]
        if missing:
            raise ValueError(f"report_types lacks {', '.join(missing)}")
        for kind, entry in self.report_types.items():
            keys = [title_key(title) for title in entry.sections]
            if len(keys) != len(set(keys)):
                raise ValueError(f"{kind.value} lists a section twice")
        return self

    def titles(self, report_type: ReportType) -> list[str]:
        """The section titles `report_type` allows, canonically spelled, in report order."""
        return list(self.report_types[report_type].sections)

    def canonical_title(self, report_type: ReportType, title: str) -> str | None:
        """The catalogue's spelling of `title` for this type; None when it has no such section."""
        wanted = title_key(title)
        return next(
            (known for known in self.titles(report_type) if title_key(known) == wanted), None
        )

    def label(self, report_type: ReportType) -> str:
        return self.report_types[report_type].label

    def render(self, report_type: ReportType, title: str, values: Values, facts: FactRows) -> str:
        """The section in Markdown: `## <title>`, then each block that can be written."""
        blocks = self.report_types[report_type].sections.get(title) or self.default_section
        paragraphs = [
            paragraph
            for block in blocks
            if (paragraph := _render_block(block, values, facts)) is not None
        ]
        return "\n\n".join([f"## {title}", *paragraphs]) + "\n"


def _inline(items: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(items) < 3:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def fill(text: str, values: Values) -> str | None:
    """`text` with its placeholders replaced; None if one of them is not known."""
    missing = False

    def replace(match: re.Match[str]) -> str:
        nonlocal missing
        value = values.get(match.group(1))
        if not value:
            missing = True
            return ""
        return value if isinstance(value, str) else _inline(list(value))

    filled = _PLACEHOLDER.sub(replace, text)
    if missing:
        return None
    # A value that ends a sentence itself ("Replace the CRM.") before the template's own stop.
    return re.sub(r"(?<![.])([.!?])\.(?![.])", r"\1", filled)


def _render_block(block: TemplateBlock, values: Values, facts: FactRows) -> str | None:
    written = _render_content(block, values, facts)
    if written is None and block.otherwise is not None:
        written = fill(block.otherwise, values)
    return written


def _render_content(block: TemplateBlock, values: Values, facts: FactRows) -> str | None:
    intro = fill(block.text, values) if block.text is not None else None
    if block.text is not None and intro is None:
        return None
    if block.list is not None:
        items = values.get(block.list) or ()
        if isinstance(items, str) or not items:
            return None
        bullets = "\n".join(f"- {' '.join(item.split())}" for item in items)
        return f"{intro}\n\n{bullets}" if intro else bullets
    if block.facts:
        if not facts:
            return None
        rows = "\n".join(f"| {_cell(label)} | {_cell(value)} |" for label, value in facts)
        table = f"| Fact | Value |\n|---|---|\n{rows}"
        return f"{intro}\n\n{table}" if intro else table
    return intro


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


@functools.cache
def catalogue() -> Catalogue:
    """The catalogue shipped with the package, read once per process."""
    data = resources.files("conveyor.reports").joinpath("sections.json").read_text("utf-8")
    return Catalogue.model_validate(json.loads(data))
