"""The money module: parsing refuses what is not an exact amount, splitting always adds up, formatting is stable."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelmarket.billing.money import (
    MAX_AMOUNT_MINOR,
    Money,
    convert_decimals,
    currency_decimals,
    format_amount,
    format_money,
    from_minor,
    round_minor,
    split_fee,
    split_proportionally,
    to_minor,
)
from modelmarket.core.exceptions import ValidationFailed


# --- to_minor / from_minor ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("amount", "decimals", "expected"),
    [
        ("12.5", 6, 12_500_000),
        ("0.000001", 6, 1),
        ("1", 18, 10**18),
        ("123456789.123456789123456789", 18, 123_456_789_123_456_789_123_456_789),
        (Decimal("0.01"), 2, 1),
        (7, 8, 700_000_000),
        ("0", 9, 0),
        ("1.50", 1, 15),  # trailing zeros beyond the currency's places are not a fraction of a minor unit
    ],
)
def test_to_minor_converts_exact_amounts(amount, decimals, expected):
    assert to_minor(amount, decimals) == expected


@pytest.mark.parametrize(
    ("amount", "decimals"), [("0.0000001", 6), ("0.001", 2), ("1.5", 0), ("1e-19", 18), (Decimal("0.123"), 2)]
)
def test_to_minor_refuses_fractions_of_a_minor_unit(amount, decimals):
    with pytest.raises(ValidationFailed) as raised:
        to_minor(amount, decimals)
    assert raised.value.code == "amount_precision"


@pytest.mark.parametrize("amount", ["-1", "-0.000001", Decimal("-5"), -3])
def test_to_minor_refuses_negative_amounts(amount):
    with pytest.raises(ValidationFailed) as raised:
        to_minor(amount, 6)
    assert raised.value.code == "negative_amount"


@pytest.mark.parametrize(
    "amount", ["NaN", "nan", "Infinity", "-Infinity", Decimal("NaN"), "", "twelve", "1,5", "0x10"]
)
def test_to_minor_refuses_what_is_not_a_number(amount):
    with pytest.raises(ValidationFailed) as raised:
        to_minor(amount, 6)
    assert raised.value.code == "invalid_amount"


def test_to_minor_refuses_absurd_sizes():
    with pytest.raises(ValidationFailed) as raised:
        to_minor("1e40", 0)
    assert raised.value.code == "amount_too_large"


# Decimal's default context keeps 28 significant digits, and `scaleb` rounds to it: 10**28 minor units is ten
# billion ETH, far beyond any real amount, so the property below covers every amount that can occur.
EXACT_DIGITS = 28


@given(st.integers(min_value=0, max_value=10**EXACT_DIGITS - 1), st.integers(min_value=0, max_value=18))
def test_from_minor_and_to_minor_round_trip_exactly(amount_minor, decimals):
    assert to_minor(from_minor(amount_minor, decimals), decimals) == amount_minor
    assert to_minor(str(from_minor(amount_minor, decimals)), decimals) == amount_minor
    assert to_minor(format_amount(amount_minor, decimals), decimals) == amount_minor


def test_to_minor_is_exact_beyond_28_digits():
    assert to_minor("12345678901234567890.123456789012345678", 18) == 12345678901234567890123456789012345678
    with pytest.raises(ValidationFailed) as raised:
        to_minor("1.0000000000000000000000000001", 27)  # the default 28-digit context would round this away
    assert raised.value.code == "amount_precision"


@pytest.mark.parametrize(
    "check",
    [
        lambda: (
            format_amount(12345678901234567890123456789012345678, 18)
            == "12345678901234567890.123456789012345678"
        ),
        lambda: from_minor(10**37 + 1, 18) == Decimal("10000000000000000000.000000000000000001"),
        lambda: (
            split_fee(12345678901234567890123456789012345678, 1500)[1]
            == 1851851835185185183518518518351851852
        ),
    ],
    ids=["format_amount", "from_minor", "split_fee"],
)
def test_amounts_beyond_28_digits_are_exact(check):
    assert check()


# --- currencies ---------------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_currency_decimals_come_from_the_currency_table():
    assert [currency_decimals(code) for code in ("USD", "USDC", "SOL", "ETH", "BTC")] == [2, 6, 9, 18, 8]
    assert currency_decimals("usdc") == 6


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["XYZ", "", "DOGECOINXYZ", None, 5])
def test_currency_decimals_refuses_unknown_currencies(code):
    with pytest.raises(ValidationFailed) as raised:
        currency_decimals(code)
    assert raised.value.code == "unknown_currency"


@pytest.mark.django_db
def test_format_money_refuses_unknown_currencies():
    with pytest.raises(ValidationFailed) as raised:
        format_money(100, "XYZ")
    assert raised.value.code == "unknown_currency"


# --- formatting ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("amount_minor", "decimals", "expected"),
    [
        (12_500_000, 6, "12.50"),
        (12_345_678, 6, "12.345678"),
        (1, 6, "0.000001"),
        (0, 6, "0.00"),
        (100, 2, "1.00"),
        (5, 2, "0.05"),
        (7, 0, "7"),
        (10**18, 18, "1.00"),
        (2**64, 18, "18.446744073709551616"),
        (150_000_000, 8, "1.50"),
        (-2_500_000, 6, "-2.50"),
    ],
)
def test_format_amount(amount_minor, decimals, expected):
    assert format_amount(amount_minor, decimals) == expected


@pytest.mark.django_db
def test_format_money_names_the_currency():
    assert format_money(12_500_000, "USDC") == "12.50 USDC"
    assert format_money(123_456_789_000_000_000_000, "ETH") == "123.456789 ETH"
    assert str(Money(250, "USD")) == "2.50 USD"


# --- rounding and splitting ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (Decimal("1.5"), 2),
        (Decimal("2.5"), 3),
        (Decimal("2.4999"), 2),
        (Decimal("0.5"), 1),
        (Decimal("0"), 0),
    ],
)
def test_round_minor_rounds_half_up(amount, expected):
    assert round_minor(amount) == expected


@pytest.mark.parametrize(
    ("amount_minor", "fee_bps", "expected"),
    [
        (10_000_000, 1500, (8_500_000, 1_500_000)),
        (1, 1500, (1, 0)),
        (4, 1500, (3, 1)),  # 0.6 rounds half up to 1
        (10, 1500, (8, 2)),  # 1.5 rounds half up to 2
        (100, 0, (100, 0)),
        (100, 10_000, (0, 100)),
    ],
)
def test_split_fee(amount_minor, fee_bps, expected):
    assert split_fee(amount_minor, fee_bps) == expected


@given(st.integers(min_value=0, max_value=MAX_AMOUNT_MINOR), st.integers(min_value=0, max_value=10_000))
def test_split_fee_always_adds_up(amount_minor, fee_bps):
    share, fee = split_fee(amount_minor, fee_bps)
    assert share + fee == amount_minor
    assert 0 <= fee <= amount_minor
    assert 0 <= share <= amount_minor


@given(st.integers(min_value=0, max_value=10**24), st.integers(min_value=0, max_value=10_000))
def test_split_fee_rounds_the_fee_half_up_exactly(amount_minor, fee_bps):
    """Exact for any amount (integer arithmetic)."""
    _, fee = split_fee(amount_minor, fee_bps)
    assert fee == (2 * amount_minor * fee_bps + 10_000) // 20_000


@pytest.mark.parametrize("fee_bps", [-1, 10_001])
def test_split_fee_refuses_fees_outside_zero_to_one_hundred_percent(fee_bps):
    with pytest.raises(ValueError, match="fee_bps"):
        split_fee(100, fee_bps)


@pytest.mark.parametrize(
    ("amount_minor", "parts", "expected"),
    [
        (100, [85, 15], [85, 15]),
        (50, [85, 15], [43, 7]),  # 42.5 and 7.5: the remainders tie, the first part takes the unit
        (1, [1, 1, 1], [1, 0, 0]),
        (2, [1, 1, 1], [1, 1, 0]),
        (10, [3, 3, 4], [3, 3, 4]),
        (7, [10], [7]),
        (0, [5, 5], [0, 0]),
    ],
)
def test_split_proportionally_examples(amount_minor, parts, expected):
    assert split_proportionally(amount_minor, parts) == expected


@given(
    st.lists(st.integers(min_value=0, max_value=10**30), min_size=1, max_size=6).filter(
        lambda parts: sum(parts) > 0
    ),
    st.data(),
)
def test_split_proportionally_is_exact_and_within_each_part(parts, data):
    amount_minor = data.draw(st.integers(min_value=0, max_value=sum(parts)))
    shares = split_proportionally(amount_minor, parts)
    assert sum(shares) == amount_minor
    assert all(0 <= share <= part for share, part in zip(shares, parts, strict=True))
    # Each share is its exact proportion rounded down or up by less than one unit.
    total = sum(parts)
    assert all(
        abs(share * total - amount_minor * part) < total for share, part in zip(shares, parts, strict=True)
    )


@pytest.mark.parametrize(("amount_minor", "parts"), [(101, [50, 50]), (-1, [1]), (1, [0, 0]), (1, [])])
def test_split_proportionally_refuses_amounts_outside_the_parts(amount_minor, parts):
    with pytest.raises(ValueError, match="between 0 and the sum"):
        split_proportionally(amount_minor, parts)


# --- scales -------------------------------------------------------------------------------------------------------
def test_convert_decimals_scales_up_and_down_exactly():
    assert convert_decimals(125, from_decimals=2, to_decimals=6) == 1_250_000
    assert convert_decimals(1_250_000, from_decimals=6, to_decimals=2) == 125
    assert convert_decimals(10**18, from_decimals=18, to_decimals=9) == 10**9
    assert convert_decimals(42, from_decimals=6, to_decimals=6) == 42


@pytest.mark.parametrize(
    ("amount", "from_decimals", "to_decimals"), [(1_250_001, 6, 2), (1, 18, 17), (15, 1, 0)]
)
def test_convert_decimals_refuses_to_lose_a_fraction(amount, from_decimals, to_decimals):
    with pytest.raises(ValidationFailed) as raised:
        convert_decimals(amount, from_decimals=from_decimals, to_decimals=to_decimals)
    assert raised.value.code == "amount_precision"


# --- Money --------------------------------------------------------------------------------------------------------
def test_money_adds_only_the_same_currency():
    assert Money(5, "USDC") + Money(7, "USDC") == Money(12, "USDC")
    assert Money(5, "USDC") - Money(7, "USDC") == Money(-2, "USDC")
    assert -Money(5, "SOL") == Money(-5, "SOL")
    with pytest.raises(ValueError, match="cannot combine USDC with ETH"):
        Money(5, "USDC") + Money(5, "ETH")


@pytest.mark.parametrize("amount", [1.5, Decimal(1), True, "1"])
def test_money_holds_only_integers(amount):
    with pytest.raises(TypeError):
        Money(amount, "USDC")
