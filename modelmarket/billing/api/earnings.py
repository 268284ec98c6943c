"""Billing API: a creator's earnings and payouts, staff recording payouts, and payment analytics.

Amounts are integers of the currency's minor units (`amount_minor`, exact at any size: ETH has 18 decimals) with the
same amount as a decimal string for people (`amount`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Header, Query, Router, Schema
from pydantic import Field

from modelmarket.accounts.authentication import api_auth
from modelmarket.accounts.models import ApiKeyScope, User
from modelmarket.billing.models import Payout
from modelmarket.billing.money import currency_decimals, format_amount
from modelmarket.billing.selectors import analytics as analytics_selectors
from modelmarket.billing.selectors import earnings as selectors
from modelmarket.billing.services import payouts as services
from modelmarket.billing.services.accounting import platform_fee_bps
from modelmarket.core.api.idempotency import idempotent
from modelmarket.core.api.pagination import add_next_link, paginate
from modelmarket.core.api.schemas import ERROR_RESPONSES, ErrorOut, StrictIn
from modelmarket.core.exceptions import NotFound

router = Router(tags=["creator"])
READ = api_auth(ApiKeyScope.READ)
MANAGE = api_auth(ApiKeyScope.MANAGE)
ERRORS: dict[int, type[Schema]] = {**ERROR_RESPONSES, 402: ErrorOut}


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined]


def _amount(amount_minor: int, currency: str) -> str:
    return format_amount(amount_minor, currency_decimals(currency))


# --- Schemas ------------------------------------------------------------------------------------------------------
class PayoutIn(StrictIn):
    currency: str = Field(max_length=10, description="A crypto currency code, e.g. USDC.")
    amount_minor: int = Field(strict=True, description="Minor units (USDC: 1 = 0.000001); at least 1.")
    wallet_address: str = Field(max_length=200, description="An address on the currency's chain.")


class PayoutPaidIn(StrictIn):
    transaction_signature: str = Field(
        max_length=200, description="The on-chain transfer's signature or hash."
    )


class PayoutCancelIn(StrictIn):
    note: str = Field(default="", max_length=300)


class PayoutOut(Schema):
    id: str
    currency: str
    amount_minor: int
    amount: str
    wallet_address: str
    status: str
    transaction_signature: str | None
    note: str
    created_at: datetime
    paid_at: datetime | None


class StaffPayoutOut(PayoutOut):
    creator_id: int
    creator_email: str


class PayoutPage(Schema):
    items: list[PayoutOut]
    next_cursor: str | None


class StaffPayoutPage(Schema):
    items: list[StaffPayoutOut]
    next_cursor: str | None


class CurrencyEarningsOut(Schema):
    currency: str
    pending_minor: int
    requested_minor: int
    paid_out_minor: int
    sales_gross_minor: int
    sales_fee_minor: int
    sales_share_minor: int
    usage_share_minor: int
    refunded_share_minor: int
    net_share_minor: int
    pending: str
    requested: str
    paid_out: str


class ModelEarningsOut(Schema):
    model: str = Field(description="The model's slug.")
    name: str
    currency: str
    sales_gross_minor: int
    sales_fee_minor: int
    sales_share_minor: int
    usage_gross_minor: int
    usage_fee_minor: int
    usage_share_minor: int
    refunded_share_minor: int
    net_share_minor: int


class EarningsOut(Schema):
    platform_fee_bps: int
    currencies: list[CurrencyEarningsOut]
    models: list[ModelEarningsOut]


class RevenueDayOut(Schema):
    day: date
    revenue_minor: int


class CurrencyRevenueOut(Schema):
    currency: str
    revenue_minor: int
    creator_share_minor: int
    platform_fee_minor: int
    refunded_minor: int
    days: list[RevenueDayOut]


class ModelRevenueOut(Schema):
    model: str
    name: str
    currency: str
    revenue_minor: int
    creator_share_minor: int
    platform_fee_minor: int
    sales_minor: int
    usage_minor: int
    orders_created: int
    orders_paid: int


class ConversionOut(Schema):
    created: int
    paid: int
    failed: int
    expired: int
    cancelled: int
    pending: int
    conversion_rate: float | None
    failure_rate: float | None


class RevenueOut(Schema):
    since: date
    until: date
    days: int
    currencies: list[CurrencyRevenueOut]
    models: list[ModelRevenueOut]
    orders: ConversionOut


def _payout_out(payout: Payout, *, staff: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": payout.public_id,
        "currency": payout.currency_id,
        "amount_minor": payout.amount_minor,
        "amount": _amount(payout.amount_minor, payout.currency_id),
        "wallet_address": payout.wallet_address,
        "status": payout.status,
        "transaction_signature": payout.transaction_signature,
        "note": payout.note,
        "created_at": payout.created_at,
        "paid_at": payout.paid_at,
    }
    if staff:
        body |= {"creator_id": payout.creator_id, "creator_email": payout.creator.email}
    return body


# --- Creator: earnings and payouts --------------------------------------------------------------------------------
@router.get("/creator/earnings", response={200: EarningsOut, **ERRORS}, auth=READ)
def creator_earnings(request: HttpRequest) -> dict[str, Any]:
    """Your earnings per currency — pending (yours to request), requested, paid out — and per model: plan sales
    (gross, platform fee, your share), pay-as-you-go usage and refunds, all from the ledger."""
    summary = selectors.creator_earnings_summary(creator=selectors.creator_require(_user(request)))
    return {
        "platform_fee_bps": platform_fee_bps(),
        "currencies": [
            {
                **vars(item),
                "pending": _amount(item.pending_minor, item.currency),
                "requested": _amount(item.requested_minor, item.currency),
                "paid_out": _amount(item.paid_out_minor, item.currency),
            }
            for item in summary.currencies
        ],
        "models": [
            {**vars(item), "model": item.model_slug, "name": item.model_name} for item in summary.models
        ],
    }


@router.get("/creator/payouts", response={200: PayoutPage, **ERRORS}, auth=READ)
def creator_payouts(
    request: HttpRequest,
    response: HttpResponse,
    status: Literal["requested", "paid", "cancelled"] | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> dict[str, Any]:
    """Your payout requests, newest first."""
    payouts = selectors.payout_list(actor=selectors.creator_require(_user(request)), status=status)
    page = paginate(payouts, order_field="created_at", cursor=cursor, limit=limit)
    add_next_link(request, response, page.next_cursor)
    return {"items": [_payout_out(payout) for payout in page.items], "next_cursor": page.next_cursor}


@router.post("/creator/payouts", response={201: PayoutOut, **ERRORS}, auth=MANAGE)
def creator_payout_request(
    request: HttpRequest,
    payload: PayoutIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
) -> JsonResponse:
    """Ask for pending earnings to be sent to a wallet on the currency's chain. 402 `insufficient_credit` when the
    amount is more than is pending; 400 `invalid_wallet_address`. Send an `Idempotency-Key` to retry safely."""
    creator = selectors.creator_require(_user(request))

    def run() -> tuple[int, dict[str, Any]]:
        payout = services.payout_request(creator=creator, **payload.model_dump())
        return 201, PayoutOut(**_payout_out(payout)).model_dump(mode="json")

    return idempotent(request, key=idempotency_key, owner=f"user:{creator.pk}", run=run)


@router.post("/creator/payouts/{payout_id}/cancel", response={200: PayoutOut, **ERRORS}, auth=MANAGE)
def creator_payout_cancel(request: HttpRequest, payout_id: str, payload: PayoutCancelIn) -> dict[str, Any]:
    """Withdraw a payout request that was not sent yet; the amount returns to your pending earnings."""
    user = _user(request)
    payout = selectors.payout_get(actor=user, public_id=payout_id)
    if payout.creator_id != user.pk:
        raise NotFound("No such payout.", code="payout_not_found")
    return _payout_out(services.payout_cancel(actor=user, payout=payout, note=payload.note))


# --- Staff: recording payouts -------------------------------------------------------------------------------------
@router.get("/staff/payouts", response={200: StaffPayoutPage, **ERRORS}, auth=READ, tags=["staff"])
def staff_payouts(
    request: HttpRequest,
    response: HttpResponse,
    status: Literal["requested", "paid", "cancelled"] | None = "requested",
    cursor: str | None = None,
    limit: int = 20,
) -> dict[str, Any]:
    """Payouts of every creator, oldest first; by default those waiting to be sent."""
    payouts = selectors.payout_queue(actor=_user(request), status=status)
    page = paginate(payouts, order_field="created_at", descending=False, cursor=cursor, limit=limit)
    add_next_link(request, response, page.next_cursor)
    return {
        "items": [_payout_out(payout, staff=True) for payout in page.items],
        "next_cursor": page.next_cursor,
    }


@router.post(
    "/staff/payouts/{payout_id}/paid", response={200: StaffPayoutOut, **ERRORS}, auth=MANAGE, tags=["staff"]
)
def staff_payout_paid(request: HttpRequest, payout_id: str, payload: PayoutPaidIn) -> dict[str, Any]:
    """Record that a requested payout was sent, with the transfer's on-chain signature. 409 when it was already
    recorded or cancelled, or the signature is already recorded."""
    user = _user(request)
    payout = selectors.payout_get(actor=user, public_id=payout_id)
    payout = services.payout_record_paid(
        actor=user, payout=payout, transaction_signature=payload.transaction_signature
    )
    return _payout_out(payout, staff=True)


@router.post(
    "/staff/payouts/{payout_id}/cancel", response={200: StaffPayoutOut, **ERRORS}, auth=MANAGE, tags=["staff"]
)
def staff_payout_cancel(request: HttpRequest, payout_id: str, payload: PayoutCancelIn) -> dict[str, Any]:
    """Cancel a requested payout (the creator is told, with the note); the amount returns to their earnings."""
    user = _user(request)
    payout = selectors.payout_get(actor=user, public_id=payout_id)
    if not user.is_staff:
        raise NotFound("No such payout.", code="payout_not_found")
    return _payout_out(services.payout_cancel(actor=user, payout=payout, note=payload.note), staff=True)


# --- Payment analytics --------------------------------------------------------------------------------------------
class RevenueQuery(Schema):
    days: int = Field(default=30, description="The last N UTC days, today included (1 to 366).")


class StaffRevenueQuery(RevenueQuery):
    creator: int | None = Field(default=None, description="One creator's user id; all when absent.")


def _revenue_out(result: analytics_selectors.PaymentAnalytics) -> dict[str, Any]:
    orders = result.orders
    return {
        "since": result.since,
        "until": result.until,
        "days": result.days,
        "currencies": [
            {
                **{key: value for key, value in vars(item).items() if key != "days"},
                "days": [{"day": day, "revenue_minor": amount} for day, amount in item.days],
            }
            for item in result.currencies
        ],
        "models": [
            {**vars(item), "model": item.model_slug, "name": item.model_name} for item in result.models
        ],
        "orders": {
            **vars(orders),
            "conversion_rate": orders.conversion_rate,
            "failure_rate": orders.failure_rate,
        },
    }


@router.get("/creator/revenue", response={200: RevenueOut, **ERRORS}, auth=READ)
def creator_revenue(request: HttpRequest, query: Query[RevenueQuery]) -> dict[str, Any]:
    """Your models' revenue per day, model and currency (plan payments and pay-as-you-go charges booked in the
    ledger), and your orders' conversion and failure rates."""
    return _revenue_out(analytics_selectors.payment_analytics(actor=_user(request), days=query.days))


@router.get("/staff/revenue", response={200: RevenueOut, **ERRORS}, auth=READ, tags=["staff"])
def staff_revenue(request: HttpRequest, query: Query[StaffRevenueQuery]) -> dict[str, Any]:
    """Every model's revenue (or one creator's), with order conversion and failure rates."""
    user = _user(request)
    if not user.is_staff:
        raise NotFound("No such page.", code="not_found")
    creator = None
    if query.creator is not None:
        creator = User.objects.filter(pk=query.creator).first() if 0 < query.creator < 2**63 else None
        if creator is None:
            raise NotFound("No such creator.", code="creator_not_found")
    return _revenue_out(analytics_selectors.payment_analytics(actor=user, days=query.days, creator=creator))
