"""Refinement by rules: how the offline writer follows a `/refine` prompt, deterministically.

The prompt is read for the instructions below (case does not matter; several may be given,
"shorter, formal, in bullet points"). Each one found is applied to the Markdown in this order,
whatever order the prompt names them in:

- US spelling ("US/American English/spelling"): organise → organize, colour → color, ...;
- UK spelling ("UK/British English/spelling"): the reverse;
- formal tone ("formal", "professional"): contractions spelled out (don't → do not), casual
  words replaced (a lot of → many), no exclamation marks;
- plain language ("plain English", "simple", "simplify", "less formal", "jargon"): jargon
  replaced (utilise → use, in order to → to), sentences split at semicolons;
- bullet points ("bullets", "as a list", "itemise", "dot points"): each paragraph becomes a
  list, one bullet per sentence;
- prose ("as prose", "as paragraphs", "no bullets"): each list becomes a sentence;
- shorten ("shorten", "shorter", "concise", "brief", "condense", "trim", "summarise"): wordy
  phrases dropped; the first half of each paragraph's sentences and of each list's items (at
  least three) kept;
- expand ("expand", "elaborate", "more detail", "longer", "flesh out"): a "Further detail"
  part added with what the context store knows that the text does not mention yet;
- key points ("key points", "takeaways", "TL;DR", "add a summary"): the first sentence of each
  paragraph, as bullets, put after the heading.

Headings, code blocks, tables and quotes are left as they are. A prompt that asks for none of
these, or for two that contradict each other (shorter and longer), cannot be followed: the job
fails with `INSTRUCTION_NOT_UNDERSTOOD`, and its message lists what is understood.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

# --- a small Markdown model -------------------------------------------------------------


@dataclass
class Heading:
    level: int
    text: str


@dataclass
class Paragraph:
    text: str


@dataclass
class Bullets:
    items: list[str]
    ordered: bool = False


@dataclass
class Verbatim:
    """Code, tables, quotes, HTML: kept exactly."""

    text: str


MarkdownBlock = Heading | Paragraph | Bullets | Verbatim

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ITEM = re.compile(r"^\s*(?:([-*+])|(\d+)[.)])\s+(.*)$")
_VERBATIM_LINE = re.compile(r"^\s*(\||>|<)")


def parse(markdown: str) -> list[MarkdownBlock]:
    blocks: list[MarkdownBlock] = []
    lines = markdown.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            index += 1
            continue
        if fence := _FENCE.match(line):
            end = index + 1
            while end < len(lines) and not lines[end].lstrip().startswith(fence.group(1)):
                end += 1
            blocks.append(Verbatim("\n".join(lines[index : end + 1])))
            index = end + 1
            continue
        if heading := _HEADING.match(line):
            blocks.append(Heading(len(heading.group(1)), heading.group(2)))
            index += 1
            continue
        if _VERBATIM_LINE.match(line):
            end = index
            while end < len(lines) and lines[end].strip():
                end += 1
            blocks.append(Verbatim("\n".join(lines[index:end])))
            index = end
            continue
        if item := _ITEM.match(line):
            bullets = Bullets([], ordered=item.group(2) is not None)
            while index < len(lines) and lines[index].strip():
                found = _ITEM.match(lines[index])
                if found:
                    bullets.items.append(found.group(3).strip())
                elif bullets.items:  # a continuation line of the item above
                    bullets.items[-1] += " " + lines[index].strip()
                index += 1
            blocks.append(bullets)
            continue
        end = index
        while (
            end < len(lines)
            and lines[end].strip()
            and not (_HEADING.match(lines[end]) or _ITEM.match(lines[end]))
            and not (_FENCE.match(lines[end]) or _VERBATIM_LINE.match(lines[end]))
        ):
            end += 1
        blocks.append(Paragraph(" ".join(part.strip() for part in lines[index:end])))
        index = end
    return blocks


def render(blocks: Sequence[MarkdownBlock]) -> str:
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            parts.append(block.text)
        elif isinstance(block, Bullets):
            parts.append(
                "\n".join(
                    f"{number}. {item}" if block.ordered else f"- {item}"
                    for number, item in enumerate(block.items, start=1)
                )
            )
        else:
            parts.append(block.text)
    return "\n\n".join(parts) + "\n"


_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "Mr.", "Mrs.", "Ms.", "Dr.", "approx.")
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"'(\[*_\u201c\u2018])")


def sentences(text: str) -> list[str]:
    """The sentences of a paragraph (a full stop after "e.g." and the like ends none)."""
    found: list[str] = []
    start = 0
    for boundary in _BOUNDARY.finditer(text):
        candidate = text[start : boundary.start()].rstrip()
        if candidate.endswith(_ABBREVIATIONS):
            continue
        found.append(text[start : boundary.end()].strip())
        start = boundary.end()
    if text[start:].strip():
        found.append(text[start:].strip())
    return found


# --- word-level rules ---------------------------------------------------------------------


def _match_case(original: str, replacement: str) -> str:
    if not replacement:
        return replacement
    if original.isupper() and len(original) > 1:
        return replacement.upper()
    if original[0].isupper():
        return replacement[0].upper() + replacement[1:]
    return replacement


def _replacer(table: Mapping[str, str]) -> Callable[[str], str]:
    """Replace whole words or phrases of `table` (any case), keeping the original's case; a
    phrase replaced by nothing takes its following space with it."""
    lowered = {phrase.lower(): replacement for phrase, replacement in table.items()}

    def alternatives(phrases: list[str]) -> str:
        ordered = sorted(phrases, key=len, reverse=True)  # "in order to" before "in order"
        return "|".join(re.escape(phrase) for phrase in ordered)

    kept = [phrase for phrase, replacement in lowered.items() if replacement]
    dropped = [phrase for phrase, replacement in lowered.items() if not replacement]
    # Not after an apostrophe ("don't" holds no "t"), but before one ("programme's" is changed).
    swap = re.compile(rf"(?<![\w'\u2019])({alternatives(kept)})(?!\w)", re.IGNORECASE)
    drop = re.compile(rf"(?<![\w'\u2019])(?:{alternatives(dropped)})\s+(\S)", re.IGNORECASE)

    def dropping(match: re.Match[str]) -> str:
        before = match.string[: match.start()].rstrip()
        starts_sentence = not before or before.endswith((".", "!", "?", ":"))
        return match.group(1).upper() if starts_sentence else match.group(1)

    def replace(text: str) -> str:
        if kept:
            text = swap.sub(
                lambda match: _match_case(match.group(1), lowered[match.group(1).lower()]), text
            )
        return drop.sub(dropping, text) if dropped else text

    return replace


_IZE_STEMS = (
    "organ",
    "priorit",
    "optim",
    "util",
    "final",
    "real",
    "recogn",
    "standard",
    "custom",
    "minim",
    "maxim",
    "author",
    "summar",
    "central",
    "digit",
    "modern",
    "categor",
    "emphas",
    "special",
    "stabil",
    "visual",
    "normal",
    "synchron",
    "initial",
    "monet",
    "capital",
)
_IZE_ENDINGS = (("ise", "ize"), ("ised", "ized"), ("ises", "izes"), ("ising", "izing"))
_ISATION = (("isation", "ization"), ("isations", "izations"))
_UK_US_WORDS = {
    "analyse": "analyze",
    "analysed": "analyzed",
    "analysing": "analyzing",
    "colour": "color",
    "colours": "colors",
    "behaviour": "behavior",
    "behaviours": "behaviors",
    "favour": "favor",
    "favourable": "favorable",
    "labour": "labor",
    "centre": "center",
    "centres": "centers",
    "catalogue": "catalog",
    "catalogues": "catalogs",
    "modelling": "modeling",
    "travelled": "traveled",
    "cancelled": "canceled",
    "cancelling": "canceling",
    "fulfil": "fulfill",
    "enrol": "enroll",
    "defence": "defense",
    "judgement": "judgment",
    "licence": "license",
    "programme": "program",
    "programmes": "programs",
}
UK_TO_US = {
    **{stem + uk: stem + us for stem in _IZE_STEMS for uk, us in _IZE_ENDINGS},
    **{stem + uk: stem + us for stem in _IZE_STEMS for uk, us in _ISATION},
    **_UK_US_WORDS,
}
# "license" and "program" are also British (the verb; software), so they are not changed back.
US_TO_UK = {
    us: uk for uk, us in UK_TO_US.items() if uk not in ("licence", "programme", "programmes")
}

CONTRACTIONS = {
    "can't": "cannot",
    "won't": "will not",
    "shan't": "shall not",
    "don't": "do not",
    "doesn't": "does not",
    "didn't": "did not",
    "isn't": "is not",
    "aren't": "are not",
    "wasn't": "was not",
    "weren't": "were not",
    "hasn't": "has not",
    "haven't": "have not",
    "hadn't": "had not",
    "shouldn't": "should not",
    "wouldn't": "would not",
    "couldn't": "could not",
    "mustn't": "must not",
    "i'm": "I am",
    "it's": "it is",
    "that's": "that is",
    "there's": "there is",
    "what's": "what is",
    "let's": "let us",
    "we're": "we are",
    "you're": "you are",
    "they're": "they are",
    "we've": "we have",
    "you've": "you have",
    "they've": "they have",
    "we'll": "we will",
    "you'll": "you will",
    "they'll": "they will",
    "it'll": "it will",
    "we'd": "we would",
    "they'd": "they would",
}
CASUAL_TO_FORMAL = {
    **CONTRACTIONS,
    **{key.replace("'", "\u2019"): value for key, value in CONTRACTIONS.items()},
    "a lot of": "many",
    "lots of": "many",
    "kind of": "somewhat",
    "sort of": "somewhat",
    "stuff": "material",
    "okay": "acceptable",
    "ok": "acceptable",
    "huge": "considerable",
    "really": "",
    "pretty much": "largely",
    "guys": "colleagues",
    "cheap": "economical",
    "check out": "examine",
    "find out": "determine",
    "figure out": "determine",
    "come up with": "develop",
    "asap": "as soon as possible",
    "get rid of": "remove",
    "right now": "at present",
}
JARGON_TO_PLAIN = {
    "utilise": "use",
    "utilize": "use",
    "utilisation": "use",
    "utilization": "use",
    "leverage": "use",
    "facilitate": "help",
    "commence": "start",
    "terminate": "end",
    "approximately": "about",
    "in order to": "to",
    "prior to": "before",
    "subsequent to": "after",
    "in the event that": "if",
    "due to the fact that": "because",
    "with regard to": "about",
    "in accordance with": "under",
    "endeavour": "try",
    "ascertain": "find out",
    "sufficient": "enough",
    "numerous": "many",
    "demonstrate": "show",
    "additionally": "also",
    "obtain": "get",
    "purchase": "buy",
    "assist": "help",
    "require": "need",
    "requires": "needs",
    "optimal": "best",
    "methodology": "method",
    "functionality": "features",
    "synergies": "shared benefits",
}
WORDY_TO_CONCISE = {
    "in order to": "to",
    "due to the fact that": "because",
    "at this point in time": "now",
    "it is important to note that": "",
    "it should be noted that": "",
    "a number of": "several",
    "in the event that": "if",
    "for the purpose of": "for",
    "with the exception of": "except",
    "in spite of the fact that": "although",
    "is able to": "can",
    "are able to": "can",
}


def _capitalise_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _on_text(change: Callable[[str], str]) -> Callable[[list[MarkdownBlock]], list[MarkdownBlock]]:
    """A word-level change applied to the text of every paragraph, item and heading."""

    def apply(blocks: list[MarkdownBlock]) -> list[MarkdownBlock]:
        changed: list[MarkdownBlock] = []
        for block in blocks:
            if isinstance(block, Paragraph):
                changed.append(Paragraph(_capitalise_first(change(block.text).strip())))
            elif isinstance(block, Heading):
                changed.append(Heading(block.level, change(block.text)))
            elif isinstance(block, Bullets):
                items = [_capitalise_first(change(item).strip()) for item in block.items]
                changed.append(Bullets(items, block.ordered))
            else:
                changed.append(block)
        return changed

    return apply


def _formal(text: str) -> str:
    return _FORMAL(text).replace("!", ".")


def _plain(text: str) -> str:
    plain = _PLAIN(text)
    return re.sub(r";\s+(\w)", lambda match: ". " + match.group(1).upper(), plain)


_FORMAL = _replacer(CASUAL_TO_FORMAL)
_PLAIN = _replacer(JARGON_TO_PLAIN)
_CONCISE = _replacer(WORDY_TO_CONCISE)


# --- structural rules -----------------------------------------------------------------------


def _half(count: int, *, at_least: int = 1) -> int:
    return max(min(count, at_least), (count + 1) // 2)


def shorten(blocks: list[MarkdownBlock]) -> list[MarkdownBlock]:
    shortened: list[MarkdownBlock] = []
    for block in _on_text(_CONCISE)(blocks):
        if isinstance(block, Paragraph):
            kept = sentences(block.text)
            shortened.append(Paragraph(" ".join(kept[: _half(len(kept))])))
        elif isinstance(block, Bullets):
            shortened.append(
                Bullets(block.items[: _half(len(block.items), at_least=3)], block.ordered)
            )
        else:
            shortened.append(block)
    return shortened


def bullet_points(blocks: list[MarkdownBlock]) -> list[MarkdownBlock]:
    listed: list[MarkdownBlock] = []
    for block in blocks:
        if isinstance(block, Paragraph) and not block.text.rstrip().endswith(":"):
            items = sentences(block.text)
            if listed and isinstance(listed[-1], Bullets) and not listed[-1].ordered:
                listed[-1].items.extend(items)  # consecutive paragraphs make one list
            else:
                listed.append(Bullets(items))
        else:
            listed.append(block)
    return listed


def prose(blocks: list[MarkdownBlock]) -> list[MarkdownBlock]:
    written: list[MarkdownBlock] = []
    for block in blocks:
        if not isinstance(block, Bullets):
            written.append(block)
            continue
        items = [item.rstrip() for item in block.items if item.strip()]
        if all(item.endswith((".", "!", "?")) for item in items):
            sentence = " ".join(items)
        else:
            sentence = "; ".join(item.rstrip(".;,") for item in items) + "."
        if written and isinstance(written[-1], Paragraph) and written[-1].text.endswith(":"):
            written[-1] = Paragraph(f"{written[-1].text} {sentence}")
        else:
            written.append(Paragraph(_capitalise_first(sentence)))
    return written


def key_points(blocks: list[MarkdownBlock]) -> list[MarkdownBlock]:
    firsts = [
        found[0]
        for block in blocks
        if isinstance(block, Paragraph)
        and not block.text.endswith(":")
        and (found := sentences(block.text))
    ][:5]
    if not firsts:
        firsts = [item for block in blocks if isinstance(block, Bullets) for item in block.items][
            :5
        ]
    if not firsts:
        return blocks
    summary: list[MarkdownBlock] = [Paragraph("**Key points**"), Bullets(firsts)]
    at = 1 if blocks and isinstance(blocks[0], Heading) else 0
    return [*blocks[:at], *summary, *blocks[at:]]


CONTEXT_LABELS = (
    ("customer_name", "Customer"),
    ("industry", "Industry"),
    ("location", "Location"),
    ("size", "Size"),
    ("opportunity_name", "Opportunity"),
    ("summary", "Summary"),
    ("current_state", "Current state"),
    ("budget", "Budget"),
    ("timeline", "Timeline"),
    ("objectives", "Objectives"),
    ("requirements", "Requirements"),
    ("technologies", "Technologies"),
    ("stakeholders", "Stakeholders"),
    ("risks", "Risks"),
)


def expand(
    blocks: list[MarkdownBlock], values: Mapping[str, str | Sequence[str]]
) -> list[MarkdownBlock]:
    text = render(blocks).casefold()
    added: list[str] = []
    missing: list[str] = []
    for name, label in CONTEXT_LABELS:
        value = values.get(name)
        if not value:
            missing.append(label.lower())
            continue
        items = [value] if isinstance(value, str) else list(value)
        new = [item for item in items if " ".join(item.split()).casefold() not in text]
        if new:
            added.append(f"{label}: {'; '.join(' '.join(item.split()) for item in new)}")
    detail: list[MarkdownBlock] = [Heading(3, "Further detail")]
    if added:
        detail.append(Bullets(added))
    if missing:
        detail.append(
            Paragraph(
                "More can be said once the context records the "
                + ", ".join(missing[:-1])
                + (" and " if len(missing) > 1 else "")
                + missing[-1]
                + "."
            )
        )
    return [*blocks, *detail]


# --- reading the prompt ---------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    name: str
    asked: re.Pattern[str]
    apply: Callable[[list[MarkdownBlock], Mapping[str, str | Sequence[str]]], list[MarkdownBlock]]
    contradicts: tuple[str, ...] = field(default=())


def _words(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-])(?:{pattern})(?![\w-])", re.IGNORECASE)


def _ignore_values(
    rule: Callable[[list[MarkdownBlock]], list[MarkdownBlock]],
) -> Callable[[list[MarkdownBlock], Mapping[str, str | Sequence[str]]], list[MarkdownBlock]]:
    return lambda blocks, _values: rule(blocks)


INSTRUCTIONS = (
    Instruction(
        "US spelling",
        _words(
            r"(?:us|u\.s\.) (?:english|spelling)|american(?: english| spelling)?|americani[sz]e"
        ),
        _ignore_values(_on_text(_replacer(UK_TO_US))),
        contradicts=("UK spelling",),
    ),
    Instruction(
        "UK spelling",
        _words(
            r"(?:uk|u\.k\.) (?:english|spelling)|british(?: english| spelling)?"
            r"|(?:australian|new zealand) (?:english|spelling)"
        ),
        _ignore_values(_on_text(_replacer(US_TO_UK))),
    ),
    Instruction(
        "formal tone",
        _words(r"(?<!less )(?<!not )(?<!too )formal(?:ly)?|professional"),
        _ignore_values(_on_text(_formal)),
        contradicts=("plain language",),
    ),
    Instruction(
        "plain language",
        _words(
            r"plain(?: english| language)?|simple|simpler|simplify|less formal|jargon"
            r"|easier to (?:read|understand)"
        ),
        _ignore_values(_on_text(_plain)),
    ),
    Instruction(
        "bullet points",
        _words(
            r"(?<!no )(?<!without )(?<!remove )(?<!remove the )bullet(?:s|ed|[- ]points?)?"
            r"|as a list|in a list|list form|itemi[sz]e|dot points"
        ),
        _ignore_values(bullet_points),
        contradicts=("prose",),
    ),
    Instruction(
        "prose",
        _words(
            r"(?:as|into|in) (?:prose|paragraphs)|prose|(?:no|without|remove|remove the) bullets?"
        ),
        _ignore_values(prose),
    ),
    Instruction(
        "shorten",
        _words(
            r"shorten|shorter|concise|brief|briefer|condense|trim|tighten|summari[sz]e"
            r"|fewer words|less wordy|too long|cut (?:it )?down"
        ),
        _ignore_values(shorten),
        contradicts=("expand",),
    ),
    Instruction(
        "expand",
        _words(
            r"expand|elaborate|more detail|more detailed|longer|lengthen|flesh (?:it )?out"
            r"|add detail|more depth|in depth|too short"
        ),
        expand,
    ),
    Instruction(
        "key points",
        _words(
            r"key (?:points|takeaways|messages)|takeaways|tl;?dr|highlights"
            r"|(?:add|with|include) a summary"
        ),
        _ignore_values(key_points),
    ),
)

UNDERSTOOD = ", ".join(instruction.name for instruction in INSTRUCTIONS)


class InstructionNotUnderstood(Exception):
    """The prompt asks for nothing the offline writer can do, or for contradictory things."""


def instructions_in(prompt: str) -> list[Instruction]:
    """The instructions `prompt` asks for, in the order they are applied."""
    asked = [instruction for instruction in INSTRUCTIONS if instruction.asked.search(prompt)]
    names = {instruction.name for instruction in asked}
    for instruction in asked:
        for other in instruction.contradicts:
            if other in names:
                raise InstructionNotUnderstood(
                    f"The instruction asks for both {instruction.name} and {other}; "
                    "ask for one of them"
                )
    if not asked:
        raise InstructionNotUnderstood(
            f"The offline writer cannot follow this instruction. It understands: {UNDERSTOOD}"
        )
    return asked


def apply_prompt(markdown: str, prompt: str, values: Mapping[str, str | Sequence[str]]) -> str:
    """`markdown` changed as `prompt` asks; raises `InstructionNotUnderstood`."""
    blocks = parse(markdown)
    for instruction in instructions_in(prompt):
        blocks = instruction.apply(blocks, values)
    return render(blocks)
