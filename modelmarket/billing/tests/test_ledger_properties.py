"""Property test of the ledger: random sequences of credit top-ups, plan payments, credit holds and releases,
pay-as-you-go charges, refunds and payout requests / records / cancellations, over two buyers, two creators and two
currencies (USDC with 6 decimals; ETH with 18, with amounts beyond 2**63 on PostgreSQL), checked against a plain
Python model of what each operation should do to each balance. After every step:

- the entries of every currency, and of every transaction, sum to zero;
- every account's balance is the sum of its entries, and equals the model's;
- no account holding someone's money is below zero, or below what is held on it;
- an operation that would overdraw an account raised InsufficientFunds (or Conflict for a payout already settled)
  and changed nothing: no entry, no transaction, no payout, no balance.

Each example runs in a savepoint that is rolled back, so examples start from the same users and models."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from modelmarket.accounts.tests.factories import make_user
from modelmarket.billing.models import (
    NON_NEGATIVE_ACCOUNTS,
    AccountKind,
    AmountField,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Order,
    OrderKind,
    OrderStatus,
    Payment,
    PaymentGateway,
    PaymentStatus,
    Payout,
    PayoutStatus,
)
from modelmarket.billing.money import split_fee
from modelmarket.billing.services import accounting, ledger
from modelmarket.billing.services.accounting import UsageCharge, platform_fee_bps
from modelmarket.billing.services.ledger import InsufficientFunds
from modelmarket.billing.services.payouts import payout_cancel, payout_record_paid, payout_request
from modelmarket.billing.tests.factories import make_plan, published_model, top_up
from modelmarket.core.exceptions import Conflict

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")
CURRENCIES = ("USDC", "ETH")
# SQLite keeps integers exact to 2**63 - 1 only (the ledger refuses more): ETH stays far below it there, so that
# even the clearing account's total over a whole example does. PostgreSQL's NUMERIC(38, 0) takes far more.
MAX_AMOUNT = {"USDC": 10**10, "ETH": 10**22 if ON_POSTGRES else 10**17}
MAX_STEPS = 25
WALLET_ADDRESS = {"USDC": "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM", "ETH": "0x" + "ab12" * 10}
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

Key = tuple[str, int | None, str]  # (account kind, user id or None, currency)


def _signature(currency: str, number: int) -> str:
    if currency == "ETH":
        return f"0x{number:064x}"
    digits = ""
    while number:
        number, digit = divmod(number, 58)
        digits = BASE58[digit] + digits
    return digits.rjust(87, "5")


def _amounts(currency: str) -> st.SearchStrategy[int]:
    """Mostly small amounts (so that balances are often short of a charge), some across the whole range — for
    ETH on PostgreSQL that includes amounts around and beyond 2**63 and 2**64."""
    top = MAX_AMOUNT[currency]
    choices = [st.integers(min_value=1, max_value=1_000), st.integers(min_value=1, max_value=top)]
    if ON_POSTGRES and currency == "ETH":
        choices.append(st.sampled_from([2**63 - 1, 2**63, 2**63 + 1, 2**64 + 7, 10**21 + 3]))
    return st.one_of(*choices)


def _amounts_near(currency: str, available: int) -> st.SearchStrategy[int]:
    """An amount to take from a balance of `available`: within it, exactly it, one more, or anything."""
    boundary = [amount for amount in (available, available + 1) if amount > 0]
    return st.one_of(
        st.integers(min_value=1, max_value=max(available, 1)), st.sampled_from(boundary), _amounts(currency)
    )


def _owner_and_currency(data: st.DataObject, model: Model, owners: list[Any], kind: str) -> tuple[Any, str]:
    """An owner and currency to debit: mostly one whose `kind` account has something available, so that debits
    succeed as often as they are refused; any pair otherwise."""
    funded = [
        (owner, currency)
        for owner in owners
        for currency in CURRENCIES
        if (state := model.accounts.get((kind, owner.pk, currency))) and state[0] > state[1]
    ]
    anyone = st.tuples(st.sampled_from(owners), st.sampled_from(CURRENCIES))
    return data.draw(
        st.one_of(st.sampled_from(funded), st.sampled_from(funded), anyone) if funded else anyone
    )


@dataclass
class World:
    buyers: list[Any]
    creators: list[Any]
    models: list[Any]  # models[i] belongs to creators[i]
    plans: dict[tuple[int, str], Any]  # (model index, currency) -> plan
    staff: Any


@dataclass
class Model:
    """What the ledger should hold: per account (balance, held)."""

    accounts: dict[Key, list[int]] = field(default_factory=dict)
    payments: list[dict[str, Any]] = field(default_factory=list)
    payouts: list[dict[str, Any]] = field(default_factory=list)
    counter: int = 0

    def account(self, key: Key) -> list[int]:
        return self.accounts.setdefault(key, [0, 0])

    def move(self, key: Key, amount: int) -> None:
        self.account(key)[0] += amount

    def next(self) -> int:
        self.counter += 1
        return self.counter


def _world() -> World:
    creators = [make_user("creator"), make_user("creator")]
    models = [
        published_model(owner=creators[0], name="Alpha"),
        published_model(owner=creators[1], name="Beta"),
    ]
    plans = {
        (index, currency): make_plan(model, currency=currency, price_minor=1_000)
        for index, model in enumerate(models)
        for currency in CURRENCIES
    }
    return World(
        buyers=[make_user("buyer"), make_user("buyer")],
        creators=creators,
        models=models,
        plans=plans,
        staff=make_user("admin"),
    )


# --- What the database holds --------------------------------------------------------------------------------------
def _snapshot() -> tuple[Any, ...]:
    balances = frozenset(
        LedgerAccount.objects.values_list("kind", "user_id", "currency_id", "balance_minor", "held_minor")
    )
    payouts = frozenset(Payout.objects.values_list("public_id", "status"))
    return (LedgerEntry.objects.count(), LedgerTransaction.objects.count(), balances, payouts)


def _check_invariants(model: Model) -> None:
    total = Sum("amount_minor", output_field=AmountField())
    per_currency = dict(
        LedgerEntry.objects.values("account__currency_id")
        .annotate(total=total)
        .values_list("account__currency_id", "total")
        .order_by()
    )
    assert all(value == 0 for value in per_currency.values()), per_currency
    unbalanced = list(
        LedgerEntry.objects.values("transaction_id").annotate(total=total).exclude(total=0).order_by()
    )
    assert unbalanced == []
    sums = dict(
        LedgerEntry.objects.values("account_id")
        .annotate(total=total)
        .values_list("account_id", "total")
        .order_by()
    )
    for account in LedgerAccount.objects.all():
        key = (account.kind, account.user_id, account.currency_id)
        assert account.balance_minor == sums.get(account.pk, 0), key
        assert [account.balance_minor, account.held_minor] == model.accounts.get(key, [0, 0]), key
        assert account.held_minor >= 0, key
        if account.kind in NON_NEGATIVE_ACCOUNTS:
            assert account.balance_minor >= account.held_minor >= 0, key
    stored = {key for key in LedgerAccount.objects.values_list("kind", "user_id", "currency_id")}
    assert all(value == [0, 0] for key, value in model.accounts.items() if key not in stored)


def _refused(before: tuple[Any, ...], operation: str) -> None:
    """The operation was refused: nothing moved (accounts created empty on the way do not count)."""
    event(f"{operation} refused")
    after = _snapshot()
    assert after[:2] == before[:2]
    assert after[3] == before[3]
    assert {row for row in after[2] if row[3] or row[4]} == {row for row in before[2] if row[3] or row[4]}


# --- Operations ---------------------------------------------------------------------------------------------------
def _pay(world: World, model: Model, data: st.DataObject, *, top_up: bool) -> None:
    buyer = data.draw(st.sampled_from(world.buyers))
    currency = data.draw(st.sampled_from(CURRENCIES))
    gross = data.draw(_amounts(currency))
    processor_fee = data.draw(st.integers(min_value=0, max_value=gross) | st.just(0))
    number = model.next()
    fields: dict[str, Any] = {
        "buyer": buyer,
        "currency_id": currency,
        "amount_minor": gross,
        "status": OrderStatus.PAID,
        "gateway": PaymentGateway.SANDBOX,
        "expires_at": timezone.now() + timedelta(hours=1),
        "paid_at": timezone.now(),
    }
    index = None
    if top_up:
        order = Order.objects.create(kind=OrderKind.TOP_UP, **fields)
    else:
        index = data.draw(st.sampled_from([0, 1]))
        plan = world.plans[(index, currency)]
        order = Order.objects.create(kind=OrderKind.PLAN, plan=plan, model_id=plan.model_id, **fields)
    payment = Payment.objects.create(
        gateway=PaymentGateway.SANDBOX,
        provider_payment_id=f"pay-{number}",
        order=order,
        status=PaymentStatus.SUCCEEDED,
        currency_id=currency,
        gross_minor=gross,
        fee_minor=processor_fee,
        net_minor=gross - processor_fee,
    )
    accounting.order_payment_book(order=order, payment=payment)
    model.move((AccountKind.PAYMENT_CLEARING, None, currency), -gross)
    if top_up:
        model.move((AccountKind.BUYER_WALLET, buyer.pk, currency), gross)
    else:
        assert index is not None
        share, fee = split_fee(gross, platform_fee_bps())
        model.move((AccountKind.CREATOR_EARNINGS, world.creators[index].pk, currency), share)
        model.move((AccountKind.PLATFORM_REVENUE, None, currency), fee)
    model.move((AccountKind.PLATFORM_REVENUE, None, currency), -processor_fee)
    model.move((AccountKind.PROCESSOR_FEES, None, currency), processor_fee)
    model.payments.append({"payment": payment, "gross": gross, "refunded": 0})


def _hold(world: World, model: Model, data: st.DataObject) -> None:
    buyer, currency = _owner_and_currency(data, model, world.buyers, AccountKind.BUYER_WALLET)
    wallet = ledger.buyer_wallet(user_id=buyer.pk, currency=currency)
    state = model.account((AccountKind.BUYER_WALLET, buyer.pk, currency))
    amount = data.draw(_amounts_near(currency, state[0] - state[1]))
    held = ledger.credit_hold(account_id=wallet.pk, amount_minor=amount)
    assert held == (state[0] - state[1] >= amount)
    event("hold " + ("granted" if held else "refused"))
    if held:
        state[1] += amount


def _release(world: World, model: Model, data: st.DataObject) -> None:
    buyer = data.draw(st.sampled_from(world.buyers))
    currency = data.draw(st.sampled_from(CURRENCIES))
    state = model.account((AccountKind.BUYER_WALLET, buyer.pk, currency))
    if not state[1]:
        return
    amount = data.draw(st.integers(min_value=1, max_value=state[1]))
    ledger.credit_release(
        account_id=ledger.buyer_wallet(user_id=buyer.pk, currency=currency).pk, amount_minor=amount
    )
    state[1] -= amount


def _usage(world: World, model: Model, data: st.DataObject) -> None:
    buyer, currency = _owner_and_currency(data, model, world.buyers, AccountKind.BUYER_WALLET)
    index = data.draw(st.sampled_from([0, 1]))
    wallet = model.account((AccountKind.BUYER_WALLET, buyer.pk, currency))
    release = data.draw(st.integers(min_value=0, max_value=wallet[1])) if wallet[1] else 0
    cost = data.draw(_amounts_near(currency, wallet[0] - wallet[1] + release))
    charge = UsageCharge(
        buyer_id=buyer.pk,
        creator_id=world.creators[index].pk,
        model_id=world.models[index].pk,
        currency=currency,
        cost_minor=cost,
        held_minor=release,
    )
    before = _snapshot()
    if wallet[0] - cost < wallet[1] - release:
        with pytest.raises(InsufficientFunds) as raised:
            accounting.usage_charges_book(reference=f"batch-{model.next()}", charges=[charge])
        assert raised.value.code == "insufficient_credit"
        _refused(before, "usage")
        return
    accounting.usage_charges_book(reference=f"batch-{model.next()}", charges=[charge])
    share, fee = split_fee(cost, platform_fee_bps())
    wallet[0] -= cost
    wallet[1] -= release
    model.move((AccountKind.CREATOR_EARNINGS, world.creators[index].pk, currency), share)
    model.move((AccountKind.PLATFORM_REVENUE, None, currency), fee)


def _refund(world: World, model: Model, data: st.DataObject) -> None:
    refundable = [item for item in model.payments if item["refunded"] < item["gross"]]
    if not refundable:
        return
    item = data.draw(st.sampled_from(refundable))
    payment = item["payment"]
    amount = data.draw(st.integers(min_value=1, max_value=item["gross"] - item["refunded"]))
    # The parts the payment credited (processor fees aside), and the bounds of each one's share of the refund.
    parts = list(
        LedgerEntry.objects.filter(
            transaction__reference=f"order:{payment.order.public_id}:paid", amount_minor__gt=0
        )
        .exclude(account__kind=AccountKind.PROCESSOR_FEES)
        .values_list("account__kind", "account__user_id", "account__currency_id", "amount_minor")
    )
    total = sum(part[3] for part in parts)
    ceilings: dict[Key, int] = {
        (kind, user, str(code)): -(-amount * value // total) for kind, user, code, value in parts
    }
    floors: dict[Key, int] = {
        (kind, user, str(code)): amount * value // total for kind, user, code, value in parts
    }
    before = _snapshot()
    reference = f"refund-{model.next()}"
    try:
        booked = accounting.refund_book(payment=payment, amount_minor=amount, reference=reference)
    except InsufficientFunds:
        _refused(before, "refund")
        # Refused only if some share could not be covered.
        assert any(
            key[0] in NON_NEGATIVE_ACCOUNTS and model.account(key)[0] - ceilings[key] < model.account(key)[1]
            for key in ceilings
        )
        return
    shares: dict[Key, int] = {}
    for kind, user, code, value in booked.entries.values_list(
        "account__kind", "account__user_id", "account__currency_id", "amount_minor"
    ):
        shares[(kind, user, str(code))] = shares.get((kind, user, str(code)), 0) + value
    refunds_key: Key = (AccountKind.REFUNDS, None, str(payment.currency_id))
    assert shares.pop(refunds_key) == amount
    assert -sum(shares.values()) == amount
    for key, share in shares.items():
        assert floors[key] <= -share <= ceilings[key], key
        model.move(key, share)
    model.move(refunds_key, amount)
    item["refunded"] += amount


def _payout_request(world: World, model: Model, data: st.DataObject) -> None:
    creator, currency = _owner_and_currency(data, model, world.creators, AccountKind.CREATOR_EARNINGS)
    earnings = model.account((AccountKind.CREATOR_EARNINGS, creator.pk, currency))
    amount = data.draw(_amounts_near(currency, earnings[0]))
    before = _snapshot()
    arguments = {"creator": creator, "currency": currency, "amount_minor": amount}
    if earnings[0] < amount:
        with pytest.raises(InsufficientFunds):
            payout_request(**arguments, wallet_address=WALLET_ADDRESS[currency])
        _refused(before, "payout request")
        return
    payout = payout_request(**arguments, wallet_address=WALLET_ADDRESS[currency])
    earnings[0] -= amount
    model.move((AccountKind.CREATOR_PAYOUT_PENDING, creator.pk, currency), amount)
    model.payouts.append({"payout": payout, "status": PayoutStatus.REQUESTED})


def _payout_settle(world: World, model: Model, data: st.DataObject) -> None:
    if not model.payouts:
        return
    item = data.draw(st.sampled_from(model.payouts))
    payout = item["payout"]
    paid = data.draw(st.booleans())
    before = _snapshot()

    def settle() -> None:
        if paid:
            signature = _signature(payout.currency_id, model.next())
            payout_record_paid(actor=world.staff, payout=payout, transaction_signature=signature)
        else:
            payout_cancel(
                actor=data.draw(st.sampled_from([world.staff, payout.creator])), payout=payout, note=""
            )

    if item["status"] != PayoutStatus.REQUESTED:
        with pytest.raises(Conflict):
            settle()
        _refused(before, "settling a settled payout")
        return
    settle()
    pending = (AccountKind.CREATOR_PAYOUT_PENDING, payout.creator_id, payout.currency_id)
    model.move(pending, -payout.amount_minor)
    if paid:
        model.move((AccountKind.PAYOUTS, None, payout.currency_id), payout.amount_minor)
        item["status"] = PayoutStatus.PAID
    else:
        model.move((AccountKind.CREATOR_EARNINGS, payout.creator_id, payout.currency_id), payout.amount_minor)
        item["status"] = PayoutStatus.CANCELLED


OPERATIONS = {
    "top_up": lambda world, model, data: _pay(world, model, data, top_up=True),
    "plan_payment": lambda world, model, data: _pay(world, model, data, top_up=False),
    "hold": _hold,
    "release": _release,
    "usage": _usage,
    "refund": _refund,
    "payout_request": _payout_request,
    "payout_settle": _payout_settle,
}


# Money comes in twice as often as any one way of taking it out, so that balances are there to be spent.
STEPS = ["top_up", "top_up", "plan_payment", "plan_payment", *OPERATIONS]


@pytest.mark.django_db
def test_ledger_conserves_money_and_never_overdraws_under_random_operations():
    world = _world()

    @settings(
        max_examples=int(os.environ.get("LEDGER_PROPERTY_EXAMPLES", "30")),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        with transaction.atomic():
            model = Model()
            for _ in range(data.draw(st.integers(min_value=1, max_value=MAX_STEPS))):
                OPERATIONS[data.draw(st.sampled_from(STEPS))](world, model, data)
                _check_invariants(model)
            transaction.set_rollback(True)

    run()


@pytest.mark.skipif(
    ON_POSTGRES, reason="SQLite only: PostgreSQL's NUMERIC(38, 0) holds these balances exactly"
)
@pytest.mark.django_db
def test_sqlite_refuses_a_balance_below_minus_two_to_the_63():
    # Three wallets of 2**62 wei each: each fits, the clearing account's total (-3 * 2**62) does not.
    refusals = []
    for _ in range(3):
        try:
            top_up(make_user("buyer"), currency="ETH", amount_minor=2**62)
        except InsufficientFunds as refused:
            refusals.append(refused.code)
    assert set(refusals) <= {"amount_too_large"}
    clearing = LedgerAccount.objects.get(kind=AccountKind.PAYMENT_CLEARING, currency="ETH")
    entries = LedgerEntry.objects.filter(account=clearing).aggregate(
        total=Sum("amount_minor", output_field=AmountField())
    )
    assert clearing.balance_minor == entries["total"]
    assert clearing.balance_minor >= -(2**63)
