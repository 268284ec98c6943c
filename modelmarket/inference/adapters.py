"""Task adapters: the native API speaks one shape per task (the task schemas the catalog's provider listings carry,
`catalog/demo/listings` `TASK_SCHEMAS`), whatever the provider behind it answers.

    text-classification  {"text"}  → {"labels": [{"label", "score"}, ...]}   (best first)
    token-classification {"text"}  → {"entities": [...]}
    embeddings           {"input"} → {"embeddings": [[...], ...]}
    summarization        {"text"}  → {"summary"}
    translation          {"text"}  → {"translation"}
    image-classification {"image"} → {"labels": [...]};  object-detection {"image"} → {"detections": [...]}
    speech-to-text       {"audio"} → {"text"}
    text-to-image        {"prompt"} → {"images": [urls]}  (Replicate; Hugging Face answers raw image bytes: refused)
    chat / text-generation: the provider's own {"text", "finish_reason"}

Uploaded (local ONNX) models define their own schemas and pass through untouched."""

from __future__ import annotations

from typing import Any

from modelmarket.catalog.vocabulary import Task
from modelmarket.inference.providers.base import NotSupported, Target, UpstreamBadResponse

# The one field of the task's input object that Hugging Face's task endpoint takes as `inputs`.
HF_INPUT_FIELD: dict[str, str] = {
    Task.TEXT_CLASSIFICATION: "text",
    Task.TOKEN_CLASSIFICATION: "text",
    Task.SUMMARIZATION: "text",
    Task.TRANSLATION: "text",
    Task.EMBEDDINGS: "input",
    Task.IMAGE_CLASSIFICATION: "image",
    Task.OBJECT_DETECTION: "image",
    Task.SPEECH_TO_TEXT: "audio",
}
# Tasks whose Hugging Face answer is a binary file, which the native API does not relay.
HF_BINARY_TASKS = frozenset({Task.TEXT_TO_IMAGE, Task.TEXT_TO_SPEECH})
CHAT_TASKS = frozenset({Task.CHAT, Task.TEXT_GENERATION})


def adapts(target: Target) -> bool:
    return target.provider in ("huggingface", "replicate") and target.task not in CHAT_TASKS


def provider_input(target: Target, value: Any) -> Any:
    """The input to send: Hugging Face's task endpoint takes the bare value as `inputs`; Replicate takes the input
    object as it is (the model's own parameters)."""
    if target.provider != "huggingface" or target.task in CHAT_TASKS:
        return value
    if target.task in HF_BINARY_TASKS:
        raise NotSupported(
            f"{target.task} models on Hugging Face answer with files, which this API does not relay yet."
        )
    field = HF_INPUT_FIELD.get(target.task)
    if field and isinstance(value, dict) and field in value:
        return value[field]
    return value


def task_output(target: Target, raw: Any) -> Any:
    """The provider's answer in the task's output shape. Raises UpstreamBadResponse when it has an unexpected shape."""
    if not adapts(target):
        return raw
    try:
        return _shape(target.task, raw)
    except (TypeError, KeyError, IndexError, AttributeError) as exc:
        raise UpstreamBadResponse(
            f"The provider answered a {target.task} call in an unexpected shape."
        ) from exc


def _flat(raw: Any) -> list[Any]:
    """Hugging Face nests per-input lists ([[...]]) for one input; take the first."""
    if isinstance(raw, list) and raw and isinstance(raw[0], list):
        return list(raw[0])
    return list(raw) if isinstance(raw, list) else [raw]


def _shape(task: str, raw: Any) -> Any:
    if task in (Task.TEXT_CLASSIFICATION, Task.IMAGE_CLASSIFICATION):
        labels = [{"label": str(item["label"]), "score": float(item["score"])} for item in _flat(raw)]
        return {"labels": sorted(labels, key=lambda item: -item["score"])}
    if task == Task.TOKEN_CLASSIFICATION:
        return {"entities": _flat(raw)}
    if task == Task.OBJECT_DETECTION:
        return {"detections": _flat(raw)}
    if task == Task.EMBEDDINGS:
        vectors = raw if isinstance(raw, list) and raw and isinstance(raw[0], list) else [raw]
        return {"embeddings": [[float(number) for number in vector] for vector in vectors]}
    if task == Task.SUMMARIZATION:
        return {"summary": _text_of(raw, "summary_text")}
    if task == Task.TRANSLATION:
        return {"translation": _text_of(raw, "translation_text")}
    if task == Task.SPEECH_TO_TEXT:
        return {"text": _text_of(raw, "text", "transcription")}
    if task == Task.TEXT_TO_IMAGE:
        images = raw if isinstance(raw, list) else [raw]
        return {"images": [str(image) for image in images]}
    return raw


def _text_of(raw: Any, *keys: str) -> str:
    item = raw[0] if isinstance(raw, list) and raw else raw
    if isinstance(item, str):
        return item
    for key in keys:
        if isinstance(item, dict) and isinstance(item.get(key), str):
            return str(item[key])
    raise KeyError(keys[0])
