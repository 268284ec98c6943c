"""What the provider clients hand to the sync service, and the mapping rules they share."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

from django.conf import settings
from django.utils.text import slugify

from modelmarket.catalog.vocabulary import Modality, Task
from modelmarket.core.http import RetryPolicy, Timeouts

MAX_LISTING_TAGS = 20  # services.models.MAX_TAGS
SPDX_LIKE = re.compile(r"^[a-z0-9][a-z0-9.+-]{0,63}$")

# What a task takes and gives, for the listing's modality badges.
TASK_MODALITIES: dict[str, tuple[list[str], list[str]]] = {
    Task.TEXT_GENERATION: ([Modality.TEXT], [Modality.TEXT]),
    Task.CHAT: ([Modality.TEXT], [Modality.TEXT]),
    Task.TEXT_CLASSIFICATION: ([Modality.TEXT], [Modality.LABEL]),
    Task.TOKEN_CLASSIFICATION: ([Modality.TEXT], [Modality.LABEL]),
    Task.EMBEDDINGS: ([Modality.TEXT], [Modality.VECTOR]),
    Task.IMAGE_CLASSIFICATION: ([Modality.IMAGE], [Modality.LABEL]),
    Task.TABULAR_CLASSIFICATION: ([Modality.TABULAR], [Modality.LABEL]),
    Task.TABULAR_REGRESSION: ([Modality.TABULAR], [Modality.NUMBER]),
    Task.TEXT_TO_IMAGE: ([Modality.TEXT], [Modality.IMAGE]),
    Task.SPEECH_TO_TEXT: ([Modality.AUDIO], [Modality.TEXT]),
    Task.SUMMARIZATION: ([Modality.TEXT], [Modality.TEXT]),
    Task.TRANSLATION: ([Modality.TEXT], [Modality.TEXT]),
    Task.OBJECT_DETECTION: ([Modality.IMAGE], [Modality.LABEL]),
    Task.TEXT_TO_SPEECH: ([Modality.TEXT], [Modality.AUDIO]),
}

# Licences that allow commercial use without further conditions to check. Anything else (custom model licences
# such as llama3.1 or gemma, non-commercial CC variants, "other", unknown) is listed as not for commercial use;
# a creator or staff member can correct it, and the correction survives later syncs.
COMMERCIAL_LICENSES = frozenset(
    {
        "apache-2.0",
        "mit",
        "bsd-2-clause",
        "bsd-3-clause",
        "isc",
        "unlicense",
        "cc0-1.0",
        "cc-by-4.0",
        "cc-by-sa-4.0",
        "mpl-2.0",
        "openrail",
        "openrail++",
        "creativeml-openrail-m",
        "bigscience-openrail-m",
        "gpl-3.0",
        "lgpl-3.0",
        "agpl-3.0",
    }
)


@dataclass(frozen=True)
class ProviderListing:
    """One provider model, mapped to our listing fields. `version_id` identifies the provider's current version
    (empty when the provider has no versions we track); `download_count` None leaves our counter alone."""

    external_id: str
    name: str
    summary: str
    card_markdown: str
    task: str
    license: str
    commercial_use: bool
    tags: list[str]
    external_updated_at: datetime | None
    runtime: dict[str, Any]
    version_id: str = ""
    input_schema: dict[str, Any] = field(default_factory=dict)
    output_schema: dict[str, Any] = field(default_factory=dict)
    download_count: int | None = None
    external_data: dict[str, Any] = field(default_factory=dict)

    @property
    def input_modalities(self) -> list[str]:
        return [str(value) for value in TASK_MODALITIES[self.task][0]]

    @property
    def output_modalities(self) -> list[str]:
        return [str(value) for value in TASK_MODALITIES[self.task][1]]

    def fingerprint(self) -> str:
        """A hash of what sync writes, counters and raw data aside: a changed hash means the listing changed even
        where the provider's timestamp did not move (a Replicate description edit)."""
        content = asdict(self)
        for volatile in ("external_data", "download_count", "external_updated_at"):
            content.pop(volatile)
        return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class SkippedItem:
    """A provider item we do not list, and why (`private`, `unknown_task`, `no_version`...)."""

    external_id: str
    reason: str


ProviderItem = ProviderListing | SkippedItem


class ProviderClient(Protocol):
    source: str

    def iter_listings(self, *, search: str = "", limit: int | None = None) -> Iterator[ProviderItem]: ...

    def close(self) -> None: ...


def listing_tags(tags: list[str]) -> list[str]:
    """Slugified, de-duplicated, at most MAX_LISTING_TAGS, in the given order."""
    slugs = list(dict.fromkeys(slugify(tag)[:50] for tag in tags if slugify(tag)))
    return slugs[:MAX_LISTING_TAGS]


def clean_license(value: str | None) -> str:
    value = (value or "").strip().lower()
    return value if SPDX_LIKE.match(value) else "other"


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO 8601 timestamp as both providers send it (`2024-05-01T12:34:56.000Z`); None when absent or bad."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def sync_timeouts() -> Timeouts:
    return Timeouts(
        connect_seconds=settings.CATALOG_SYNC_CONNECT_TIMEOUT_SECONDS,
        read_seconds=settings.CATALOG_SYNC_READ_TIMEOUT_SECONDS,
    )


def sync_retry_policy() -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.CATALOG_SYNC_MAX_ATTEMPTS,
        total_budget_seconds=settings.CATALOG_SYNC_TIME_BUDGET_SECONDS,
    )
