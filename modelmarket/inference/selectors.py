"""Reads the gateway needs, as plain immutable values it can cache per worker: an API key's grant, a listing with
its callable versions, a browser session's user. Sync ORM code; the gateway calls it from a thread on a cache miss."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.sessions.backends.base import SessionBase
from django.db.models import Q, QuerySet
from django.utils import timezone

from modelmarket.accounts.models import ApiKey
from modelmarket.catalog.models import AIModel, ModelFile, ModelVersion
from modelmarket.catalog.vocabulary import ModelStatus, Pricing, ValidationStatus
from modelmarket.core.crypto import decrypt_bytes
from modelmarket.core.exceptions import NotFound
from modelmarket.inference.models import InferenceJob, ListingGatewayConfig
from modelmarket.inference.providers.base import Target


@dataclass(frozen=True, slots=True)
class KeyGrant:
    """What an API key allows, as cached by the gateway. `expires_at` is checked on every request."""

    key_id: int
    user_id: int
    scopes: frozenset[str]
    requests_per_minute: int | None
    expires_at: datetime | None
    active: bool  # not revoked, and the owner's account is active
    reason: str = ""  # why not active: api_key_revoked | account_disabled


@dataclass(frozen=True, slots=True)
class Listing:
    """A listing as the gateway sees it: who may call which version. `versions` holds every version that has a
    runtime, published or not; `callable_by` decides."""

    model_id: int
    slug: str
    name: str
    creator_id: int
    task: str
    public: bool
    pricing: str
    created_at: datetime
    default_version: str | None
    versions: dict[str, Target] = field(default_factory=dict)
    published: frozenset[str] = frozenset()
    retired: frozenset[str] = frozenset()  # deprecated with a date that has passed
    fallback_version: str | None = None
    timeout_seconds: int | None = None

    def version_for(self, user_id: int, requested: str | None) -> Target | None:
        """The version `user_id` may call: the requested one or the default. Owners may call unpublished versions
        (to try them before publishing); nobody calls a retired version."""
        name = requested or self.default_version
        if name is None or name not in self.versions or name in self.retired:
            return None
        if name not in self.published and user_id != self.creator_id:
            return None
        return self.versions[name]


def gateway_key_load(key_sha256: str) -> KeyGrant | None:
    key = ApiKey.objects.select_related("user").filter(key_sha256=key_sha256).first()
    if key is None:
        return None
    reason = "api_key_revoked" if key.revoked_at else "" if key.user.is_active else "account_disabled"
    return KeyGrant(
        key_id=key.pk,
        user_id=key.user_id,
        scopes=frozenset(key.scopes),
        requests_per_minute=key.requests_per_minute,
        expires_at=key.expires_at,
        active=not reason,
        reason=reason,
    )


def _target(model: AIModel, version: ModelVersion, files: list[ModelFile], credential: str | None) -> Target:
    runtime = dict(version.runtime or {})
    return Target(
        model_id=model.pk,
        slug=model.slug,
        creator_id=model.creator_id,
        task=model.task,
        version_id=version.pk,
        version=version.version,
        provider=str(runtime.get("provider", "")),
        runtime=runtime,
        input_schema=version.input_schema or {},
        output_schema=version.output_schema or {},
        base_url=str(runtime.get("base_url") or model.endpoint_url or ""),
        credential=credential,
        files={
            file.name: file.storage_key for file in files if file.validation_status == ValidationStatus.VALID
        },
    )


def gateway_listing_load(slug: str) -> Listing | None:
    """The listing with its versions, or None when it does not exist or is deleted. Drafts are returned too
    (their owner may call them); `public` says whether anyone else may."""
    model = AIModel.objects.filter(slug=slug, deleted_at__isnull=True).first()
    if model is None:
        return None
    config = ListingGatewayConfig.objects.filter(model=model).select_related("fallback_version").first()
    credential = None
    if config is not None and config.secret_encrypted:
        credential = decrypt_bytes(bytes(config.secret_encrypted)).decode()
    versions = list(ModelVersion.objects.filter(model=model).prefetch_related("files"))
    now = timezone.now()
    targets = {
        version.version: _target(model, version, list(version.files.all()), credential)
        for version in versions
        if (version.runtime or {}).get("provider")
    }
    return Listing(
        model_id=model.pk,
        slug=model.slug,
        name=model.name,
        creator_id=model.creator_id,
        task=model.task,
        public=model.is_public,
        pricing=model.pricing,
        created_at=model.created_at,
        default_version=next((version.version for version in versions if version.is_default), None),
        versions=targets,
        published=frozenset(version.version for version in versions if version.is_published),
        retired=frozenset(
            version.version
            for version in versions
            if version.deprecated_at is not None and version.deprecated_at <= now
        ),
        fallback_version=config.fallback_version.version if config and config.fallback_version else None,
        timeout_seconds=config.timeout_seconds if config else None,
    )


def gateway_callable_models(*, user_id: int) -> QuerySet[AIModel]:
    """What `GET /v1/models` lists for a user: public free listings and the user's own (paid listings join once
    billing grants entitlements), each with a runtime to call."""
    callable_listing = Q(
        status__in=[ModelStatus.PUBLISHED, ModelStatus.DEPRECATED], pricing=Pricing.FREE
    ) | Q(creator_id=user_id)
    return (
        AIModel.objects.filter(callable_listing, deleted_at__isnull=True, versions__is_default=True)
        .exclude(versions__runtime={})
        .select_related("creator")
        .order_by("slug")
        .distinct()
    )


def gateway_session_user_id(session_key: str) -> int | None:
    """The user id of a browser session, or None for a missing, expired or anonymous session."""
    from importlib import import_module

    from django.conf import settings

    store: SessionBase = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user_id = store.get("_auth_user_id")
    return int(user_id) if user_id is not None else None


def inference_job_get(*, user_id: int, public_id: str) -> InferenceJob:
    """The caller's own job; another user's job, or an id that is not a UUID, is NotFound."""
    try:
        return InferenceJob.objects.select_related("model", "version").get(
            public_id=uuid.UUID(public_id), user_id=user_id
        )
    except (InferenceJob.DoesNotExist, ValueError):
        raise NotFound("No such inference job.", code="inference_job_not_found") from None
