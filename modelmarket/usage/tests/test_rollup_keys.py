from __future__ import annotations

from datetime import date, timedelta

from modelmarket.usage.models import BUYER_WINDOW_DAYS
from modelmarket.usage.rollup_keys import buyer_window_bit, buyer_window_masks


def test_days_map_to_a_window_and_a_bit_counted_from_1970():
    assert buyer_window_bit(date(1970, 1, 1)) == (0, 1)
    assert buyer_window_bit(date(1970, 3, 1)) == (0, 1 << 59)  # day 59
    assert buyer_window_bit(date(1970, 3, 2)) == (1, 1)  # day 60 opens the next window


def test_a_range_inside_one_window_is_one_mask():
    first = date(1970, 1, 3)
    assert buyer_window_masks(first, first + timedelta(days=2)) == [(0, 0b11100)]


def test_a_range_across_windows_has_a_mask_per_window():
    masks = buyer_window_masks(date(1970, 2, 28), date(1970, 5, 2))  # days 58 to 121
    assert masks == [(0, (1 << 58) | (1 << 59)), (1, (1 << BUYER_WINDOW_DAYS) - 1), (2, 0b11)]


def test_every_day_of_a_range_is_in_exactly_one_mask():
    first, last = date(2026, 1, 5), date(2026, 4, 6)
    masks = dict(buyer_window_masks(first, last))
    day = first
    while day <= last:
        window, bit = buyer_window_bit(day)
        assert masks[window] & bit
        day += timedelta(days=1)
    assert sum(bin(mask).count("1") for mask in masks.values()) == (last - first).days + 1
