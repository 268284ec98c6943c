"""Reads of a buyer's prepaid credit: one buyer-wallet ledger account per currency, and its entries (top-ups in,
pay-as-you-go charges and refunds of credit out). A person only ever reads their own wallet: the user is the
caller, never a parameter taken from the request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from modelmarket.billing.models import AccountKind, Currency, LedgerAccount, LedgerEntry
from modelmarket.billing.money import format_amount


@dataclass(frozen=True, slots=True)
class WalletBalance:
    """Credit in one currency. `available_minor` is what can be spent now: the balance less what pay-as-you-go calls
    in flight hold."""

    currency: str
    decimals: int
    balance_minor: int
    held_minor: int

    @property
    def available_minor(self) -> int:
        return self.balance_minor - self.held_minor

    @property
    def available(self) -> str:
        """Whole units, as a decimal string ("12.50")."""
        return format_amount(self.available_minor, self.decimals)

    @property
    def held(self) -> str:
        return format_amount(self.held_minor, self.decimals)

    @property
    def available_text(self) -> str:
        return f"{self.available} {self.currency}"


def wallet_balances(*, user: Any) -> list[WalletBalance]:
    """The user's credit per currency they have ever held credit in, by currency code."""
    accounts = (
        LedgerAccount.objects.filter(kind=AccountKind.BUYER_WALLET, user_id=user.pk)
        .select_related("currency")
        .order_by("currency_id")
    )
    return [
        WalletBalance(
            currency=account.currency_id,
            decimals=account.currency.decimals,
            balance_minor=account.balance_minor,
            held_minor=account.held_minor,
        )
        for account in accounts
    ]


def wallet_entries(*, user: Any, currency: str | None = None) -> QuerySet[LedgerEntry]:
    """The entries of the user's wallets (in one currency when given), unordered: callers paginate by
    `created_at` then id (`core.api.pagination.paginate`)."""
    entries = LedgerEntry.objects.filter(
        account__kind=AccountKind.BUYER_WALLET, account__user_id=user.pk
    ).select_related("transaction", "transaction__order", "account__currency", "model")
    if currency:
        entries = entries.filter(account__currency_id=currency)
    return entries


def wallet_entry_amount(entry: LedgerEntry) -> str:
    """The entry's signed amount in whole units ("-0.0015", "10.00")."""
    amount = format_amount(abs(entry.amount_minor), entry.account.currency.decimals)
    return f"-{amount}" if entry.amount_minor < 0 else amount


def top_up_currencies() -> QuerySet[Currency]:
    """Currencies credit can be bought in: the active ones."""
    return Currency.objects.filter(is_active=True).order_by("code")
