"""Model cards and changelogs: markdown written by creators, rendered to HTML that is safe to put in our pages.

Two layers: markdown-it-py renders CommonMark (plus tables and strikethrough) with raw HTML off, so `<script>` in a
card is shown as text; then nh3 (the Rust `ammonia` sanitizer) keeps only an allow-list of tags and attributes,
only http(s)/mailto links (`javascript:`, `data:` and the rest are dropped) and marks every link
`rel="nofollow noopener noreferrer"`. Rendering is cached by content hash."""

from __future__ import annotations

import hashlib

import nh3
from django.core.cache import cache
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "code": {"class"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow noopener noreferrer"
CACHE_SECONDS = 24 * 3600

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)


def _clean(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel=LINK_REL,
        strip_comments=True,
    )


def render_markdown(text: str) -> SafeString:
    """Sanitized HTML for `text` (markdown). Safe to output unescaped."""
    if not text.strip():
        return mark_safe("")
    key = "md:v1:" + hashlib.sha256(text.encode()).hexdigest()
    html = cache.get(key)
    if html is None:
        html = _clean(_markdown.render(text))
        cache.set(key, html, CACHE_SECONDS)
    return mark_safe(html)  # noqa: S308 - sanitized by nh3 above
