from __future__ import annotations

from typing import Literal

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Header, Query, Router

from modelmarket.accounts import selectors, services
from modelmarket.accounts.authentication import api_auth
from modelmarket.accounts.models import ApiKey, ApiKeyScope, CreatorProfile, User
from modelmarket.accounts.schemas import (
    ApiKeyCreatedOut,
    ApiKeyIn,
    ApiKeyOut,
    ApiKeyPage,
    CreatorApplicationOut,
    CreatorApplicationPage,
    CreatorProfileIn,
    CreatorProfileOut,
    CreatorReviewIn,
    MeOut,
)
from modelmarket.core.api.idempotency import idempotent
from modelmarket.core.api.pagination import add_next_link, paginate
from modelmarket.core.api.schemas import ERROR_RESPONSES
from modelmarket.core.exceptions import NotFound

router = Router(tags=["account"])
ERRORS = ERROR_RESPONSES


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined]


def _key_out(key: ApiKey) -> dict[str, object]:
    return ApiKeyOut.model_validate(key).model_dump(mode="json")


def _owner(request: HttpRequest) -> str:
    return f"user:{_user(request).pk}"


@router.get("/me", response={200: MeOut, **ERRORS}, auth=api_auth(ApiKeyScope.READ))
def me(request: HttpRequest) -> dict[str, object]:
    user = _user(request)
    return {
        "id": user.pk,
        "email": user.email,
        "display_name": user.display_name,
        "bio": user.bio,
        "links": user.links,
        "avatar_url": request.build_absolute_uri(user.avatar.url) if user.avatar else None,
        "email_verified": selectors.user_email_is_verified(user),
        "roles": selectors.user_roles(user),
        "date_joined": user.date_joined,
    }


@router.get("/keys", response={200: ApiKeyPage, **ERRORS}, auth=api_auth(ApiKeyScope.READ))
def list_keys(
    request: HttpRequest, response: HttpResponse, cursor: str | None = None, limit: int = 20
) -> dict[str, object]:
    page = paginate(
        selectors.api_key_list(user=_user(request)), order_field="created_at", cursor=cursor, limit=limit
    )
    add_next_link(request, response, page.next_cursor)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/keys", response={201: ApiKeyCreatedOut, **ERRORS}, auth=api_auth(ApiKeyScope.MANAGE))
def create_key(
    request: HttpRequest,
    payload: ApiKeyIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
) -> JsonResponse:
    """Create an API key. The full key is in this response only. Send an `Idempotency-Key` to retry safely."""

    def run() -> tuple[int, dict[str, object]]:
        key, raw_key = services.api_key_create(user=_user(request), **payload.model_dump())
        return 201, _key_out(key) | {"key": raw_key}

    return idempotent(request, key=idempotency_key, owner=_owner(request), run=run)


@router.get("/keys/{key_id}", response={200: ApiKeyOut, **ERRORS}, auth=api_auth(ApiKeyScope.READ))
def get_key(request: HttpRequest, key_id: int) -> ApiKey:
    return selectors.api_key_get(user=_user(request), key_id=key_id)


@router.delete("/keys/{key_id}", response={200: ApiKeyOut, **ERRORS}, auth=api_auth(ApiKeyScope.MANAGE))
def revoke_key(request: HttpRequest, key_id: int) -> ApiKey:
    """Revoke a key. It stops working at once; revoking twice is harmless."""
    return services.api_key_revoke(user=_user(request), key_id=key_id)


@router.get("/creator-profile", response={200: CreatorProfileOut, **ERRORS}, auth=api_auth(ApiKeyScope.READ))
def get_creator_profile(request: HttpRequest) -> CreatorProfile:
    profile = selectors.creator_profile_for(user=_user(request))
    if profile is None:
        raise NotFound("You have not applied to become a creator.", code="creator_profile_not_found")
    return profile


@router.put(
    "/creator-profile", response={200: CreatorProfileOut, **ERRORS}, auth=api_auth(ApiKeyScope.MANAGE)
)
def apply_as_creator(request: HttpRequest, payload: CreatorProfileIn) -> CreatorProfile:
    """Apply to become a creator, or edit the application. Staff verify it."""
    return services.creator_profile_apply(user=_user(request), **payload.model_dump())


def _application_out(profile: CreatorProfile) -> dict[str, object]:
    return CreatorProfileOut.model_validate(profile).model_dump(mode="json") | {
        "user_email": profile.user.email
    }


@router.get(
    "/staff/creator-profiles",
    response={200: CreatorApplicationPage, **ERRORS},
    auth=api_auth(ApiKeyScope.READ),
    tags=["staff"],
)
def list_creator_applications(
    request: HttpRequest,
    response: HttpResponse,
    status: Literal["pending", "verified", "rejected"] | None = Query(None),
    cursor: str | None = None,
    limit: int = 20,
) -> dict[str, object]:
    queue = selectors.creator_profile_review_queue(actor=_user(request), status=status)
    page = paginate(queue, order_field="created_at", descending=False, cursor=cursor, limit=limit)
    add_next_link(request, response, page.next_cursor)
    return {"items": [_application_out(profile) for profile in page.items], "next_cursor": page.next_cursor}


@router.post(
    "/staff/creator-profiles/{profile_id}/review",
    response={200: CreatorApplicationOut, **ERRORS},
    auth=api_auth(ApiKeyScope.MANAGE),
    tags=["staff"],
)
def review_creator_application(
    request: HttpRequest, profile_id: int, payload: CreatorReviewIn
) -> dict[str, object]:
    profile = services.creator_profile_review(
        actor=_user(request), profile_id=profile_id, approve=payload.approve, note=payload.note
    )
    return _application_out(profile)
