"""Payouts under concurrency, on PostgreSQL: staff recording one payout at the same moment pay it once; a creator's
simultaneous requests never take more than their pending earnings. Each thread has its own connection."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from modelmarket.accounts.tests.factories import make_user
from modelmarket.billing.models import (
    AccountKind,
    LedgerAccount,
    LedgerTransaction,
    Payout,
    PayoutStatus,
    TransactionKind,
)
from modelmarket.billing.services.ledger import InsufficientFunds
from modelmarket.billing.services.payouts import payout_record_paid, payout_request
from modelmarket.billing.tests.factories import make_plan, published_model, sell
from modelmarket.billing.tests.test_earnings_support import SOLANA_ADDRESS, solana_signature
from modelmarket.core.exceptions import Conflict
from modelmarket.notifications.models import Notification

pytestmark = [
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="concurrent writers need PostgreSQL (SQLite runs one writer at a time, so nothing races): "
        "set DATABASE_URL=postgres://... as .ci/run does",
    ),
    pytest.mark.django_db(transaction=True),
]

THREADS = 8


def _at_once(work: Callable[[int], Any]) -> list[Any]:
    barrier = threading.Barrier(THREADS)

    def call(index: int) -> Any:
        try:
            barrier.wait(timeout=30)
            return work(index)
        except Exception as error:  # the test counts refusals
            return error
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(call, range(THREADS)))


def _creator_with_earnings():
    creator = make_user("creator")
    sell(make_plan(published_model(owner=creator)))  # 8.5 USDC pending
    return creator


def test_recording_one_payout_from_many_threads_pays_it_once():
    creator = _creator_with_earnings()
    payout = payout_request(
        creator=creator, currency="USDC", amount_minor=3_000_000, wallet_address=SOLANA_ADDRESS
    )
    staff = make_user("admin")

    results = _at_once(
        lambda index: payout_record_paid(
            actor=staff,
            payout=Payout.objects.get(pk=payout.pk),
            transaction_signature=solana_signature(index),
        )
    )

    assert sum(isinstance(result, Payout) for result in results) == 1
    assert {result.code for result in results if isinstance(result, Conflict)} == {"payout_already_paid"}
    assert LedgerTransaction.objects.filter(kind=TransactionKind.PAYOUT).count() == 1
    assert LedgerAccount.objects.get(kind=AccountKind.PAYOUTS, currency="USDC").balance_minor == 3_000_000
    assert LedgerAccount.objects.get(kind=AccountKind.CREATOR_PAYOUT_PENDING, user=creator).balance_minor == 0
    assert Notification.objects.filter(user=creator, kind="payout_recorded").count() == 1


def test_simultaneous_requests_never_take_more_than_pending():
    creator = _creator_with_earnings()

    results = _at_once(
        lambda index: payout_request(
            creator=creator, currency="USDC", amount_minor=2_000_000, wallet_address=SOLANA_ADDRESS
        )
    )

    assert sum(isinstance(result, Payout) for result in results) == 4  # 4 x 2 of 8.5
    assert sum(isinstance(result, InsufficientFunds) for result in results) == THREADS - 4
    assert Payout.objects.filter(status=PayoutStatus.REQUESTED).count() == 4
    earnings = LedgerAccount.objects.get(kind=AccountKind.CREATOR_EARNINGS, user=creator)
    assert earnings.balance_minor == 500_000
