"""Replicate's model list: `GET /v1/models` with `Authorization: Bearer <REPLICATE_API_TOKEN>`, cursor-paginated
as `{next, previous, results}` (we follow the `next` URL until it is null); a 429 carries `Retry-After` and the
body `{"detail": "Request was throttled. ..."}`.

Mapping of a Replicate model to a listing:
- the external id is `owner/name`; `description` is the summary; private models are skipped (`private`), and so
  are models without a `latest_version` (`no_version`: nothing to run).
- `latest_version.openapi_schema`'s `components.schemas.Input` / `Output` become the version's input and output
  schemas; `latest_version.id` is the version the gateway runs, `latest_version.created_at` the change marker.
- Replicate has no task field, so `infer_task` guesses conservatively and skips what it cannot tell
  (`unknown_task`); see its docstring for the rule.
- Replicate gives no SPDX licence in this list: listings say "other", not for commercial use, until a person
  checks the model's terms (their correction survives syncs). `run_count` stays in `external_data` (our call
  counter counts calls through our gateway).
- `--search` filters the listed models here, by case-insensitive substring of owner/name or description: the
  list endpoint we use takes no query.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
from django.conf import settings

from modelmarket.catalog.providers.base import (
    ProviderItem,
    ProviderListing,
    SkippedItem,
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

SERVICE_NAME = "Replicate"
IMAGE_WORDS = re.compile(r"\b(image|images|photo|photos|picture|pictures|diffusion|text-to-image)\b")
SPEECH_WORDS = re.compile(r"\b(text-to-speech|tts|speech synthesis|voice|voices)\b")
TRANSCRIPTION_WORDS = re.compile(
    r"\b(transcribe|transcribes|transcription|speech recognition|speech-to-text|asr)\b"
)
OTHER_MEDIA_WORDS = re.compile(r"\b(video|videos|music|song|songs|3d|mesh|animation)\b")
LANGUAGE_MODEL_WORDS = re.compile(r"\b(language model|llm|chat|instruct|instruction|text generation)\b")


class ReplicateClient:
    source: str = Source.REPLICATE

    def __init__(self, http: RetryingClient) -> None:
        self.http = http

    def iter_pages(self) -> Iterator[list[dict[str, Any]]]:
        """Each page of `GET /v1/models`, following `next` until it is null."""
        url: str | None = "/v1/models"
        while url:
            response = self.http.get(url)
            raise_for_upstream_status(response, service_name=SERVICE_NAME)
            body = response.json()
            if not isinstance(body, dict) or not isinstance(body.get("results"), list):
                raise UpstreamRejected("Replicate answered with something other than a model list.", url=url)
            yield body["results"]
            url = _checked_next_url(body.get("next"), base=self.http.client.base_url)

    def iter_listings(self, *, search: str = "", limit: int | None = None) -> Iterator[ProviderItem]:
        needle = search.strip().lower()
        for page in self.iter_pages():
            for item in page:
                if needle and not _matches(item, needle):
                    continue
                yield listing_from_item(item)

    def close(self) -> None:
        self.http.close()


def _checked_next_url(next_url: Any, *, base: httpx.URL) -> str | None:
    if not next_url:
        return None
    absolute = base.join(str(next_url))
    if (absolute.scheme, absolute.host, absolute.port) != (base.scheme, base.host, base.port):
        # Our token goes with every request; never to a host we were not configured for.
        raise UpstreamRejected(
            f"Replicate pointed the next page at another host: {absolute.host}", url=str(next_url)
        )
    return str(absolute)


def _matches(item: dict[str, Any], needle: str) -> bool:
    haystack = f"{item.get('owner', '')}/{item.get('name', '')} {item.get('description') or ''}".lower()
    return needle in haystack


def listing_from_item(item: dict[str, Any]) -> ProviderItem:
    owner, name = str(item.get("owner") or ""), str(item.get("name") or "")
    model_id = f"{owner}/{name}" if owner and name else ""
    if not model_id:
        return SkippedItem(external_id="", reason="no_id")
    if item.get("visibility") == "private":
        return SkippedItem(external_id=model_id, reason="private")
    version = item.get("latest_version")
    if not isinstance(version, dict) or not version.get("id"):
        return SkippedItem(external_id=model_id, reason="no_version")
    schemas = ((version.get("openapi_schema") or {}).get("components") or {}).get("schemas") or {}
    input_schema, output_schema = schemas.get("Input") or {}, schemas.get("Output") or {}
    description = str(item.get("description") or "").strip()
    task = infer_task(
        text=f"{model_id} {description}", input_schema=input_schema, output_schema=output_schema
    )
    if task is None:
        return SkippedItem(external_id=model_id, reason="unknown_task")
    url = str(item.get("url") or f"https://replicate.com/{model_id}")
    return ProviderListing(
        external_id=model_id,
        name=name[:120],
        summary=(description or f"{Task(task).label} model by {owner} on Replicate.")[:300],
        card_markdown=_card(model_id=model_id, description=description, url=url, task=task),
        task=task,
        license="other",
        commercial_use=False,
        tags=listing_tags([owner]),
        external_updated_at=parse_timestamp(version.get("created_at")),
        runtime={"provider": "replicate", "model_id": model_id, "version_id": str(version["id"])},
        version_id=str(version["id"]),
        input_schema=input_schema,
        output_schema=output_schema,
        external_data=_stored_item(item),
    )


def infer_task(*, text: str, input_schema: dict[str, Any], output_schema: dict[str, Any]) -> str | None:
    """Replicate's task, from the version's schemas first and the words of name and description second.

    - text out (a string, or an array of strings that are not URIs, as language models stream) and an audio file
      in → speech-to-text; text out and a `prompt` or `messages` input → text-generation.
    - an object out with a `transcription` or `text` field and an audio file in → speech-to-text (Whisper's shape).
    - files out (URIs) and a text `prompt`/`text` input: text-to-image when the words speak of images and of no
      other media (video, music, 3D); text-to-speech when they speak of speech or voices and of no other media.
    - anything else → None: better unlisted than listed under the wrong task."""
    text = text.lower()
    inputs = input_schema.get("properties") or {}
    audio_in = any(
        "audio" in key and _is_uri(schema) for key, schema in inputs.items() if isinstance(schema, dict)
    )
    prompt_in = any(key in inputs for key in ("prompt", "messages", "text"))
    output_kind = _output_kind(output_schema)
    if output_kind == "text":
        if audio_in:
            return Task.SPEECH_TO_TEXT
        if prompt_in:
            return Task.TEXT_GENERATION
    if output_kind == "transcript" and audio_in:
        return Task.SPEECH_TO_TEXT
    if output_kind == "files" and prompt_in and not OTHER_MEDIA_WORDS.search(text):
        if IMAGE_WORDS.search(text) and not SPEECH_WORDS.search(text):
            return Task.TEXT_TO_IMAGE
        if SPEECH_WORDS.search(text) and not IMAGE_WORDS.search(text):
            return Task.TEXT_TO_SPEECH
    if output_kind == "text" and TRANSCRIPTION_WORDS.search(text):
        return Task.SPEECH_TO_TEXT
    return None


def _is_uri(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "string" and schema.get("format") == "uri"


def _output_kind(schema: dict[str, Any]) -> str:
    if _is_uri(schema):
        return "files"
    if schema.get("type") == "string":
        return "text"
    if schema.get("type") == "array":
        items = schema.get("items") or {}
        if _is_uri(items):
            return "files"
        if items.get("type") == "string":
            return "text"
    if schema.get("type") == "object" and {"transcription", "text"} & set(schema.get("properties") or {}):
        return "transcript"
    return "unknown"


def _card(*, model_id: str, description: str, url: str, task: str) -> str:
    lines = [f"# {model_id}", ""]
    if description:
        lines += [description, ""]
    lines += [
        f"Mirrored from Replicate: [{url.removeprefix('https://')}]({url}). Its inputs and outputs are listed with "
        "the version; terms of use are on the model's Replicate page.",
        "",
        f"- Task: {Task(task).label}",
    ]
    return "\n".join(lines) + "\n"


def _stored_item(item: dict[str, Any]) -> dict[str, Any]:
    """The item without the version's OpenAPI schema (kept on the version as input and output schemas)."""
    stored = dict(item)
    if isinstance(item.get("latest_version"), dict):
        stored["latest_version"] = {
            key: value for key, value in item["latest_version"].items() if key != "openapi_schema"
        }
    return stored


def replicate_client(
    *, transport: httpx.BaseTransport | None = None, **retrying_options: Any
) -> ReplicateClient:
    """A client configured from settings. The caller checks that REPLICATE_API_TOKEN is set."""
    http = make_http_client(
        base_url=settings.REPLICATE_API_BASE,
        headers={"Authorization": f"Bearer {settings.REPLICATE_API_TOKEN}"},
        timeouts=sync_timeouts(),
        transport=transport,
    )
    return ReplicateClient(
        RetryingClient(http, policy=sync_retry_policy(), service_name=SERVICE_NAME, **retrying_options)
    )
