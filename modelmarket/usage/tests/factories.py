from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import factory
from django.utils import timezone

from modelmarket.accounts.tests.factories import make_user
from modelmarket.catalog.models import AIModel, ModelVersion
from modelmarket.catalog.vocabulary import ModelStatus
from modelmarket.usage.events import UsageRecord, UsageStatus


class AIModelFactory(factory.django.DjangoModelFactory):
    """A published listing; pass `creator=` (a creator by default)."""

    class Meta:
        model = AIModel

    slug = factory.Sequence(lambda n: f"model-{n}")
    name = factory.LazyAttribute(lambda model: model.slug.replace("-", " ").title())
    task = "chat"
    license = "mit"
    creator = factory.LazyFunction(lambda: make_user("creator"))
    status = ModelStatus.PUBLISHED
    published_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=30))


class ModelVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelVersion

    model = factory.SubFactory(AIModelFactory)
    version = factory.Sequence(lambda n: f"1.{n}.0")
    major = 1
    minor = factory.Sequence(lambda n: n)
    patch = 0
    published_at = factory.LazyFunction(timezone.now)


def usage_record(model: AIModel, *, started_at: datetime | None = None, **fields: Any) -> UsageRecord:
    """A gateway record of one succeeded call of `model`; override any field."""
    defaults: dict[str, Any] = {
        "status": UsageStatus.SUCCEEDED,
        "latency_ms": 100,
        "input_tokens": 10,
        "output_tokens": 20,
    }
    return UsageRecord(model_id=model.pk, started_at=started_at or timezone.now(), **{**defaults, **fields})
