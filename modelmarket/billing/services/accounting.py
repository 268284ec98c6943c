"""What each business event does to the ledger. Every function books one balanced transaction with a reference
that makes it idempotent, and returns it; callers own the surrounding database transaction.

Sign convention: a positive entry increases an account's balance. Money from outside enters through
`payment_clearing` (which goes negative by what was received) and leaves through `refunds`, `payouts` and
`processor_fees`; so the sum over all accounts is always zero.

    plan payment      clearing -gross | creator earnings +share | platform revenue +fee - processor fee
                      | processor fees +processor fee
    credit top-up     clearing -gross | buyer wallet +gross | platform revenue -processor fee | processor fees +fee
    pay as you go     buyer wallet -cost | creator earnings +share | platform revenue +fee
    refund            creator earnings / platform revenue / buyer wallet -their part | refunds +amount
    payout request    creator earnings -amount | creator payout pending +amount
    payout sent       creator payout pending -amount | payouts +amount   (cancel: the request reversed)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings

from modelmarket.billing.models import (
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Order,
    OrderKind,
    Payment,
    Payout,
    TransactionKind,
)
from modelmarket.billing.money import split_fee, split_proportionally
from modelmarket.billing.services.ledger import (
    Posting,
    buyer_wallet,
    creator_earnings,
    credit_release,
    ledger_account,
    ledger_transaction_post,
    platform_account,
)


def platform_fee_bps() -> int:
    return int(settings.BILLING_PLATFORM_FEE_BPS)


def order_payment_book(*, order: Order, payment: Payment) -> LedgerTransaction:
    """Book a successful payment of `order`: a plan's price is split between its creator and the platform; a
    top-up credits the buyer's wallet. The processor's fee is the platform's cost either way."""
    currency = order.currency_id
    gross, processor_fee = order.amount_minor, min(payment.fee_minor, order.amount_minor)
    clearing = platform_account(AccountKind.PAYMENT_CLEARING, currency)
    revenue = platform_account(AccountKind.PLATFORM_REVENUE, currency)
    postings = [Posting(clearing, -gross)]
    if order.kind == OrderKind.TOP_UP:
        postings.append(Posting(buyer_wallet(user_id=order.buyer_id, currency=currency), gross))
        kind = TransactionKind.TOP_UP
    else:
        assert order.model is not None
        share, fee = split_fee(gross, platform_fee_bps())
        model_id = order.model_id
        postings += [
            Posting(creator_earnings(user_id=order.model.creator_id, currency=currency), share, model_id),
            Posting(revenue, fee, model_id),
        ]
        kind = TransactionKind.PAYMENT
    if processor_fee:
        postings += [
            Posting(revenue, -processor_fee),
            Posting(platform_account(AccountKind.PROCESSOR_FEES, currency), processor_fee),
        ]
    return ledger_transaction_post(
        kind=kind,
        currency=currency,
        reference=f"order:{order.public_id}:paid",
        postings=postings,
        description=f"Order {order.public_id}",
        order_id=order.pk,
        payment_id=payment.pk,
    )


@dataclass(frozen=True, slots=True)
class UsageCharge:
    """Pay-as-you-go cost of some calls of one buyer to one model, to book together. `held_minor` is what the
    calls' reservations still hold on the wallet (released by this booking; on the embedded default only)."""

    buyer_id: int
    creator_id: int
    model_id: int
    currency: str
    cost_minor: int
    held_minor: int = 0


