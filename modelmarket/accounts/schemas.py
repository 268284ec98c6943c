from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Schema
from pydantic import Field

from modelmarket.accounts.models import ApiKey
from modelmarket.core.api.schemas import StrictIn


class MeOut(Schema):
    id: int
    email: str
    display_name: str
    bio: str
    links: list[str]
    avatar_url: str | None
    email_verified: bool
    roles: list[str]
    date_joined: datetime


class ApiKeyIn(StrictIn):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Literal["inference", "read", "manage"]] = Field(min_length=1, max_length=3)
    expires_at: datetime | None = None
    requests_per_minute: int | None = Field(default=None, ge=1, le=100_000)
    spend_cap_minor: int | None = Field(default=None, ge=0, le=2**63 - 1)
    spend_cap_currency: str = Field(default="", max_length=10, pattern=r"^[A-Za-z0-9]*$")


class ApiKeyOut(Schema):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    requests_per_minute: int | None
    spend_cap_minor: int | None
    spend_cap_currency: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    active: bool

    @staticmethod
    def resolve_active(key: ApiKey) -> bool:
        return key.is_active()


class ApiKeyCreatedOut(ApiKeyOut):
    key: str = Field(description="The full key. It is shown only in this response: store it now.")


class ApiKeyPage(Schema):
    items: list[ApiKeyOut]
    next_cursor: str | None


class CreatorProfileIn(StrictIn):
    display_name: str = Field(min_length=1, max_length=80)
    bio: str = Field(min_length=1, max_length=4000)
    website: str = Field(default="", max_length=200)
    links: list[str] = Field(default_factory=list, max_length=5)


class CreatorProfileOut(Schema):
    id: int
    display_name: str
    bio: str
    website: str
    links: list[str]
    status: str
    review_note: str
    created_at: datetime
    reviewed_at: datetime | None


class CreatorApplicationOut(CreatorProfileOut):
    user_email: str


class CreatorApplicationPage(Schema):
    items: list[CreatorApplicationOut]
    next_cursor: str | None


class CreatorReviewIn(StrictIn):
    approve: bool
    note: str = Field(default="", max_length=2000)
