"""What Helio answers, parsed defensively into small frozen dataclasses: a missing optional field becomes None, a
missing required one raises `HelioResponseError` (`helio_bad_response`), described by what is missing, never by
the body. Webhook deliveries are parsed here too (`transaction_from_payload`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from modelmarket.billing.gateways.helio.errors import HelioResponseError


# --- Results ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HelioCurrency:
    id: str
    symbol: str
    name: str | None
    decimals: int
    type: str | None
    blockchain_name: str | None
    blockchain_symbol: str | None
    engine: str | None  # SOL | EVM | BTC


@dataclass(frozen=True)
class HelioPaylink:
    id: str
    pay_url: str


@dataclass(frozen=True)
class HelioCharge:
    id: str
    page_url: str


@dataclass(frozen=True)
class HelioTransaction:
    id: str
    paylink_id: str | None
    status: str  # meta.transactionStatus: SUCCESS in Helio's examples; FAILED, PENDING seen in community code
    amount_base_units: int  # meta.amount: net of `fee` in Helio's examples
    total_amount_base_units: int | None
    fee_base_units: int
    signature: str | None
    sender: str | None
    currency_symbol: str | None
    created_at: datetime | None
    additional_json: dict[str, Any] | None
    email: str | None


@dataclass(frozen=True)
class HelioChargeStatus:
    id: str
    paid: bool  # a transaction with status SUCCESS is attached
    transaction: HelioTransaction | None


@dataclass(frozen=True)
class HelioWebhook:
    """`shared_token` comes back once, from the create call (None from list and get); it is kept out of repr."""

    id: str
    shared_token: str | None = field(default=None, repr=False)
    paylink_id: str | None = None
    target_url: str | None = None
    events: tuple[str, ...] = ()


@dataclass(frozen=True)
class HelioSubscription:
    id: str
    status: str  # ACTIVE | EXPIRED
    email: str | None
    renewal_date: datetime | None
    created_at: datetime | None
    transaction_ids: tuple[str, ...]


# --- Parsing ------------------------------------------------------------------------------------------------------
def transaction_from_payload(obj: dict[str, Any]) -> HelioTransaction:
    """A Helio transaction object (a webhook's `transactionObject`, a charge's `paylinkTx`, an item of the
    transaction lists). Required: `id`, `meta.transactionStatus`, `meta.amount`; the rest may be missing."""
    obj = object_of(obj, what="transaction")
    transaction_id = required_str(obj, "id", what="transaction")
    what = f"transaction {transaction_id}"
    meta = object_of(obj.get("meta"), what=f"{what} meta")
    customer = _nested(meta, "customerDetails")
    fee = _base_units(obj.get("fee"), field_name="fee", what=what)
    amount = _base_units(meta.get("amount"), field_name="meta.amount", what=what)
    if amount is None:
        raise HelioResponseError(f"Helio's {what} has no meta.amount.")
    return HelioTransaction(
        id=transaction_id,
        paylink_id=optional_str(obj, "paylinkId"),
        status=required_str(meta, "transactionStatus", what=what),
        amount_base_units=amount,
        total_amount_base_units=_base_units(
            meta.get("totalAmount"), field_name="meta.totalAmount", what=what
        ),
        fee_base_units=fee or 0,
        signature=optional_str(meta, "transactionSignature"),
        sender=optional_str(meta, "senderPK"),
        currency_symbol=_currency_symbol(meta),
        created_at=_parse_datetime(obj.get("createdAt")),
        additional_json=decode_additional_json(customer.get("additionalJSON")),
        email=optional_str(customer, "email"),
    )


def decode_additional_json(value: Any) -> dict[str, Any] | None:
    """`customerDetails.additionalJSON` as a dict. It is a JSON string, sometimes encoded twice (a JSON string
    whose value is another JSON string): decode up to twice. Anything that does not end as a dict is None."""
    for _ in range(3):  # the value as given, then up to two decodings
        if isinstance(value, dict):
            return value
        if not isinstance(value, str):
            return None
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return None


def currency_from_payload(obj: Any) -> HelioCurrency:
    obj = object_of(obj, what="currency")
    what = f"currency {obj.get('id') or '(no id)'}"
    decimals = obj.get("decimals")
    if isinstance(decimals, bool) or not isinstance(decimals, int) or decimals < 0:
        raise HelioResponseError(f"Helio's {what} has no usable decimals.")
    blockchain = _nested(obj, "blockchain")
    engine = _nested(blockchain, "engine")
    return HelioCurrency(
        id=required_str(obj, "id", what="currency"),
        symbol=required_str(obj, "symbol", what=what),
        name=optional_str(obj, "name"),
        decimals=decimals,
        type=optional_str(obj, "type"),
        blockchain_name=optional_str(blockchain, "name"),
        blockchain_symbol=optional_str(blockchain, "symbol"),
        engine=optional_str(engine, "type"),
    )


def webhook_from_payload(obj: Any) -> HelioWebhook:
    obj = object_of(obj, what="webhook")
    events = obj.get("events")
    return HelioWebhook(
        id=required_str(obj, "id", what="webhook"),
        shared_token=optional_str(obj, "sharedToken"),
        paylink_id=optional_str(obj, "paylinkId") or optional_str(obj, "paylink"),
        target_url=optional_str(obj, "targetUrl"),
        events=tuple(str(event) for event in events) if isinstance(events, list) else (),
    )


def subscription_from_payload(obj: Any) -> HelioSubscription:
    obj = object_of(obj, what="subscription")
    subscription_id = required_str(obj, "id", what="subscription")
    transactions = obj.get("transactions") if isinstance(obj.get("transactions"), list) else []
    # Helio's docs show `transactions[...]` without saying whether it holds objects or ids: take either.
    transaction_ids = [item.get("id") if isinstance(item, dict) else item for item in transactions]
    return HelioSubscription(
        id=subscription_id,
        status=required_str(obj, "status", what=f"subscription {subscription_id}"),
        email=optional_str(obj, "email"),
        renewal_date=_parse_datetime(obj.get("renewalDate")),
        created_at=_parse_datetime(obj.get("createdAt")),
        transaction_ids=tuple(str(item) for item in transaction_ids if isinstance(item, str) and item),
    )


def _currency_symbol(meta: dict[str, Any]) -> str | None:
    currency = meta.get("currency")
    if isinstance(currency, dict):  # community code shows both a symbol and a currency object here
        currency = currency.get("symbol")
    if isinstance(currency, str) and currency:
        return currency
    token_quote = meta.get("tokenQuote")
    return optional_str(token_quote, "to") if isinstance(token_quote, dict) else None


def _nested(obj: Mapping[str, Any], key: str) -> dict[str, Any]:
    """An optional nested object: {} when missing or not an object."""
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def object_of(value: Any, *, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise HelioResponseError(f"Helio's {what} is not a JSON object.")
    return value


def items_of(payload: Any, *, what: str) -> list[Any]:
    """A list answer: a bare JSON array, or (defensively) an object wrapping one under a usual key."""
    if isinstance(payload, dict):
        payload = next(
            (payload[key] for key in ("data", "results", "items") if isinstance(payload.get(key), list)),
            payload,
        )
    if not isinstance(payload, list):
        raise HelioResponseError(f"Helio's {what} is not a JSON array.")
    return payload


def required_str(obj: Mapping[str, Any], key: str, *, what: str) -> str:
    value = optional_str(obj, key)
    if value is None:
        raise HelioResponseError(f"Helio's {what} has no {key}.")
    return value


def optional_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if isinstance(value, bool) or value is None or value == "":
        return None
    return str(value) if isinstance(value, str | int) else None


def _base_units(value: Any, *, field_name: str, what: str) -> int | None:
    """An amount in base units: Helio sends integer strings ("98000"); a plain integer is accepted too.
    Missing is None; anything else (decimals, negatives, text) is a bad response, never a guess."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise HelioResponseError(f"Helio's {what} has a {field_name} that is not an integer amount.")


def _parse_datetime(value: Any) -> datetime | None:
    """ISO-8601 (with Z or an offset; naive means UTC) or epoch milliseconds; None when absent or unreadable."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