def usage_charges_book(*, reference: str, charges: Sequence[UsageCharge]) -> list[LedgerTransaction]:
    """Book a batch of usage costs, one transaction per (buyer, model, currency); `reference` names the batch
    (the usage events' first id), so a retried batch books nothing twice. Raises InsufficientFunds when a wallet
    cannot cover its charge (the reservation made before the call normally guarantees it can)."""
    booked = []
    for charge in charges:
        wallet = buyer_wallet(user_id=charge.buyer_id, currency=charge.currency)
        if charge.cost_minor <= 0:
            credit_release(account_id=wallet.pk, amount_minor=charge.held_minor)
            continue
        share, fee = split_fee(charge.cost_minor, platform_fee_bps())
        postings = [
            Posting(wallet, -charge.cost_minor, charge.model_id),
            Posting(
                creator_earnings(user_id=charge.creator_id, currency=charge.currency), share, charge.model_id
            ),
            Posting(platform_account(AccountKind.PLATFORM_REVENUE, charge.currency), fee, charge.model_id),
        ]
        booked.append(
            ledger_transaction_post(
                kind=TransactionKind.USAGE,
                currency=charge.currency,
                reference=f"usage:{reference}:{charge.buyer_id}:{charge.model_id}:{charge.currency}",
                postings=[p for p in postings if p.amount_minor],
                description=f"Usage of model {charge.model_id}",
                release_held={wallet.pk: charge.held_minor} if charge.held_minor else None,
            )
        )
    return booked


def refund_book(*, payment: Payment, amount_minor: int, reference: str) -> LedgerTransaction:
    """Reverse `amount_minor` of a payment: the accounts that received it give back their part in proportion
    (for a top-up, the buyer's wallet — which must still hold it); the money leaves through `refunds`."""
    order = payment.order
    assert order is not None
    assert payment.currency_id is not None
    currency = payment.currency_id
    received = LedgerEntry.objects.filter(
        transaction__reference=f"order:{order.public_id}:paid", amount_minor__gt=0
    ).exclude(account__kind=AccountKind.PROCESSOR_FEES)
    parts = [(entry.account, entry.amount_minor, entry.model_id) for entry in received]
    if not parts:
        raise ValueError("the payment was never booked")
    shares = split_proportionally(amount_minor, [amount for _, amount, _ in parts])
    postings = [
        Posting(account, -share, model_id)
        for (account, _, model_id), share in zip(parts, shares, strict=True)
        if share
    ]
    postings.append(Posting(platform_account(AccountKind.REFUNDS, currency), amount_minor))
    return ledger_transaction_post(
        kind=TransactionKind.REFUND,
        currency=currency,
        reference=reference,
        postings=postings,
        description=f"Refund of order {order.public_id}",
        order_id=order.pk,
        payment_id=payment.pk,
    )


def payout_request_book(*, payout: Payout) -> LedgerTransaction:
    """Move the requested amount out of the creator's pending earnings (InsufficientFunds if they lack it)."""
    currency = payout.currency_id
    return ledger_transaction_post(
        kind=TransactionKind.PAYOUT_REQUEST,
        currency=currency,
        reference=f"payout:{payout.public_id}:requested",
        postings=[
            Posting(creator_earnings(user_id=payout.creator_id, currency=currency), -payout.amount_minor),
            Posting(_payout_pending(payout), payout.amount_minor),
        ],
        description=f"Payout {payout.public_id} requested",
    )


def payout_paid_book(*, payout: Payout) -> LedgerTransaction:
    currency = payout.currency_id
    return ledger_transaction_post(
        kind=TransactionKind.PAYOUT,
        currency=currency,
        reference=f"payout:{payout.public_id}:paid",
        postings=[
            Posting(_payout_pending(payout), -payout.amount_minor),
            Posting(platform_account(AccountKind.PAYOUTS, currency), payout.amount_minor),
        ],
        description=f"Payout {payout.public_id} sent",
    )


def payout_cancel_book(*, payout: Payout) -> LedgerTransaction:
    currency = payout.currency_id
    return ledger_transaction_post(
        kind=TransactionKind.PAYOUT_CANCEL,
        currency=currency,
        reference=f"payout:{payout.public_id}:cancelled",
        postings=[
            Posting(_payout_pending(payout), -payout.amount_minor),
            Posting(creator_earnings(user_id=payout.creator_id, currency=currency), payout.amount_minor),
        ],
        description=f"Payout {payout.public_id} cancelled",
    )


def _payout_pending(payout: Payout) -> LedgerAccount:
    return ledger_account(
        kind=AccountKind.CREATOR_PAYOUT_PENDING, currency=payout.currency_id, user_id=payout.creator_id
    )
