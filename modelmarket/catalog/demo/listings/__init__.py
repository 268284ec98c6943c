"""Provider listings in the demo catalog: well-known Hugging Face and Replicate models (and two example
OpenAI-compatible APIs), with their real licences, tasks and honest cards. Metadata only: they run once the gateway
has the provider's credentials.

`Listing` holds the facts; the card, schemas, runtime and demo counters are derived from them here, so every card
has the same sections (what it does, intended use, limitations, running it, licence, a demo-data footer)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.text import slugify

from modelmarket.catalog.vocabulary import Modality, Source, Task

PROVIDER_NAMES: dict[str, str] = {
    Source.HUGGINGFACE: "Hugging Face",
    Source.REPLICATE: "Replicate",
    Source.OPENAI_COMPATIBLE: "an OpenAI-compatible API",
}

TASK_MODALITIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    Task.TEXT_GENERATION: ((Modality.TEXT,), (Modality.TEXT,)),
    Task.CHAT: ((Modality.TEXT,), (Modality.TEXT,)),
    Task.TEXT_CLASSIFICATION: ((Modality.TEXT,), (Modality.LABEL,)),
    Task.TOKEN_CLASSIFICATION: ((Modality.TEXT,), (Modality.LABEL,)),
    Task.EMBEDDINGS: ((Modality.TEXT,), (Modality.VECTOR,)),
    Task.IMAGE_CLASSIFICATION: ((Modality.IMAGE,), (Modality.LABEL,)),
    Task.OBJECT_DETECTION: ((Modality.IMAGE,), (Modality.LABEL,)),
    Task.TEXT_TO_IMAGE: ((Modality.TEXT,), (Modality.IMAGE,)),
    Task.SPEECH_TO_TEXT: ((Modality.AUDIO,), (Modality.TEXT,)),
    Task.SUMMARIZATION: ((Modality.TEXT,), (Modality.TEXT,)),
    Task.TRANSLATION: ((Modality.TEXT,), (Modality.TEXT,)),
    Task.TEXT_TO_SPEECH: ((Modality.TEXT,), (Modality.AUDIO,)),
}

LICENSE_NOTES = {
    "apache-2.0": "Apache License 2.0: permissive; commercial use allowed; keep the licence and notices.",
    "mit": "MIT License: permissive; commercial use allowed; keep the copyright notice.",
    "cc-by-4.0": "Creative Commons Attribution 4.0: commercial use allowed with attribution.",
    "cc-by-nc-4.0": "Creative Commons Attribution-NonCommercial 4.0: **no commercial use**.",
    "llama3": "Meta Llama 3 Community License: commercial use allowed, with conditions (an acceptable use policy; "
    "services with over 700 million monthly users need a licence from Meta; attribution).",
    "llama3.1": "Llama 3.1 Community License: commercial use allowed, with conditions (an acceptable use policy; "
    "services with over 700 million monthly users need a licence from Meta; attribution).",
    "llama3.2": "Llama 3.2 Community License: commercial use allowed, with conditions (an acceptable use policy; "
    "services with over 700 million monthly users need a licence from Meta; attribution).",
    "gemma": "Gemma Terms of Use: commercial use allowed, subject to Google's prohibited use policy, which passes "
    "on to anything built with it.",
    "openrail++": "CreativeML Open RAIL++-M: commercial use allowed; use-based restrictions apply and pass on to "
    "derivatives.",
    "creativeml-openrail-m": "CreativeML Open RAIL-M: commercial use allowed; use-based restrictions apply and "
    "pass on to derivatives.",
    "bigcode-openrail-m": "BigCode Open RAIL-M: commercial use allowed; use-based restrictions apply.",
    "proprietary": "Proprietary: available only through the vendor's API under the vendor's terms; no weights.",
}


@dataclass(frozen=True)
class Listing:
    source: str
    external_id: str  # the provider's id (owner/name) or, for OpenAI-compatible APIs, the model name
    name: str
    task: str
    license: str
    commercial_use: bool
    summary: str
    description: str
    intended_use: str
    limitations: str
    tags: tuple[str, ...]
    popularity: int = 3  # 1 (niche) .. 5 (among the most used); drives the demo counters
    featured: bool = False
    license_note: str = ""  # required for licences not in LICENSE_NOTES ("other")
    endpoint_url: str = ""
    inputs: tuple[str, ...] | None = None  # modalities, when the task's defaults do not fit
    outputs: tuple[str, ...] | None = None

    @property
    def slug(self) -> str:
        base = slugify(self.external_id.replace("/", "-").replace(".", "-").replace("_", "-"))
        return base if self.source == Source.HUGGINGFACE else f"{base}-{self.source.replace('_', '-')}"[:120]

    @property
    def page_url(self) -> str:
        if self.source == Source.HUGGINGFACE:
            return f"https://huggingface.co/{self.external_id}"
        if self.source == Source.REPLICATE:
            return f"https://replicate.com/{self.external_id}"
        return self.endpoint_url

    def modalities(self) -> tuple[list[str], list[str]]:
        inputs, outputs = TASK_MODALITIES[self.task]
        return [str(value) for value in self.inputs or inputs], [
            str(value) for value in self.outputs or outputs
        ]


def card_markdown(listing: Listing) -> str:
    provider = PROVIDER_NAMES[listing.source]
    license_text = listing.license_note or LICENSE_NOTES[listing.license]
    if listing.source == Source.OPENAI_COMPATIBLE:
        running = (
            f"**Example listing.** It shows how an OpenAI-compatible server is listed: model `{listing.external_id}` "
            f"at `{listing.endpoint_url}`. Calls go through the gateway to that API once the marketplace operator "
            "has configured a key for it; until then it cannot be called here."
        )
    else:
        running = (
            f"Served by {provider} as [`{listing.external_id}`]({listing.page_url}). ModelMarket stores no weights "
            f"for this listing: calls go through the gateway to {provider} once the marketplace operator has "
            f"configured {provider} credentials; until then it cannot be called here."
        )
    return (
        f"# {listing.name}\n\n{listing.summary}\n\n{listing.description}\n\n"
        f"## Intended use\n\n{listing.intended_use}\n\n"
        f"## Limitations\n\n{listing.limitations}\n\n"
        f"## Running it\n\n{running}\n\n"
        f"## License\n\n`{listing.license}` — {license_text} Read the full licence on the provider's page before "
        "relying on it.\n\n"
        f"---\n\n*Demo listing in ModelMarket's demo catalog, written from the public model card; the provider's page "
        "is authoritative. Download, favourite and rating figures are demo data.*\n"
    )


def runtime(listing: Listing) -> dict[str, Any]:
    result: dict[str, Any] = {
        "provider": listing.source,
        "model_id": listing.external_id,
        "task": listing.task,
    }
    if listing.endpoint_url:
        result["base_url"] = listing.endpoint_url
    return result


_TEXT = {"type": "string", "minLength": 1}
_MESSAGES = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "properties": {"role": {"enum": ["system", "user", "assistant"]}, "content": {"type": "string"}},
        "required": ["role", "content"],
    },
}
_FILE_URL = {"type": "string", "format": "uri", "description": "An https URL or a data: URL."}
_LABELS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"label": {"type": "string"}, "score": {"type": "number", "minimum": 0, "maximum": 1}},
    },
}

# Request and response shapes per task, as the gateway's task adapters present them.
TASK_SCHEMAS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    Task.CHAT: (
        {"messages": _MESSAGES, "max_tokens": {"type": "integer", "minimum": 1}},
        {"text": _TEXT, "finish_reason": {"type": "string"}},
    ),
    Task.TEXT_GENERATION: (
        {"prompt": _TEXT, "max_tokens": {"type": "integer", "minimum": 1}},
        {"text": _TEXT},
    ),
    Task.TEXT_CLASSIFICATION: ({"text": _TEXT}, {"labels": _LABELS}),
    Task.TOKEN_CLASSIFICATION: (
        {"text": _TEXT},
        {"entities": {"type": "array", "items": {"type": "object"}}},
    ),
    Task.EMBEDDINGS: (
        {"input": {"oneOf": [_TEXT, {"type": "array", "items": _TEXT}]}},
        {"embeddings": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}},
    ),
    Task.IMAGE_CLASSIFICATION: ({"image": _FILE_URL}, {"labels": _LABELS}),
    Task.OBJECT_DETECTION: (
        {"image": _FILE_URL},
        {"detections": {"type": "array", "items": {"type": "object"}}},
    ),
    Task.TEXT_TO_IMAGE: ({"prompt": _TEXT}, {"images": {"type": "array", "items": _FILE_URL}}),
    Task.SPEECH_TO_TEXT: ({"audio": _FILE_URL}, {"text": _TEXT}),
    Task.SUMMARIZATION: ({"text": _TEXT}, {"summary": _TEXT}),
    Task.TRANSLATION: ({"text": _TEXT}, {"translation": _TEXT}),
    Task.TEXT_TO_SPEECH: ({"text": _TEXT}, {"audio": _FILE_URL}),
}


def _object(properties: dict[str, Any], required: int = 1) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(properties)[:required]}


def input_schema(listing: Listing) -> dict[str, Any]:
    return _object(TASK_SCHEMAS[listing.task][0])


def output_schema(listing: Listing) -> dict[str, Any]:
    return _object(TASK_SCHEMAS[listing.task][1])


DOWNLOADS_BY_POPULARITY = (0, 1_500, 12_000, 85_000, 640_000, 3_200_000)


def demo_counters(*, slug: str, popularity: int) -> dict[str, Any]:
    """Plausible, clearly fake statistics, stable per listing (derived from its slug)."""
    spread = int(hashlib.sha256(slug.encode()).hexdigest()[:8], 16)
    downloads = DOWNLOADS_BY_POPULARITY[popularity] * (60 + spread % 80) // 100
    rating_count = max(3, downloads // 9000 + spread % 40)
    return {
        "download_count": downloads,
        "call_count": downloads // (8 + spread % 12),
        "favorite_count": downloads // (150 + spread % 250),
        "rating_count": rating_count,
        "rating_average": Decimal(360 + spread % 130) / 100,
    }


def all_listings() -> tuple[Listing, ...]:
    from modelmarket.catalog.demo.listings.examples import EXAMPLE_LISTINGS
    from modelmarket.catalog.demo.listings.huggingface import HUGGINGFACE_TEXT_LISTINGS
    from modelmarket.catalog.demo.listings.huggingface_media import HUGGINGFACE_MEDIA_LISTINGS
    from modelmarket.catalog.demo.listings.replicate import REPLICATE_LISTINGS

    return HUGGINGFACE_TEXT_LISTINGS + HUGGINGFACE_MEDIA_LISTINGS + REPLICATE_LISTINGS + EXAMPLE_LISTINGS
