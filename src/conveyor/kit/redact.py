"""Quoting an outside system's answer in an error message without repeating a secret it echoes."""

import json


def excerpt(text: str, *secrets: str | None) -> str:
    """The start of an answer's body for an error message, with any secret it echoes hidden."""
    text = " ".join(text.split())
    for secret in filter(None, secrets):
        for form in {secret, " ".join(secret.split()), json.dumps(secret)[1:-1]}:
            text = text.replace(form, "***")
    return text[:200]
