"""Parsing of HTTP response headers that say when to call again (`Retry-After`, IETF `RateLimit`). No HTTP client
here: the gateway's aiohttp providers use these too, and importing httpx (which loads pygments and rich for its
command line when they are installed) cost each gateway worker about 3 MB."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date. None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def parse_ratelimit_header(value: str) -> list[dict[str, str]]:
    """The items of an IETF `RateLimit` header, each as its parameters: `"api";r=0;t=120` → [{"name": "api",
    "r": "0", "t": "120"}]. The older draft form `limit=500, remaining=0, reset=30` comes back as one item."""
    if "remaining=" in value and ";" not in value:
        pairs = dict(part.strip().split("=", 1) for part in value.split(",") if "=" in part)
        return [{"r": pairs.get("remaining", ""), "t": pairs.get("reset", "")}]
    items = []
    for raw_item in value.split(","):
        parts = [part.strip() for part in raw_item.split(";")]
        item = {"name": parts[0].strip('"')}
        for parameter in parts[1:]:
            key, _, parameter_value = parameter.partition("=")
            item[key.strip()] = parameter_value.strip().strip('"')
        items.append(item)
    return items
