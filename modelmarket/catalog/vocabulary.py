"""The catalog's fixed vocabularies. The inference gateway reads the same task list to pick request shapes."""

from __future__ import annotations

from django.db import models


class Task(models.TextChoices):
    TEXT_GENERATION = "text-generation", "Text generation"
    CHAT = "chat", "Chat"
    TEXT_CLASSIFICATION = "text-classification", "Text classification"
    TOKEN_CLASSIFICATION = "token-classification", "Token classification"
    EMBEDDINGS = "embeddings", "Embeddings"
    IMAGE_CLASSIFICATION = "image-classification", "Image classification"
    TABULAR_CLASSIFICATION = "tabular-classification", "Tabular classification"
    TABULAR_REGRESSION = "tabular-regression", "Tabular regression"
    TEXT_TO_IMAGE = "text-to-image", "Text to image"
    SPEECH_TO_TEXT = "speech-to-text", "Speech to text"
    SUMMARIZATION = "summarization", "Summarization"
    TRANSLATION = "translation", "Translation"
    OBJECT_DETECTION = "object-detection", "Object detection"
    TEXT_TO_SPEECH = "text-to-speech", "Text to speech"


class Modality(models.TextChoices):
    TEXT = "text", "Text"
    IMAGE = "image", "Image"
    AUDIO = "audio", "Audio"
    TABULAR = "tabular", "Tabular"
    VECTOR = "vector", "Vector"
    LABEL = "label", "Label"
    NUMBER = "number", "Number"


class Source(models.TextChoices):
    UPLOADED = "uploaded", "Uploaded files"
    HUGGINGFACE = "huggingface", "Hugging Face"
    REPLICATE = "replicate", "Replicate"
    OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible server"


class ModelStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING_REVIEW = "pending_review", "Pending review"
    PUBLISHED = "published", "Published"
    DEPRECATED = "deprecated", "Deprecated"
    REJECTED = "rejected", "Rejected"


class Pricing(models.TextChoices):
    """What the catalog's price badge and `pricing` filter show; billing keeps it current from the model's plans."""

    FREE = "free", "Free"
    PAID = "paid", "Paid"


class FileFormat(models.TextChoices):
    ONNX = "onnx", "ONNX"
    SAFETENSORS = "safetensors", "safetensors"
    PICKLE = "pickle", "Pickle (download only)"
    OTHER = "other", "Other"


class ValidationStatus(models.TextChoices):
    PENDING = "pending", "Waiting for validation"
    VALID = "valid", "Valid"
    DOWNLOAD_ONLY = "download_only", "Download only (not executable)"
    INVALID = "invalid", "Failed validation"


# Common SPDX licence ids offered in forms; any valid-looking SPDX id is accepted.
COMMON_LICENSES = [
    "apache-2.0",
    "mit",
    "bsd-3-clause",
    "cc-by-4.0",
    "cc-by-sa-4.0",
    "cc-by-nc-4.0",
    "cc-by-nc-sa-4.0",
    "gpl-3.0",
    "agpl-3.0",
    "openrail",
    "openrail++",
    "llama3.1",
    "llama3.2",
    "gemma",
    "other",
    "proprietary",
]
