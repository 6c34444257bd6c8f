"""Routes for signing in and signing up: /api/v1/auth."""

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordRequestForm

from conveyor.auth import service
from conveyor.auth.policies import OPEN, SIGNED_IN, Principal
from conveyor.auth.schemas import SignupComplete, SignupCreate, TokenRead, UserRead
from conveyor.config import CurrentSettings
from conveyor.database import ReadSession, WriteSession
from conveyor.errors import PLATFORM
from conveyor.ratelimit import SIGN_IN, SIGN_UP

router = PLATFORM.router(prefix="/api/v1/auth", tags=["auth"])

SignedIn = Annotated[Principal, Depends(SIGNED_IN)]


def _user_id(principal: Principal) -> uuid.UUID:
    assert principal.user_id is not None  # SIGNED_IN admits users only
    return principal.user_id


@router.post(
    "/token",
    response_model=TokenRead,
    summary="Sign in with email and password",
    dependencies=[Depends(OPEN), Depends(SIGN_IN)],
)
async def token(
    settings: CurrentSettings,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: WriteSession,
) -> TokenRead:
    user = await service.authenticate(session, email=form.username, password=form.password)
    lifetime = timedelta(minutes=settings.access_token_minutes)
    access = service.issue_token(
        user, secret=settings.secret_key.get_secret_value(), lifetime=lifetime
    )
    return TokenRead(access_token=access, expires_in=int(lifetime.total_seconds()))


@router.get("/me", response_model=UserRead, summary="The signed-in user")
async def me(principal: SignedIn, session: ReadSession) -> UserRead:
    return UserRead.model_validate(await service.get_active(session, _user_id(principal)))


@router.post(
    "/signup",
    response_model=UserRead,
    status_code=201,
    summary="Create an account",
    dependencies=[Depends(OPEN), Depends(SIGN_UP)],
)
async def signup(body: SignupCreate, session: WriteSession) -> UserRead:
    user = await service.create_user(
        session, email=str(body.email), password=body.password, name=body.name
    )
    return UserRead.model_validate(user)


@router.post(
    "/complete-signup", response_model=UserRead, summary="Finish the signed-in user's profile"
)
async def complete_signup(
    body: SignupComplete, principal: SignedIn, session: WriteSession
) -> UserRead:
    user = await service.complete_signup(
        session, _user_id(principal), phone=body.phone, accepted_terms=body.accepted_terms
    )
    return UserRead.model_validate(user)
