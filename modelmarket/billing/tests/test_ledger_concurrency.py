"""Concurrency of the ledger on PostgreSQL: many threads, each with its own database connection, debit one wallet or
reserve credit on it at the same moment. The balance check and the debit are one conditional UPDATE, so exactly as
many succeed as the balance covers, the others get `insufficient_credit`, and the wallet is never below zero (or
below what is held) — not at the end, and not at any moment a watcher sees while the debits run.

SQLite is skipped: it serialises writers on one database lock, so nothing there runs concurrently to test."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import Sum

from modelmarket.accounts.tests.factories import make_user
from modelmarket.billing.models import (
    AccountKind,
    AmountField,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    TransactionKind,
)
from modelmarket.billing.money import split_fee
from modelmarket.billing.services import accounting, ledger
from modelmarket.billing.services.accounting import UsageCharge, platform_fee_bps
from modelmarket.billing.services.ledger import InsufficientFunds
from modelmarket.billing.tests.factories import published_model, top_up

pytestmark = [
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="concurrent debits need PostgreSQL (SQLite runs one writer at a time, so nothing races): "
        "set DATABASE_URL=postgres://... as .ci/run does",
    ),
    pytest.mark.django_db(transaction=True),
]

CHARGES_COVERED = 6  # N: the wallet holds exactly this many charges
CALLERS = 4 * CHARGES_COVERED  # 4 x N concurrent debits, each on its own connection
COST_MINOR = 2**63 + 12_345  # ETH in wei, beyond 64 bits: PostgreSQL's NUMERIC keeps it exact


def _run_at_once(count: int, work: Callable[[int], Any], wallet_id: int) -> tuple[list[Any], list[int]]:
    """Run `work(i)` for i in range(count) in `count` threads released together; each thread closes its own
    connection. A watcher thread reads the wallet (balance - held) over and over meanwhile; returns the results
    (or exceptions) and every value the watcher saw."""
    barrier = threading.Barrier(count + 1)
    done = threading.Event()
    seen: list[int] = []

    def call(index: int) -> Any:
        try:
            barrier.wait(timeout=30)
            return work(index)
        except Exception as error:  # kept as a result: the test counts refusals
            return error
        finally:
            connection.close()

    def watch() -> None:
        try:
            barrier.wait(timeout=30)
            while not done.is_set():
                balance, held = LedgerAccount.objects.values_list("balance_minor", "held_minor").get(
                    pk=wallet_id
                )
                seen.append(int(balance) - int(held))
                seen.append(int(balance))
        finally:
            connection.close()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(max_workers=count) as pool:
            results = list(pool.map(call, range(count)))
    finally:
        done.set()
        watcher.join(timeout=30)
    return results, seen


def _entries_sum_to_zero() -> None:
    total = Sum("amount_minor", output_field=AmountField())
    per_currency = LedgerEntry.objects.values("account__currency_id").annotate(total=total).order_by()
    assert {row["account__currency_id"]: row["total"] for row in per_currency} == {"ETH": 0}
    for account in LedgerAccount.objects.all():
        entries = LedgerEntry.objects.filter(account=account).aggregate(total=total)["total"] or 0
        assert account.balance_minor == entries


def test_concurrent_debits_never_overdraw_a_wallet():
    buyer = make_user("buyer")
    model = published_model()
    top_up(buyer, currency="ETH", amount_minor=CHARGES_COVERED * COST_MINOR)
    wallet = ledger.buyer_wallet(user_id=buyer.pk, currency="ETH")
    charge = UsageCharge(
        buyer_id=buyer.pk,
        creator_id=model.creator_id,
        model_id=model.pk,
        currency="ETH",
        cost_minor=COST_MINOR,
    )

    def debit(index: int) -> Any:
        with transaction.atomic():
            return accounting.usage_charges_book(reference=f"concurrent-{index}", charges=[charge])

    results, seen = _run_at_once(CALLERS, debit, wallet.pk)

    refused = [result for result in results if isinstance(result, InsufficientFunds)]
    booked = [result for result in results if isinstance(result, list)]
    assert (len(booked), len(refused)) == (CHARGES_COVERED, CALLERS - CHARGES_COVERED), results
    assert {error.code for error in refused} == {"insufficient_credit"}
    assert seen
    assert min(seen) >= 0
    wallet.refresh_from_db()
    assert (wallet.balance_minor, wallet.held_minor) == (0, 0)
    assert LedgerTransaction.objects.filter(kind=TransactionKind.USAGE).count() == CHARGES_COVERED
    share, fee = split_fee(COST_MINOR, platform_fee_bps())
    earnings = LedgerAccount.objects.get(kind=AccountKind.CREATOR_EARNINGS, user=model.creator_id)
    assert earnings.balance_minor == CHARGES_COVERED * share
    revenue = LedgerAccount.objects.get(kind=AccountKind.PLATFORM_REVENUE, currency="ETH")
    assert revenue.balance_minor == CHARGES_COVERED * fee
    _entries_sum_to_zero()


def test_concurrent_credit_holds_never_exceed_the_balance():
    buyer = make_user("buyer")
    top_up(buyer, currency="ETH", amount_minor=CHARGES_COVERED * COST_MINOR)
    wallet = ledger.buyer_wallet(user_id=buyer.pk, currency="ETH")

    def hold(index: int) -> bool:
        return ledger.credit_hold(account_id=wallet.pk, amount_minor=COST_MINOR)

    results, seen = _run_at_once(CALLERS, hold, wallet.pk)

    assert results.count(True) == CHARGES_COVERED
    assert results.count(False) == CALLERS - CHARGES_COVERED
    assert seen
    assert min(seen) >= 0
    wallet.refresh_from_db()
    assert (wallet.balance_minor, wallet.held_minor) == (
        CHARGES_COVERED * COST_MINOR,
        CHARGES_COVERED * COST_MINOR,
    )
    _entries_sum_to_zero()


def test_concurrent_charges_settling_holds_and_new_holds_never_overdraw():
    """Half the callers settle a call they reserved credit for (the charge releases the hold), half try to reserve
    more at the same time: no reservation is granted beyond what the settling charges leave."""
    buyer = make_user("buyer")
    model = published_model()
    top_up(buyer, currency="ETH", amount_minor=CHARGES_COVERED * COST_MINOR)
    wallet = ledger.buyer_wallet(user_id=buyer.pk, currency="ETH")
    for _ in range(CHARGES_COVERED):
        assert ledger.credit_hold(account_id=wallet.pk, amount_minor=COST_MINOR)
    charge = UsageCharge(
        buyer_id=buyer.pk,
        creator_id=model.creator_id,
        model_id=model.pk,
        currency="ETH",
        cost_minor=COST_MINOR,
        held_minor=COST_MINOR,
    )

    def settle_or_hold(index: int) -> Any:
        if index < CHARGES_COVERED:
            with transaction.atomic():
                return accounting.usage_charges_book(reference=f"settle-{index}", charges=[charge])
        return ledger.credit_hold(account_id=wallet.pk, amount_minor=COST_MINOR)

    results, seen = _run_at_once(CALLERS, settle_or_hold, wallet.pk)

    assert all(isinstance(result, list) for result in results[:CHARGES_COVERED]), results
    assert (
        results[CHARGES_COVERED:].count(True) == 0
    )  # every unit of credit was already held for the settled calls
    assert seen
    assert min(seen) >= 0
    wallet.refresh_from_db()
    assert (wallet.balance_minor, wallet.held_minor) == (0, 0)
    _entries_sum_to_zero()
