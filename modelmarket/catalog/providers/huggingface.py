"""The Hugging Face Hub model list: `GET /api/models`, paged by the `Link: <...>; rel="next"` header (a cursor; the
Hub has no offsets), rate-limited in 5-minute windows announced by the `RateLimit` / `RateLimit-Policy` headers
(`RetryingClient` pauses when `r` reaches 0) and by `Retry-After` on 429.

Mapping of a Hub item to a listing:
- `pipeline_tag` picks the task (PIPELINE_TASKS); any other pipeline, or none, skips the item (`unknown_task`).
- private models are skipped (`private`); gated ones are listed with a `gated` tag (access needs the Hub's terms).
- the licence comes from the `license:<id>` tag ("other" when missing); plain tags (no `key:value`) become ours,
  minus Hub plumbing tags.
- `downloads` becomes our download counter (a provider listing has no files of ours, so nothing else counts
  there); `likes` stays in `external_data` (our favourites count our own users' favourites).
- `lastModified` (else `createdAt`) is the change marker for incremental sync.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
from django.conf import settings

from modelmarket.catalog.providers.base import (
    COMMERCIAL_LICENSES,
    ProviderItem,
    ProviderListing,
    SkippedItem,
    clean_license,
    listing_tags,
    parse_timestamp,
    sync_retry_policy,
    sync_timeouts,
)
from modelmarket.catalog.vocabulary import Source, Task
from modelmarket.core.http import (
    RetryingClient,
    UpstreamRejected,
    make_http_client,
    raise_for_upstream_status,
)

SERVICE_NAME = "Hugging Face"
PIPELINE_TASKS: dict[str, str] = {
    "text-generation": Task.TEXT_GENERATION,
    "text-classification": Task.TEXT_CLASSIFICATION,
    "token-classification": Task.TOKEN_CLASSIFICATION,
    "feature-extraction": Task.EMBEDDINGS,
    "sentence-similarity": Task.EMBEDDINGS,
    "image-classification": Task.IMAGE_CLASSIFICATION,
    "text-to-image": Task.TEXT_TO_IMAGE,
    "automatic-speech-recognition": Task.SPEECH_TO_TEXT,
    "summarization": Task.SUMMARIZATION,
    "translation": Task.TRANSLATION,
    "object-detection": Task.OBJECT_DETECTION,
    "text-to-speech": Task.TEXT_TO_SPEECH,
    "tabular-classification": Task.TABULAR_CLASSIFICATION,
    "tabular-regression": Task.TABULAR_REGRESSION,
}
# Hub tags that describe the Hub's own machinery rather than the model.
PLUMBING_TAGS = frozenset({"endpoints_compatible", "autotrain_compatible", "has_space", "deploy:azure"})
MAX_STORED_FILES = 100


class HuggingFaceClient:
    source: str = Source.HUGGINGFACE

    def __init__(self, http: RetryingClient, *, page_size: int = 100, sort: str = "downloads") -> None:
        self.http = http
        self.page_size = page_size
        self.sort = sort

    def iter_pages(
        self, *, search: str = "", author: str = "", filter: str = "", page_size: int | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Each page of `GET /api/models` in turn, following `rel="next"` until the Hub sends none."""
        query: dict[str, str | int] = {
            "search": search,
            "author": author,
            "filter": filter,
            "sort": self.sort,
            "direction": -1,
            "limit": page_size or self.page_size,
            "full": "true",
        }
        params: dict[str, str | int] | None = {key: value for key, value in query.items() if value != ""}
        url: str | None = "/api/models"
        while url:
            response = self.http.get(url, params=params)
            raise_for_upstream_status(response, service_name=SERVICE_NAME)
            page = response.json()
            if not isinstance(page, list):
                raise UpstreamRejected(
                    "Hugging Face answered with something other than a model list.", url=str(response.url)
                )
            yield page
            url = _next_url(response, base=self.http.client.base_url)
            params = None  # the next link carries the query, cursor included

    def iter_listings(self, *, search: str = "", limit: int | None = None) -> Iterator[ProviderItem]:
        page_size = min(self.page_size, limit) if limit else self.page_size
        for page in self.iter_pages(search=search, page_size=page_size):
            for item in page:
                yield listing_from_item(item)

    def close(self) -> None:
        self.http.close()


