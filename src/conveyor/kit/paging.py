"""The `offset`/`skip` query parameter every list shares, bounded so that no value a client
sends can overflow the database's integers (a 500 instead of a 400 otherwise)."""

from typing import Annotated

from fastapi import Query

MAX_OFFSET = 2**31 - 1

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip")]
