"""Reading console pages in tests: text as a person sees it, one element's text by id, the
CSRF token of a page's forms."""

import re
from html.parser import HTMLParser

VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    }
)
HIDDEN = frozenset({"script", "style", "head"})


class _Text(HTMLParser):
    """The text of the whole page, or of the element with `target` as id."""

    def __init__(self, target: str | None) -> None:
        super().__init__()
        self.target = target
        self.depth = 0 if target is None else -1
        self.hidden = 0
        self.found = target is None
        self.parts: list[str] = []
        self.attributes: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN:
            self.hidden += 1
        if self.depth < 0 and dict(attrs).get("id") == self.target:
            self.depth, self.found, self.attributes = 0, True, dict(attrs)
            if tag in VOID:
                self.depth = -2
            return
        if self.depth >= 0 and tag not in VOID:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN:
            self.hidden -= 1
        if self.depth > 0:
            self.depth -= 1
        elif self.depth == 0 and self.target is not None:
            self.depth = -2

    def handle_data(self, data: str) -> None:
        if self.depth >= 0 and not self.hidden:
            self.parts.append(data)


def text(html: str) -> str:
    """The page's visible text, whitespace collapsed."""
    parser = _Text(None)
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def element(html: str, element_id: str) -> str | None:
    """The text of the element with this id (None if there is none)."""
    parser = _Text(element_id)
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split()) if parser.found else None


def attributes(html: str, element_id: str) -> dict[str, str | None]:
    parser = _Text(element_id)
    parser.feed(html)
    return parser.attributes


def field_error(html: str, field: str) -> str | None:
    """The error shown next to a field, if the field points at it (`aria-describedby`)."""
    message = element(html, f"{field}-error")
    if message is None:
        return None
    described = attributes(html, field).get("aria-describedby") or ""
    assert f"{field}-error" in described.split(), f"{field} does not point at its error"
    return message.removeprefix("Error: ")


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)