def _next_url(response: httpx.Response, *, base: httpx.URL) -> str | None:
    next_url = response.links.get("next", {}).get("url")
    if not next_url:
        return None
    absolute = base.join(next_url)
    if (absolute.scheme, absolute.host, absolute.port) != (base.scheme, base.host, base.port):
        # Our token goes with every request; never to a host we were not configured for.
        raise UpstreamRejected(
            f"Hugging Face pointed the next page at another host: {absolute.host}", url=next_url
        )
    return str(absolute)


def listing_from_item(item: dict[str, Any]) -> ProviderItem:
    model_id = str(item.get("id") or item.get("modelId") or "")
    if not model_id:
        return SkippedItem(external_id="", reason="no_id")
    if item.get("private"):
        return SkippedItem(external_id=model_id, reason="private")
    task = PIPELINE_TASKS.get(str(item.get("pipeline_tag") or ""))
    if task is None:
        return SkippedItem(external_id=model_id, reason="unknown_task")
    hub_tags = [str(tag) for tag in item.get("tags") or []]
    license_id = clean_license(
        next((tag.split(":", 1)[1] for tag in hub_tags if tag.startswith("license:")), None)
    )
    gated = item.get("gated") not in (None, False, "false", "")
    author = str(item.get("author") or model_id.rpartition("/")[0])
    tags = [
        tag
        for tag in hub_tags
        if ":" not in tag and tag not in PLUMBING_TAGS and tag != item.get("pipeline_tag")
    ]
    return ProviderListing(
        external_id=model_id,
        name=model_id.rpartition("/")[2][:120],
        summary=_summary(task=task, author=author)[:300],
        card_markdown=_card(model_id=model_id, task=task, license_id=license_id, gated=gated, item=item),
        task=task,
        license=license_id,
        commercial_use=license_id in COMMERCIAL_LICENSES,
        tags=listing_tags(([author] if author else []) + (["gated"] if gated else []) + tags),
        external_updated_at=parse_timestamp(item.get("lastModified"))
        or parse_timestamp(item.get("createdAt")),
        runtime={"provider": "huggingface", "model_id": model_id},
        download_count=max(0, int(item.get("downloads") or 0)),
        external_data=_stored_item(item),
    )


def _summary(*, task: str, author: str) -> str:
    by = f" by {author}" if author else ""
    return f"{Task(task).label} model{by}, mirrored from the Hugging Face Hub."


def _card(*, model_id: str, task: str, license_id: str, gated: bool, item: dict[str, Any]) -> str:
    lines = [
        f"# {model_id}",
        "",
        f"Mirrored from the Hugging Face Hub: [huggingface.co/{model_id}](https://huggingface.co/{model_id}). "
        "The model card, files and terms of use live there.",
        "",
        f"- Task: {Task(task).label}",
        f"- Licence: {license_id}",
    ]
    if item.get("library_name"):
        lines.append(f"- Library: {item['library_name']}")
    if gated:
        lines.append("- Gated: accept the model's terms on Hugging Face before using it.")
    return "\n".join(lines) + "\n"


def _stored_item(item: dict[str, Any]) -> dict[str, Any]:
    stored = {key: value for key, value in item.items() if key != "siblings"}
    siblings = item.get("siblings") or []
    stored["files"] = [
        sibling.get("rfilename") for sibling in siblings[:MAX_STORED_FILES] if isinstance(sibling, dict)
    ]
    stored["file_count"] = len(siblings)
    return stored


def huggingface_client(
    *, transport: httpx.BaseTransport | None = None, **retrying_options: Any
) -> HuggingFaceClient:
    """A client configured from settings (base URL, token, timeouts, retry policy)."""
    token = settings.HUGGINGFACE_TOKEN
    http = make_http_client(
        base_url=settings.HUGGINGFACE_API_BASE,
        headers={"Authorization": f"Bearer {token}"} if token else {},
        timeouts=sync_timeouts(),
        transport=transport,
    )
    return HuggingFaceClient(
        RetryingClient(http, policy=sync_retry_policy(), service_name=SERVICE_NAME, **retrying_options),
        page_size=settings.CATALOG_SYNC_PAGE_SIZE,
    )
