"""The one place amounts are parsed, converted, rounded, split and formatted.

Settled amounts are integers of a currency's minor units beside the currency code. Decimal amounts ("12.5 USDC")
only exist at the edges: parsed from people and providers, shown to people. A per-unit rate may have fractions of a
minor unit; a cost is rounded once, half up, when it is booked (`round_minor`)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

from modelmarket.core.exceptions import ValidationFailed

# NUMERIC(38, 0) holds them; nothing real comes near.
MAX_AMOUNT_MINOR = 10**38 - 1
_EXACT = Context(prec=200, traps=[InvalidOperation])
BPS = 10_000


@dataclass(frozen=True, slots=True)
class Money:
    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise TypeError("amount_minor must be an int")

    def __add__(self, other: Money) -> Money:
        _same_currency(self, other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        _same_currency(self, other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def __str__(self) -> str:
        return format_money(self.amount_minor, self.currency)


def _same_currency(a: Money, b: Money) -> None:
    if a.currency != b.currency:
        raise ValueError(f"cannot combine {a.currency} with {b.currency}")


@functools.cache
def _decimals_cached(code: str) -> int:
    from modelmarket.billing.models import Currency

    try:
        return Currency.objects.values_list("decimals", flat=True).get(code=code)
    except Currency.DoesNotExist:
        raise ValidationFailed(f"Unknown currency {code!r}.", code="unknown_currency") from None


def currency_decimals(code: str) -> int:
    """Decimals of a currency in the currency table (cached per process: a currency's decimals never change).
    Raises ValidationFailed `unknown_currency`."""
    if not isinstance(code, str) or not code or len(code) > 10:
        raise ValidationFailed(f"Unknown currency {code!r}.", code="unknown_currency")
    return _decimals_cached(code.upper())


def to_minor(amount: Decimal | str | int, decimals: int) -> int:
    """An amount in whole units ("12.5") as minor units (12500000 at 6 decimals). Refuses fractions of a minor
    unit, negative amounts, non-numbers and absurd sizes with ValidationFailed — never rounds silently."""
    try:
        value = Decimal(str(amount)) if not isinstance(amount, Decimal) else amount
    except (InvalidOperation, ValueError):
        raise ValidationFailed(f"{amount!r} is not an amount.", code="invalid_amount") from None
    if not value.is_finite():
        raise ValidationFailed(f"{amount!r} is not an amount.", code="invalid_amount")
    if value < 0:
        raise ValidationFailed("Amounts cannot be negative.", code="negative_amount")
    if value.adjusted() > 38:
        raise ValidationFailed("The amount is too large.", code="amount_too_large")
    # Exact arithmetic: the default context keeps 28 digits and would round "1.0000000000000000000000000001".
    scaled = value.scaleb(decimals, context=_EXACT)
    if scaled != scaled.to_integral_value(context=_EXACT):
        raise ValidationFailed(
            f"{amount} has more than {decimals} decimal places for this currency.", code="amount_precision"
        )
    minor = int(scaled)
    if minor > MAX_AMOUNT_MINOR:
        raise ValidationFailed("The amount is too large.", code="amount_too_large")
    return minor


def from_minor(amount_minor: int, decimals: int) -> Decimal:
    """Minor units as an exact Decimal of whole units."""
    return Decimal(amount_minor).scaleb(-decimals, context=_EXACT)


def round_minor(amount: Decimal) -> int:
    """An exact cost in (fractional) minor units, rounded half up to whole minor units. Call once, when booking."""
    return int(amount.to_integral_value(rounding=ROUND_HALF_UP))


def split_fee(amount_minor: int, fee_bps: int) -> tuple[int, int]:
    """(creator share, platform fee) of an amount; the fee is rounded half up and the two always add up."""
    if not 0 <= fee_bps <= BPS:
        raise ValueError("fee_bps must be between 0 and 10000")
    if amount_minor < 0:
        raise ValueError("split_fee splits amounts of zero or more")
    fee = (2 * amount_minor * fee_bps + BPS) // (2 * BPS)  # half up, in integers: exact at any size
    return amount_minor - fee, fee


def split_proportionally(amount_minor: int, parts: list[int]) -> list[int]:
    """Divide `amount_minor` in the proportions of `parts` (e.g. a partial refund across creator and platform),
    by largest remainder, so the pieces add up exactly and none exceeds its part."""
    total = sum(parts)
    if total <= 0 or amount_minor < 0 or amount_minor > total:
        raise ValueError("amount must be between 0 and the sum of the parts")
    shares = [amount_minor * part // total for part in parts]
    remainders = sorted(
        range(len(parts)), key=lambda index: (amount_minor * parts[index]) % total, reverse=True
    )
    for index in remainders[: amount_minor - sum(shares)]:
        shares[index] += 1
    return shares


def convert_decimals(amount: int, *, from_decimals: int, to_decimals: int) -> int:
    """Re-express an integer amount between two scales of the same currency (a provider's base units and ours).
    Refuses a conversion that would lose a fraction."""
    if to_decimals >= from_decimals:
        return amount * 10 ** (to_decimals - from_decimals)
    factor = 10 ** (from_decimals - to_decimals)
    if amount % factor:
        raise ValidationFailed(
            "The amount has more precision than the currency allows.", code="amount_precision"
        )
    return amount // factor


def format_amount(amount_minor: int, decimals: int) -> str:
    """12500000 at 6 decimals -> "12.50": at least two places, more only when they are not zero."""
    text = f"{from_minor(amount_minor, decimals):f}"
    if "." not in text:
        return f"{text}.00" if decimals else text
    whole, fraction = text.split(".")
    fraction = fraction.rstrip("0").ljust(min(2, decimals), "0")
    return f"{whole}.{fraction}" if fraction else whole


def format_money(amount_minor: int, currency: str) -> str:
    return f"{format_amount(amount_minor, currency_decimals(currency))} {currency}"
