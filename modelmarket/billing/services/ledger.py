"""The ledger's only writer. A transaction's entries sum to zero; each account's balance moves by one conditional
UPDATE in the same database transaction as its entries, in account-id order (a consistent lock order, so two
transactions over the same accounts cannot deadlock). Accounts holding someone's money refuse to go below what is
held on them: the UPDATE's WHERE clause checks, so concurrent debits can never overdraw a wallet — the loser gets
`insufficient_credit` and its whole transaction rolls back.

Posting is idempotent by `reference` ("order:ord_x:paid", "usage:<batch>"...): posting a reference again returns
the transaction already booked and moves nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import F

from modelmarket.billing.models import (
    NON_NEGATIVE_ACCOUNTS,
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
)
from modelmarket.core.exceptions import PaymentRequired

logger = logging.getLogger(__name__)

# SQLite stores integers exactly up to 2**63 - 1 (beyond, it would silently switch to floating point).
SQLITE_MAX_BALANCE = 2**63 - 1


class InsufficientFunds(PaymentRequired):
    default_code = "insufficient_credit"
    default_message = "Not enough credit for this."


@dataclass(frozen=True, slots=True)
class Posting:
    account: LedgerAccount
    amount_minor: int
    model_id: int | None = None


@dataclass(frozen=True, slots=True)
class BalanceChange:
    """An account's balance and version right after a transaction moved it (read inside that transaction)."""

    account_id: int
    kind: str
    user_id: int | None
    currency: str
    balance_minor: int
    version: int


# Called after commit with the balances a transaction left, e.g. to refresh the gateway's credit view in Redis.
_balance_listeners: list[Callable[[list[BalanceChange]], None]] = []


def balance_listener_add(listener: Callable[[list[BalanceChange]], None]) -> None:
    if listener not in _balance_listeners:
        _balance_listeners.append(listener)


def ledger_account(*, kind: str, currency: str, user_id: int | None = None) -> LedgerAccount:
    """The account (created on first use; safe when two requests create it at once)."""
    lookup = {"kind": kind, "currency_id": currency, "user_id": user_id}
    account = LedgerAccount.objects.filter(**lookup).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return LedgerAccount.objects.create(**lookup)
    except IntegrityError:
        return LedgerAccount.objects.get(**lookup)


def platform_account(kind: str, currency: str) -> LedgerAccount:
    return ledger_account(kind=kind, currency=currency)


def buyer_wallet(*, user_id: int, currency: str) -> LedgerAccount:
    return ledger_account(kind=AccountKind.BUYER_WALLET, currency=currency, user_id=user_id)


def creator_earnings(*, user_id: int, currency: str) -> LedgerAccount:
    return ledger_account(kind=AccountKind.CREATOR_EARNINGS, currency=currency, user_id=user_id)


@transaction.atomic
def ledger_transaction_post(
    *,
    kind: str,
    currency: str,
    reference: str,
    postings: Sequence[Posting],
    description: str = "",
    order_id: int | None = None,
    payment_id: int | None = None,
    release_held: dict[int, int] | None = None,
) -> LedgerTransaction:
    """Book one balanced transaction. Raises InsufficientFunds (nothing booked) when an account that must not go
    negative would. `release_held` ({account id: amount}) also lowers those accounts' held credit in the same
    UPDATE: pay-as-you-go charges settle what their reservations held."""
    _check_balanced(currency, postings)
    existing = LedgerTransaction.objects.filter(reference=reference).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            booked = LedgerTransaction.objects.create(
                kind=kind,
                currency_id=currency,
                reference=reference,
                description=description[:300],
                order_id=order_id,
                payment_id=payment_id,
            )
    except IntegrityError:
        return LedgerTransaction.objects.get(reference=reference)
    release_held = release_held or {}
    per_account: dict[int, int] = {}
    accounts: dict[int, LedgerAccount] = {}
    for posting in postings:
        per_account[posting.account.pk] = per_account.get(posting.account.pk, 0) + posting.amount_minor
        accounts[posting.account.pk] = posting.account
    changes = []
    for account_id in sorted(per_account):
        changes.append(_move(accounts[account_id], per_account[account_id], release_held.get(account_id, 0)))
    LedgerEntry.objects.bulk_create(
        LedgerEntry(transaction=booked, account=p.account, amount_minor=p.amount_minor, model_id=p.model_id)
        for p in postings
        if p.amount_minor
    )
    if _balance_listeners:
        transaction.on_commit(lambda: _notify(changes))
    return booked


