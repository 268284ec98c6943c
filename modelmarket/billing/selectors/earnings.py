"""A creator's earnings and payouts, read from the ledger.

Every figure is a database SUM over ledger entries (or payouts), grouped by currency — amounts in different
currencies are never added together. Per model, entries are attributed by `LedgerEntry.model`: a plan sale books the
creator's share and the platform's fee with the model on both entries; a pay-as-you-go charge likewise; a refund
takes back each part with the same attribution. The platform's processor-fee entries carry no model and are not a
creator's concern. Query count is fixed: one for balances, one for paid-out totals, one for the per-model figures."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from modelmarket.accounts.models import User
from modelmarket.accounts.selectors import user_is_creator
from modelmarket.billing.models import (
    AccountKind,
    AmountField,
    LedgerAccount,
    LedgerEntry,
    Payout,
    PayoutStatus,
    TransactionKind,
)
from modelmarket.core.exceptions import NotFound


@dataclass
class ModelEarnings:
    """One model's figures in one currency. `sales_*` are plan payments (gross = fee + share); `usage_*` are
    pay-as-you-go charges; `refunded_share` is what refunds took back from the creator; `net_share` is what the
    model brought the creator in all (sales share + usage share - refunded share)."""

    model_id: int
    model_slug: str
    model_name: str
    currency: str
    sales_gross_minor: int = 0
    sales_fee_minor: int = 0
    sales_share_minor: int = 0
    usage_gross_minor: int = 0
    usage_fee_minor: int = 0
    usage_share_minor: int = 0
    refunded_share_minor: int = 0
    net_share_minor: int = 0


@dataclass
class CurrencyEarnings:
    """A creator's position in one currency: `pending_minor` is earned and not yet requested, `requested_minor`
    is asked for and not yet sent, `paid_out_minor` was sent. The other totals add up the per-model figures."""

    currency: str
    pending_minor: int = 0
    requested_minor: int = 0
    paid_out_minor: int = 0
    sales_gross_minor: int = 0
    sales_fee_minor: int = 0
    sales_share_minor: int = 0
    usage_share_minor: int = 0
    refunded_share_minor: int = 0
    net_share_minor: int = 0


@dataclass
class EarningsSummary:
    currencies: list[CurrencyEarnings] = field(default_factory=list)
    models: list[ModelEarnings] = field(default_factory=list)

    def currency(self, code: str) -> CurrencyEarnings | None:
        return next((item for item in self.currencies if item.currency == code), None)


def _sum(condition: Q, *, negate: bool = False) -> Coalesce:
    """SUM(amount) over the rows matching `condition`, 0 when none, as an int (AmountField converts)."""
    total = Sum("amount_minor", filter=condition, output_field=AmountField())
    return Coalesce(-total if negate else total, Value(0), output_field=AmountField())


_CREATOR = Q(account__kind=AccountKind.CREATOR_EARNINGS)
_PLATFORM = Q(account__kind=AccountKind.PLATFORM_REVENUE)
_SALE = Q(transaction__kind=TransactionKind.PAYMENT)
_USAGE = Q(transaction__kind=TransactionKind.USAGE)
_REFUND = Q(transaction__kind=TransactionKind.REFUND)


def creator_require(user: User) -> User:
    """The user, if they are a creator; NotFound otherwise (creator pages and endpoints do not exist for others)."""
    if not user_is_creator(user):
        raise NotFound("Creator earnings are for creators.", code="not_a_creator")
    return user


def _model_rows(creator: User) -> list[ModelEarnings]:
    entries = LedgerEntry.objects.filter(
        (_CREATOR & Q(account__user=creator)) | (_PLATFORM & Q(model__creator=creator)),
        model__isnull=False,
    )
    rows = (
        entries.values("model_id", "model__slug", "model__name", "account__currency_id")
        .annotate(
            sales_fee=_sum(_SALE & _PLATFORM),
            sales_share=_sum(_SALE & _CREATOR),
            usage_fee=_sum(_USAGE & _PLATFORM),
            usage_share=_sum(_USAGE & _CREATOR),
            refunded_share=_sum(_REFUND & _CREATOR, negate=True),
            net_share=_sum(_CREATOR),
        )
        .order_by("model__name", "model_id", "account__currency_id")
    )
    return [
        ModelEarnings(
            model_id=row["model_id"],
            model_slug=row["model__slug"],
            model_name=row["model__name"],
            currency=str(row["account__currency_id"]),
            sales_gross_minor=row["sales_fee"] + row["sales_share"],
            sales_fee_minor=row["sales_fee"],
            sales_share_minor=row["sales_share"],
            usage_gross_minor=row["usage_fee"] + row["usage_share"],
            usage_fee_minor=row["usage_fee"],
            usage_share_minor=row["usage_share"],
            refunded_share_minor=row["refunded_share"],
            net_share_minor=row["net_share"],
        )
        for row in rows
    ]


def creator_earnings_summary(*, creator: User) -> EarningsSummary:
    """The creator's earnings per currency and per model (three queries, whatever the number of entries)."""
    currencies: dict[str, CurrencyEarnings] = {}

    def of(code: str) -> CurrencyEarnings:
        return currencies.setdefault(code, CurrencyEarnings(currency=code))

    balances = LedgerAccount.objects.filter(
        user=creator, kind__in=[AccountKind.CREATOR_EARNINGS, AccountKind.CREATOR_PAYOUT_PENDING]
    ).values_list("kind", "currency_id", "balance_minor")
    for kind, code, balance in balances:
        if kind == AccountKind.CREATOR_EARNINGS:
            of(str(code)).pending_minor = int(balance)
        else:
            of(str(code)).requested_minor = int(balance)
    paid = (
        Payout.objects.filter(creator=creator, status=PayoutStatus.PAID)
        .values("currency_id")
        .annotate(total=Sum("amount_minor", output_field=AmountField()))
        .order_by()
    )
    for row in paid:
        of(str(row["currency_id"])).paid_out_minor = int(row["total"])
    models = _model_rows(creator)
    for item in models:
        totals = of(item.currency)
        totals.sales_gross_minor += item.sales_gross_minor
        totals.sales_fee_minor += item.sales_fee_minor
        totals.sales_share_minor += item.sales_share_minor
        totals.usage_share_minor += item.usage_share_minor
        totals.refunded_share_minor += item.refunded_share_minor
        totals.net_share_minor += item.net_share_minor
    return EarningsSummary(currencies=[currencies[code] for code in sorted(currencies)], models=models)


def payout_list(*, actor: User, status: str | None = None) -> QuerySet[Payout]:
    """The actor's own payouts, newest first (`status` narrows them)."""
    payouts = Payout.objects.filter(creator=actor).select_related("currency")
    if status:
        payouts = payouts.filter(status=status)
    return payouts.order_by("-created_at", "-id")


def payout_queue(*, actor: User, status: str | None = PayoutStatus.REQUESTED) -> QuerySet[Payout]:
    """Staff: payouts of every creator (by default those waiting to be sent), oldest first. NotFound for others."""
    if not (actor.is_active and actor.is_staff):
        raise NotFound("No such page.", code="not_found")
    payouts = Payout.objects.select_related("creator", "currency", "recorded_by")
    if status:
        payouts = payouts.filter(status=status)
    return payouts.order_by("created_at", "id")


def payout_get(*, actor: User, public_id: str) -> Payout:
    """A payout its creator or staff may see; NotFound otherwise."""
    payouts = Payout.objects.select_related("creator", "currency")
    if not (actor.is_active and actor.is_staff):
        payouts = payouts.filter(creator=actor)
    payout = payouts.filter(public_id=public_id).first()
    if payout is None:
        raise NotFound("No such payout.", code="payout_not_found")
    return payout
