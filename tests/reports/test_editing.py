"""The offline writer's refinement rules: each instruction, how prompts are read, what is kept."""

import pytest

from conveyor.reports.editing import (
    InstructionNotUnderstood,
    apply_prompt,
    instructions_in,
    parse,
    render,
    sentences,
)

SECTION = """## Risk Assessment

We're going to utilise a lot of new tooling in order to organise the programme! It's a big change. The colour of the dashboards doesn't matter. It is important to note that the budget is tight.

The main risks are:

- Hauliers keep phoning in
- The port's system slips
- Staff turnover
- Data quality
- Weather

```
risk_score = impact * likelihood
```

| Risk | Owner |
|---|---|
| Slippage | PMO |
"""  # noqa: E501

CODE_AND_TABLE = """```
risk_score = impact * likelihood
```

| Risk | Owner |
|---|---|
| Slippage | PMO |
"""


def _names(prompt: str) -> list[str]:
    return [instruction.name for instruction in instructions_in(prompt)]


@pytest.mark.parametrize(
    ("prompt", "names"),
    [
        ("Make it more formal", ["formal tone"]),
        ("make it shorter for us", ["shorten"]),
        ("Use US spelling", ["US spelling"]),
        ("British English please, and concise", ["UK spelling", "shorten"]),
        ("Turn it into bullet points, formal", ["formal tone", "bullet points"]),
        ("Rewrite as prose, no bullets", ["prose"]),
        ("Less formal, plain English", ["plain language"]),
        ("TL;DR at the top", ["key points"]),
        ("Flesh it out with more detail", ["expand"]),
    ],
)
def test_prompts_are_read_for_the_instructions_they_ask(prompt: str, names: list[str]) -> None:
    assert _names(prompt) == names


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ("Translate it into French", "The offline writer cannot follow this instruction."),
        ("Make it shorter, but longer", "asks for both shorten and expand"),
        ("as bullet points, in prose", "asks for both bullet points and prose"),
        ("formal yet simple", "asks for both formal tone and plain language"),
        ("American spelling, then British spelling", "asks for both US spelling and UK spelling"),
    ],
)
def test_prompts_that_cannot_be_followed_say_why(prompt: str, message: str) -> None:
    with pytest.raises(InstructionNotUnderstood, match=message):
        apply_prompt(SECTION, prompt, {})


def test_formal_tone_spells_out_contractions_and_drops_casual_words() -> None:
    refined = apply_prompt(SECTION, "formal", {})
    assert refined.startswith(
        "## Risk Assessment\n\nWe are going to utilise many new tooling in order to organise the "
        "programme. It is a big change. The colour of the dashboards does not matter."
    )
    assert "- The port's system slips" in refined, "possessives are not contractions"
    assert refined.endswith(CODE_AND_TABLE)


def test_plain_language_replaces_jargon_and_splits_at_semicolons() -> None:
    refined = apply_prompt(
        "We utilise tooling in order to facilitate booking; it is approximately done.",
        "simplify",
        {},
    )
    assert refined == "We use tooling to help booking. It is about done.\n"


@pytest.mark.parametrize(
    ("prompt", "source", "expected"),
    [
        (
            "US spelling",
            "Organise the programme's colour catalogue.",
            "Organize the program's color catalog.",
        ),
        (
            "UK spelling",
            "ORGANIZE the color catalog; analyzed.",
            "ORGANISE the colour catalogue; analysed.",
        ),
        ("UK spelling", "The license program.", "The license program."),
    ],
)
def test_spelling_is_converted_keeping_case(prompt: str, source: str, expected: str) -> None:
    assert apply_prompt(source, prompt, {}) == expected + "\n"


def test_shorten_drops_wordy_phrases_and_keeps_the_first_half() -> None:
    refined = apply_prompt(SECTION, "shorten", {})
    assert refined == (
        "## Risk Assessment\n\n"
        "We're going to utilise a lot of new tooling to organise the programme! "
        "It's a big change.\n\n"
        "The main risks are:\n\n"
        "- Hauliers keep phoning in\n- The port's system slips\n- Staff turnover\n\n"
        + CODE_AND_TABLE
    )


def test_bullet_points_make_one_bullet_per_sentence() -> None:
    refined = apply_prompt(
        "First point. Second point, e.g. this one.\n\nThird point.", "bullets", {}
    )
    assert refined == "- First point.\n- Second point, e.g. this one.\n- Third point.\n"


def test_prose_turns_lists_into_sentences() -> None:
    refined = apply_prompt(
        "Aims:\n\n- Faster quotes\n- Fewer calls\n\n1. One.\n2. Two.", "as prose", {}
    )
    assert refined == "Aims: Faster quotes; Fewer calls.\n\nOne. Two.\n"


def test_key_points_go_after_the_heading() -> None:
    refined = apply_prompt(
        "## Plan\n\nStart small. Then grow.\n\nMeasure weekly.", "key points", {}
    )
    assert refined == (
        "## Plan\n\n**Key points**\n\n- Start small.\n- Measure weekly.\n\n"
        "Start small. Then grow.\n\nMeasure weekly.\n"
    )


def test_expand_adds_what_the_context_knows_and_names_what_it_lacks() -> None:
    values = {
        "customer_name": "Harbour Freight Ltd",
        "budget": "NZD 400,000",
        "risks": ["Hauliers keep phoning in", "Port system slips"],
    }
    refined = apply_prompt("## Risks\n\nHauliers keep phoning in.", "elaborate", values)
    assert refined == (
        "## Risks\n\nHauliers keep phoning in.\n\n### Further detail\n\n"
        "- Customer: Harbour Freight Ltd\n- Budget: NZD 400,000\n- Risks: Port system slips\n\n"
        "More can be said once the context records the industry, location, size, opportunity, "
        "summary, current state, timeline, objectives, requirements, technologies and "
        "stakeholders.\n"
    )


def test_several_instructions_apply_in_a_fixed_order() -> None:
    refined = apply_prompt("We can't wait. It's big!", "bullet points, formal", {})
    assert refined == "- We cannot wait.\n- It is big.\n"


def test_sentences_do_not_end_at_abbreviations() -> None:
    assert sentences("Use a queue, e.g. Redis. Then measure. Mr. Smith agrees.") == [
        "Use a queue, e.g. Redis.",
        "Then measure.",
        "Mr. Smith agrees.",
    ]


def test_markdown_survives_a_round_trip() -> None:
    assert render(parse(SECTION)) == SECTION
