"""Example listings of public OpenAI-compatible APIs: they show how such a server is listed. Labelled as examples in
their names and cards; the endpoint URLs are the vendors' documented public API bases."""

from __future__ import annotations

from modelmarket.catalog.demo.listings import Listing
from modelmarket.catalog.vocabulary import Source, Task

EXAMPLE_LISTINGS = (
    Listing(
        Source.OPENAI_COMPATIBLE,
        "llama-3.1-8b-instant",
        "Example: Llama 3.1 8B Instant via Groq",
        Task.CHAT,
        "llama3.1",
        True,
        summary="Example OpenAI-compatible listing: Meta's Llama 3.1 8B served by Groq's OpenAI-compatible API.",
        description="Groq serves open models on its own inference hardware behind an OpenAI-compatible "
        "`/chat/completions` endpoint.",
        intended_use="Showing how a listing points at an OpenAI-compatible server; low-latency chat.",
        limitations="Can state false things fluently; the vendor's rate limits and terms apply.",
        tags=("example", "llm", "llama", "openai-compatible"),
        popularity=2,
        endpoint_url="https://api.groq.com/openai/v1",
    ),
    Listing(
        Source.OPENAI_COMPATIBLE,
        "gpt-4o-mini",
        "Example: GPT-4o mini via the OpenAI API",
        Task.CHAT,
        "proprietary",
        True,
        summary="Example OpenAI-compatible listing: OpenAI's GPT-4o mini through the OpenAI API itself.",
        description="A small, inexpensive multimodal model from OpenAI; this listing uses its text chat.",
        intended_use="Showing how a listing points at an OpenAI-compatible server; inexpensive chat.",
        limitations="Can state false things fluently. API-only: OpenAI's terms and usage policies apply.",
        tags=("example", "llm", "openai", "openai-compatible", "api-only"),
        popularity=2,
        endpoint_url="https://api.openai.com/v1",
    ),
)
