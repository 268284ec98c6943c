from __future__ import annotations

from ninja import Field, Schema

from modelmarket.core.api.schemas import StrictIn


class GatewayConfigIn(StrictIn):
    """Only the fields sent change. The secret is write-only: no response ever carries it."""

    secret: str | None = Field(
        default=None, min_length=1, max_length=4096, description="The upstream API key."
    )
    clear_secret: bool = False
    fallback_version: str | None = Field(default=None, max_length=64)
    clear_fallback: bool = False
    timeout_seconds: int | None = Field(default=None, ge=1)


class GatewayConfigOut(Schema):
    model: str
    secret_set: bool
    secret_hint: str | None = Field(description="The secret's last four characters, e.g. '…f00d'.")
    fallback_version: str | None
    timeout_seconds: int | None
