"""Listings for the gateway tests, made through the catalog's services as a creator would."""

from __future__ import annotations

from typing import Any

from modelmarket.catalog.models import AIModel
from modelmarket.catalog.services.models import model_create, model_publish, version_create, version_publish


def published_listing(
    creator: Any, *, runtime: dict[str, Any], input_schema: dict | None = None, **fields: Any
) -> AIModel:
    """A published listing with one published version running on `runtime`."""
    model = model_create(actor=creator, license="mit", **fields)
    version = version_create(
        actor=creator, model=model, version="1.0.0", runtime=runtime, input_schema=input_schema
    )
    version_publish(actor=creator, version=version)
    model_publish(actor=creator, model=model)
    return model
