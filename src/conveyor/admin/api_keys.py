"""Routes for machine credentials: /api/v1/admin/api-keys (create, list, revoke)."""

from datetime import datetime
from typing import Annotated

from fastapi import Depends
from pydantic import BaseModel, ConfigDict, Field

from conveyor.auth import service
from conveyor.auth.policies import ADMIN
from conveyor.database import ReadSession, WriteSession
from conveyor.errors import PLATFORM
from conveyor.idempotency import IDEMPOTENT

router = PLATFORM.router(
    prefix="/api/v1/admin/api-keys", tags=["admin: API keys"], dependencies=[Depends(ADMIN)]
)

_SCOPE = r"^[a-z][a-z0-9_.:-]{0,63}$"


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    scopes: list[Annotated[str, Field(pattern=_SCOPE)]] = Field(default_factory=list, max_length=32)


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    active: bool


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The key itself, `cvk_<id>_<secret>`. Shown only in this answer.")


@router.post(
    "",
    response_model=ApiKeyCreated,
    status_code=201,
    summary="Create an API key",
    dependencies=[Depends(IDEMPOTENT)],
)
async def create_api_key(body: ApiKeyCreate, session: WriteSession) -> ApiKeyCreated:
    api_key, plaintext = await service.create_api_key(session, name=body.name, scopes=body.scopes)
    return ApiKeyCreated(**ApiKeyRead.model_validate(api_key).model_dump(), key=plaintext)


@router.get("", response_model=list[ApiKeyRead], summary="Every API key, without secrets")
async def list_api_keys(session: ReadSession) -> list[ApiKeyRead]:
    return [ApiKeyRead.model_validate(key) for key in await service.list_api_keys(session)]


@router.delete("/{key_id}", response_model=ApiKeyRead, summary="Revoke an API key")
async def revoke_api_key(key_id: str, session: WriteSession) -> ApiKeyRead:
    return ApiKeyRead.model_validate(await service.revoke_api_key(session, key_id))
