"""Relevance for a single word still being typed ('instr' on the way to 'instruct'), shared by both backends.

A search whose text is one plain word matches it as the beginning of words. When no public listing has that word
whole, the person has not finished typing it, and its completions give nothing to rank by: ranking them by how often
any completion occurs meant reading and ranking every match (~9,500 of 100,000 listings for 'instr', the slowest
search of the benchmark). Its matches come in two tiers instead: listings whose name has a word starting with it,
then the others, newest first within each (as ties break in every order). Each tier is read in id order and stops at
the page, so the cost follows the page, not the number of matches. A finished word ranks by relevance as any text.

A page's relevance cursor carries the tier as its value: NAME_TIER or OTHER_TIER."""

from __future__ import annotations

from modelmarket.catalog.selectors.search.cursors import decode_cursor
from modelmarket.catalog.selectors.search.params import WORD, ModelSearch

NAME_TIER = 1.0
OTHER_TIER = 0.0


def lone_word(text: str) -> str | None:
    """`text`, lower-cased, when it is a single plain word (word characters only); None otherwise."""
    return text.lower() if WORD.fullmatch(text) else None


def tier_after_cursor(search: ModelSearch, tier: float) -> tuple[bool, int | None]:
    """Whether the page `search` asks for can hold listings of `tier`, and the id they must be below (None: any).
    A cursor inside a tier continues it; tiers after the cursor's come whole; tiers before it are done."""
    if not search.cursor:
        return True, None
    value, last_id = decode_cursor(search.cursor, search.sort)
    if tier < value:
        return True, None
    if tier == value:
        return True, last_id
    return False, None
