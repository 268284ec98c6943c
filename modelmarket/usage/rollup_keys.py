"""The day arithmetic of `ModelBuyerDays`: 60-day windows numbered from 1970-01-01 (UTC), a bit per day."""

from __future__ import annotations

from datetime import date

from modelmarket.usage.models import BUYER_WINDOW_DAYS

EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def buyer_window_bit(day: date) -> tuple[int, int]:
    """The window holding `day`, and the day's bit in it."""
    number = day.toordinal() - EPOCH_ORDINAL
    return number // BUYER_WINDOW_DAYS, 1 << (number % BUYER_WINDOW_DAYS)


def buyer_window_masks(first: date, last: date) -> list[tuple[int, int]]:
    """(window, mask of the days in [first, last]) for every window the range touches."""
    start, end = first.toordinal() - EPOCH_ORDINAL, last.toordinal() - EPOCH_ORDINAL
    masks = []
    for window in range(start // BUYER_WINDOW_DAYS, end // BUYER_WINDOW_DAYS + 1):
        offset = window * BUYER_WINDOW_DAYS
        low, high = max(start, offset) - offset, min(end, offset + BUYER_WINDOW_DAYS - 1) - offset
        masks.append((window, (1 << (high + 1)) - (1 << low)))
    return masks
