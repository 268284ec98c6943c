"""Realistic, varied catalog rows for the benchmark (and for looking at pages with many models): names built from
real model families, sizes and variants; summaries, cards and tags that fit each task; power-law popularity."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

FAMILIES = {
    "text-generation": [
        "Llama",
        "Mistral",
        "Qwen",
        "Phi",
        "Gemma",
        "Falcon",
        "OLMo",
        "StarCoder",
        "DeepSeek",
        "Yi",
    ],
    "chat": [
        "Llama Chat",
        "Mistral Instruct",
        "Qwen Chat",
        "Zephyr",
        "OpenHermes",
        "Vicuna",
        "Gemma Instruct",
    ],
    "text-classification": [
        "BERT",
        "RoBERTa",
        "DistilBERT",
        "DeBERTa",
        "ELECTRA",
        "XLM-RoBERTa",
        "ModernBERT",
    ],
    "token-classification": ["BERT NER", "SpanMarker", "GLiNER", "Flair NER", "CamemBERT NER"],
    "embeddings": ["MiniLM", "BGE", "E5", "GTE", "Nomic Embed", "Jina Embeddings", "Instructor"],
    "image-classification": ["ViT", "ResNet", "ConvNeXt", "EfficientNet", "Swin", "DINOv2", "MobileNet"],
    "tabular-classification": ["XGBoost", "LightGBM", "TabNet", "Random Forest", "CatBoost"],
    "tabular-regression": ["Gradient Boosting", "Ridge", "TabPFN", "ElasticNet", "LightGBM Regressor"],
    "text-to-image": ["Stable Diffusion", "SDXL", "Kandinsky", "PixArt", "FLUX", "Playground"],
    "speech-to-text": ["Whisper", "Wav2Vec2", "Distil-Whisper", "Parakeet", "Canary"],
    "summarization": ["BART", "PEGASUS", "LED", "T5 Summarizer", "LongT5"],
    "translation": ["MarianMT", "NLLB", "M2M100", "Opus MT", "MADLAD"],
    "object-detection": ["YOLO", "DETR", "RT-DETR", "Faster R-CNN", "OWL-ViT"],
    "text-to-speech": ["Bark", "SpeechT5", "Parler TTS", "XTTS", "Piper"],
}
SIZES = [
    "",
    "Tiny",
    "Small",
    "Base",
    "Large",
    "XL",
    "1B",
    "3B",
    "7B",
    "8B",
    "13B",
    "34B",
    "70B",
    "v2",
    "v3",
    "2.5",
]
VARIANTS = [
    "",
    "Instruct",
    "Chat",
    "Distilled",
    "Quantized",
    "GGUF Q4",
    "Finetuned",
    "Multilingual",
    "Med",
    "Legal",
    "Finance",
    "Code",
    "Uncensored",
    "Turbo",
    "Lite",
    "ONNX",
    "Sentiment",
    "Long Context",
]
DOMAINS = [
    "customer support",
    "medical notes",
    "legal contracts",
    "financial news",
    "product reviews",
    "tweets",
    "scientific papers",
    "source code",
    "e-commerce listings",
    "news articles",
    "podcasts",
    "call centre audio",
    "satellite images",
    "retail shelves",
    "insurance claims",
    "chemistry papers",
    "game dialogue",
]
LANGUAGES = ["english", "french", "german", "spanish", "chinese", "japanese", "arabic", "hindi", "portuguese"]
TASK_TAGS = {
    "text-generation": ["llm", "causal-lm", "code", "reasoning", "long-context"],
    "chat": ["llm", "chat", "instruct", "assistant", "rlhf"],
    "text-classification": ["sentiment", "nlp", "bert", "moderation", "intent"],
    "token-classification": ["ner", "nlp", "pii", "pos-tagging"],
    "embeddings": ["sentence-similarity", "retrieval", "rag", "semantic-search"],
    "image-classification": ["vision", "imagenet", "cnn", "transformer"],
    "tabular-classification": ["tabular", "gradient-boosting", "scikit-learn", "fraud"],
    "tabular-regression": ["tabular", "forecasting", "scikit-learn", "pricing"],
    "text-to-image": ["diffusion", "art", "image-generation", "lora"],
    "speech-to-text": ["asr", "audio", "transcription", "whisper"],
    "summarization": ["summarization", "nlp", "seq2seq"],
    "translation": ["translation", "multilingual", "seq2seq"],
    "object-detection": ["vision", "detection", "yolo", "realtime"],
    "text-to-speech": ["tts", "audio", "voice"],
}
GENERAL_TAGS = [
    "onnx",
    "pytorch",
    "safetensors",
    "gguf",
    "quantized",
    "edge",
    "gpu",
    "cpu-friendly",
    "research",
    "production",
    "apache",
    "open-weights",
    "fine-tuned",
    "benchmark",
    "low-latency",
]
LICENSES = [
    ("apache-2.0", 30),
    ("mit", 20),
    ("cc-by-4.0", 8),
    ("cc-by-nc-4.0", 8),
    ("llama3.1", 6),
    ("openrail", 6),
    ("gemma", 4),
    ("bsd-3-clause", 4),
    ("gpl-3.0", 3),
    ("cc-by-sa-4.0", 3),
    ("agpl-3.0", 2),
    ("proprietary", 4),
    ("other", 2),
]
NON_COMMERCIAL = {"cc-by-nc-4.0", "proprietary", "other"}
SOURCES = [("uploaded", 45), ("huggingface", 35), ("replicate", 12), ("openai_compatible", 8)]
STATUSES = [("published", 88), ("deprecated", 3), ("draft", 5), ("pending_review", 2), ("rejected", 2)]
SUMMARY_TEMPLATES = [
    "{family} {variant} tuned for {domain}, in {language}.",
    "A {size} {family} model for {task_text} on {domain}.",
    "{task_text_cap} for {domain}: fast, accurate and easy to deploy.",
    "Open {family} weights, fine-tuned on {domain} ({language}).",
]


@dataclass
class Row:
    name: str
    summary: str
    card: str
    task: str
    license: str
    commercial_use: bool
    source: str
    status: str
    pricing: str
    tags: list[str]
    downloads: int
    calls: int
    favorites: int
    rating: Decimal
    rating_count: int
    trending: float
    published_at: datetime | None


def _weighted(rng: random.Random, pairs: list[tuple[str, int]]) -> str:
    return rng.choices([value for value, _ in pairs], weights=[weight for _, weight in pairs])[0]


def make_row(rng: random.Random, number: int, now: datetime) -> Row:
    task = rng.choice(list(FAMILIES))
    family = rng.choice(FAMILIES[task])
    size, variant = rng.choice(SIZES), rng.choice(VARIANTS)
    name = " ".join(part for part in (family, size, variant) if part)
    if rng.random() < 0.6:
        name += f" {rng.choice(['', 'v', 'r'])}{number % 997}"
    domain, language = rng.choice(DOMAINS), rng.choice(LANGUAGES)
    task_text = task.replace("-", " ")
    summary = rng.choice(SUMMARY_TEMPLATES).format(
        family=family,
        variant=variant or "base",
        domain=domain,
        language=language,
        size=size or "compact",
        task_text=task_text,
        task_text_cap=task_text.capitalize(),
    )
    license_id = _weighted(rng, LICENSES)
    tags = rng.sample(TASK_TAGS[task], k=min(len(TASK_TAGS[task]), rng.randint(1, 3)))
    tags += rng.sample(GENERAL_TAGS, k=rng.randint(0, 2)) + ([language] if rng.random() < 0.5 else [])
    popularity = rng.paretovariate(1.2)
    status = _weighted(rng, STATUSES)
    card = (
        f"# {name}\n\n{summary}\n\n## Intended use\n\n{task_text.capitalize()} on {domain}. Evaluated on a held-out "
        f"set of {rng.randint(1, 90)}k examples in {language}.\n\n## Training\n\nStarted from {family}; trained "
        f"for {rng.randint(1, 20)} epochs on {domain}.\n\n## Limitations\n\nMay underperform outside {domain}.\n"
    )
    rating_count = int(rng.paretovariate(1.5)) - 1
    return Row(
        name=name[:120],
        summary=summary[:300],
        card=card,
        task=task,
        license=license_id,
        commercial_use=license_id not in NON_COMMERCIAL and rng.random() < 0.9,
        source=_weighted(rng, SOURCES),
        status=status,
        pricing="paid" if rng.random() < 0.3 else "free",
        tags=list(dict.fromkeys(tags)),
        downloads=int(popularity * 40),
        calls=int(popularity * rng.randint(0, 400)),
        favorites=int(popularity * 2),
        rating=Decimal(str(round(rng.uniform(2.5, 5.0), 2))) if rating_count else Decimal("0"),
        rating_count=max(rating_count, 0),
        trending=round(popularity * rng.random(), 4),
        published_at=now - timedelta(minutes=rng.randint(0, 2 * 365 * 24 * 60))
        if status in ("published", "deprecated")
        else None,
    )


def generate(count: int, seed: int = 7) -> list[Row]:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    now = datetime.now(UTC)
    return [make_row(rng, number, now) for number in range(count)]
