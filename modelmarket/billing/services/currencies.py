"""Helio's ids for our currencies, resolved from `GET /currency/all` at run time (never hard-coded).

A currency matches Helio's by symbol and chain: our `chain` against Helio's `blockchain` (its name or its symbol),
a currency without a chain (USD) against Helio's entry without a blockchain. Helio must agree on the number of
decimals too, since amounts go over the wire in base units: a currency whose decimals differ is left without an
id (and so cannot be sold through Helio) rather than priced a thousand times wrong."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from modelmarket.billing.gateways.helio.client import HelioClient
from modelmarket.billing.gateways.helio.payloads import HelioCurrency
from modelmarket.billing.models import Chain, Currency
from modelmarket.core.exceptions import UpstreamError

logger = logging.getLogger(__name__)

# Helio's blockchain names and symbols for the chains we settle on (matched case-insensitively).
CHAIN_NAMES: dict[str, frozenset[str]] = {
    Chain.SOLANA: frozenset({"solana", "sol"}),
    Chain.ETHEREUM: frozenset({"ethereum", "eth"}),
    Chain.BASE: frozenset({"base"}),
    Chain.POLYGON: frozenset({"polygon", "pol", "matic"}),
    Chain.BITCOIN: frozenset({"bitcoin", "btc"}),
}
# A checkout that finds a currency without an id asks Helio again, but not more often than this.
REFRESH_ON_DEMAND_AFTER = timedelta(minutes=10)


class HelioCurrencyUnsupported(UpstreamError):
    default_code = "helio_currency_unsupported"
    default_message = "Helio does not offer this currency."


@dataclass
class CurrencyRefresh:
    """What a refresh did: codes given an id (or a new one), codes Helio does not offer, codes whose decimals
    disagree with Helio's."""

    updated: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    decimals_mismatch: list[str] = field(default_factory=list)


def _chain_matches(currency: Currency, helio: HelioCurrency) -> bool:
    if not currency.chain:
        return helio.blockchain_name is None and helio.blockchain_symbol is None
    names = CHAIN_NAMES.get(currency.chain, frozenset({currency.chain.lower()}))
    return any(
        value is not None and value.lower() in names
        for value in (helio.blockchain_name, helio.blockchain_symbol)
    )


def helio_currency_match(currency: Currency, offered: list[HelioCurrency]) -> HelioCurrency | None:
    """Helio's currency for ours: same symbol (case-insensitive) on the same chain; None when Helio has none."""
    for helio in offered:
        if helio.symbol.upper() == currency.code.upper() and _chain_matches(currency, helio):
            return helio
    return None


def currencies_refresh(*, client: HelioClient, now: datetime | None = None) -> CurrencyRefresh:
    """Read Helio's currency list and store each of our currencies' Helio id (cleared when Helio no longer offers
    it, or disagrees on its decimals). Raises UpstreamError when Helio cannot be read; an empty list changes
    nothing (a glitch must not unset every id)."""
    offered = client.currencies()  # outside the transaction: HTTP
    now = now or timezone.now()
    result = CurrencyRefresh()
    if not offered:
        logger.warning("helio currency list is empty; currency ids left as they were")
        return result
    with transaction.atomic():
        for currency in Currency.objects.select_for_update().order_by("code"):
            match = helio_currency_match(currency, offered)
            helio_id = ""
            if match is None:
                result.unknown.append(currency.code)
            elif match.decimals != currency.decimals:
                result.decimals_mismatch.append(currency.code)
                logger.error(
                    "helio currency decimals disagree with ours",
                    extra={"currency": currency.code, "ours": currency.decimals, "helio": match.decimals},
                )
            else:
                helio_id = match.id
            if helio_id and helio_id != currency.helio_currency_id:
                result.updated.append(currency.code)
            currency.helio_currency_id = helio_id
            currency.helio_refreshed_at = now
            currency.save(update_fields=["helio_currency_id", "helio_refreshed_at"])
    logger.info(
        "helio currencies refreshed",
        extra={"updated": result.updated, "unknown": result.unknown, "mismatch": result.decimals_mismatch},
    )
    return result


def currency_helio_id(*, currency: Currency, client: HelioClient) -> str:
    """Helio's id for `currency`, refreshing the table first when the id is missing (at most every
    REFRESH_ON_DEMAND_AFTER). Raises HelioCurrencyUnsupported when Helio does not offer it."""
    if currency.helio_currency_id:
        return currency.helio_currency_id
    refreshed = currency.helio_refreshed_at
    if refreshed is None or timezone.now() - refreshed >= REFRESH_ON_DEMAND_AFTER:
        currencies_refresh(client=client)
        currency.refresh_from_db(fields=["helio_currency_id", "helio_refreshed_at"])
    if not currency.helio_currency_id:
        chain = f" on {currency.get_chain_display()}" if currency.chain else ""
        raise HelioCurrencyUnsupported(
            f"Helio does not offer {currency.code}{chain} (with {currency.decimals} decimals), so it cannot "
            "take this payment.",
            details={"currency": currency.code},
        )
    return currency.helio_currency_id
