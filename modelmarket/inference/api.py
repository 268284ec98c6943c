"""Creators' gateway settings for their listings: `GET` / `PUT /api/v1/models/{slug}/gateway`. The calls
themselves are served by the Starlette gateway (`inference/gateway/`), not by Ninja."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from modelmarket.accounts.authentication import api_auth
from modelmarket.accounts.models import ApiKeyScope
from modelmarket.catalog.selectors.models import model_get_for_editing
from modelmarket.core.api.schemas import ERROR_RESPONSES
from modelmarket.inference import services
from modelmarket.inference.models import ListingGatewayConfig
from modelmarket.inference.schemas import GatewayConfigIn, GatewayConfigOut

router = Router(tags=["inference"])


def _config_out(slug: str, config: ListingGatewayConfig | None) -> dict[str, object]:
    return {
        "model": slug,
        "secret_set": bool(config and config.secret_encrypted),
        "secret_hint": f"…{config.secret_hint}" if config and config.secret_encrypted else None,
        "fallback_version": config.fallback_version.version if config and config.fallback_version else None,
        "timeout_seconds": config.timeout_seconds if config else None,
    }


@router.get(
    "/models/{slug}/gateway",
    response={200: GatewayConfigOut, **ERROR_RESPONSES},
    auth=api_auth(ApiKeyScope.MANAGE),
)
def gateway_config_get(request: HttpRequest, slug: str) -> dict[str, object]:
    model = model_get_for_editing(actor=request.auth, slug=slug)  # type: ignore[attr-defined]
    config = ListingGatewayConfig.objects.filter(model=model).select_related("fallback_version").first()
    return _config_out(model.slug, config)


@router.put(
    "/models/{slug}/gateway",
    response={200: GatewayConfigOut, **ERROR_RESPONSES},
    auth=api_auth(ApiKeyScope.MANAGE),
)
def gateway_config_set(request: HttpRequest, slug: str, payload: GatewayConfigIn) -> dict[str, object]:
    """Set the listing's upstream secret (stored encrypted, never returned), fallback version and time limit."""
    model = model_get_for_editing(actor=request.auth, slug=slug)  # type: ignore[attr-defined]
    config = services.listing_gateway_config_set(model=model, **payload.model_dump())
    return _config_out(model.slug, config)