def _check_balanced(currency: str, postings: Sequence[Posting]) -> None:
    if not postings:
        raise ValueError("a transaction needs entries")
    if sum(p.amount_minor for p in postings) != 0:
        raise ValueError("a transaction's entries must sum to zero")
    if any(p.account.currency_id != currency for p in postings):
        raise ValueError("every entry of a transaction is in the transaction's currency")


def _move(account: LedgerAccount, amount_minor: int, release_held: int) -> BalanceChange:
    """Change one balance atomically; the WHERE clause is the overdraft check."""
    rows = LedgerAccount.objects.filter(pk=account.pk)
    if release_held:
        rows = rows.filter(held_minor__gte=release_held)
    if account.kind in NON_NEGATIVE_ACCOUNTS and amount_minor + release_held < 0:
        # balance + amount >= held - release, i.e. what stays covers what stays held.
        rows = rows.filter(balance_minor__gte=F("held_minor") - release_held - amount_minor)
    if connection.vendor == "sqlite" and amount_minor > 0:
        rows = rows.filter(balance_minor__lte=SQLITE_MAX_BALANCE - amount_minor)
    elif connection.vendor == "sqlite" and amount_minor < 0:
        # Accounts that go negative (payment clearing) are bounded too: SQLite would switch to floating point.
        rows = rows.filter(balance_minor__gte=-SQLITE_MAX_BALANCE - amount_minor)
    updated = rows.update(
        balance_minor=F("balance_minor") + amount_minor,
        held_minor=F("held_minor") - release_held,
        version=F("version") + 1,
    )
    if updated != 1:
        if connection.vendor == "sqlite" and not _fits_sqlite(account, amount_minor):
            raise InsufficientFunds(
                "The balance would exceed what this database can store.", code="amount_too_large"
            )
        raise InsufficientFunds(details={"currency": account.currency_id})
    balance_minor, version = LedgerAccount.objects.values_list("balance_minor", "version").get(pk=account.pk)
    return BalanceChange(
        account_id=account.pk,
        kind=account.kind,
        user_id=account.user_id,
        currency=account.currency_id,
        balance_minor=int(balance_minor),
        version=version,
    )


def _fits_sqlite(account: LedgerAccount, amount_minor: int) -> bool:
    balance = LedgerAccount.objects.values_list("balance_minor", flat=True).get(pk=account.pk)
    return abs(int(balance) + amount_minor) <= SQLITE_MAX_BALANCE


def _notify(changes: list[BalanceChange]) -> None:
    for listener in _balance_listeners:
        try:
            listener(changes)
        except Exception:
            logger.exception("a balance listener failed")


def credit_hold(*, account_id: int, amount_minor: int) -> bool:
    """Reserve credit on a wallet for a call in flight (the embedded default; Redis does this otherwise). One
    conditional UPDATE: False when the wallet's unreserved balance is below `amount_minor`."""
    if amount_minor <= 0:
        return True
    return (
        LedgerAccount.objects.filter(pk=account_id, balance_minor__gte=F("held_minor") + amount_minor).update(
            held_minor=F("held_minor") + amount_minor
        )
        == 1
    )


def credit_release(*, account_id: int, amount_minor: int) -> None:
    """Give back reserved credit a call did not use."""
    if amount_minor > 0:
        LedgerAccount.objects.filter(pk=account_id, held_minor__gte=amount_minor).update(
            held_minor=F("held_minor") - amount_minor
        )
