"""Billing API: the caller's prepaid credit (pay-as-you-go calls are paid from it). Buying credit is an order
(`POST /orders` with a top-up), not a wallet endpoint."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema
from pydantic import Field

from modelmarket.accounts.authentication import api_auth
from modelmarket.accounts.models import ApiKeyScope, User
from modelmarket.billing.models import LedgerEntry
from modelmarket.billing.selectors.wallet import wallet_balances, wallet_entries, wallet_entry_amount
from modelmarket.core.api.pagination import add_next_link, paginate
from modelmarket.core.api.schemas import ERROR_RESPONSES

router = Router(tags=["billing"])
READ = api_auth(ApiKeyScope.READ)


class BalanceOut(Schema):
    currency: str
    balance_minor: int
    held_minor: int = Field(description="Reserved for pay-as-you-go calls in flight.")
    available_minor: int
    available: str = Field(description='What can be spent now, in whole units: "12.50".')


class WalletOut(Schema):
    balances: list[BalanceOut]


class EntryOut(Schema):
    id: int
    transaction: str
    kind: str = Field(description="top_up, usage, refund or adjustment.")
    description: str
    currency: str
    amount_minor: int = Field(description="Positive: credit added. Negative: credit spent.")
    amount: str
    order: str | None
    model: str | None = Field(description="The model's slug, for usage charges.")
    created_at: datetime


class EntryPage(Schema):
    items: list[EntryOut]
    next_cursor: str | None


class EntriesQuery(Schema):
    currency: str | None = Field(default=None, max_length=10, description="Only this currency's entries.")
    cursor: str | None = Field(default=None, description="next_cursor from the previous page.")
    limit: int = Field(default=20, description="1 to 100.")


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined]


def entry_out(entry: LedgerEntry) -> dict[str, Any]:
    order = entry.transaction.order
    return {
        "id": entry.pk,
        "transaction": entry.transaction.public_id,
        "kind": entry.transaction.kind,
        "description": entry.transaction.description,
        "currency": entry.account.currency_id,
        "amount_minor": entry.amount_minor,
        "amount": wallet_entry_amount(entry),
        "order": order.public_id if order else None,
        "model": entry.model.slug if entry.model else None,
        "created_at": entry.created_at,
    }


@router.get("/wallet", response={200: WalletOut, **ERROR_RESPONSES}, auth=READ)
def wallet(request: HttpRequest) -> dict[str, Any]:
    """Your prepaid credit per currency."""
    balances = wallet_balances(user=_user(request))
    return {
        "balances": [
            {
                "currency": balance.currency,
                "balance_minor": balance.balance_minor,
                "held_minor": balance.held_minor,
                "available_minor": balance.available_minor,
                "available": balance.available,
            }
            for balance in balances
        ]
    }


@router.get("/wallet/entries", response={200: EntryPage, **ERROR_RESPONSES}, auth=READ)
def wallet_entry_list(
    request: HttpRequest, response: HttpResponse, query: Query[EntriesQuery]
) -> dict[str, Any]:
    """Movements of your credit, newest first: top-ups in, pay-as-you-go charges and refunds out. Cursor
    pagination (`next_cursor`, and a `Link` header)."""
    entries = wallet_entries(user=_user(request), currency=(query.currency or "").upper() or None)
    page = paginate(entries, order_field="created_at", cursor=query.cursor, limit=query.limit)
    add_next_link(request, response, page.next_cursor)
    return {"items": [entry_out(entry) for entry in page.items], "next_cursor": page.next_cursor}
