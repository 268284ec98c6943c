"""Helio currency ids from `GET /currency/all` (FakeHelio at the transport): matched by symbol and chain, refused
when the decimals disagree, cleared when Helio stops offering one, untouched when Helio fails or answers nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from modelmarket.billing.gateways.helio import gateway as helio_gateway
from modelmarket.billing.gateways.helio.client import HelioClient
from modelmarket.billing.models import Currency
from modelmarket.billing.services.currencies import (
    HelioCurrencyUnsupported,
    currencies_refresh,
    currency_helio_id,
    helio_currency_match,
)
from modelmarket.billing.tests.helio_fake import (
    BTC_ID,
    ETH_ID,
    HELIO_TEST_API_BASE,
    HELIO_TEST_PAY_BASE,
    HELIO_TEST_PUBLIC_KEY,
    HELIO_TEST_SECRET_KEY,
    HELIO_TEST_WALLET_ID,
    SOL_ID,
    USD_ID,
    USDC_BASE_ID,
    USDC_POLYGON_ID,
    USDC_SOLANA_ID,
    FakeHelio,
    unavailable,
)
from modelmarket.core.exceptions import UpstreamError

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _helio_settings(settings):
    settings.HELIO_API_BASE = HELIO_TEST_API_BASE
    settings.HELIO_PAY_BASE = HELIO_TEST_PAY_BASE
    settings.HELIO_PUBLIC_KEY = HELIO_TEST_PUBLIC_KEY
    settings.HELIO_SECRET_KEY = HELIO_TEST_SECRET_KEY
    settings.HELIO_WALLET_ID = HELIO_TEST_WALLET_ID


@pytest.fixture
def helio():
    return FakeHelio()


@pytest.fixture
def client(helio):
    return HelioClient(transport=helio.transport(), sleep=lambda seconds: None)


def _ids() -> dict[str, str]:
    return dict(Currency.objects.values_list("code", "helio_currency_id"))


def test_refresh_matches_each_currency_by_symbol_and_chain(client, helio):
    result = currencies_refresh(client=client)

    assert _ids() == {"USD": USD_ID, "USDC": USDC_SOLANA_ID, "SOL": SOL_ID, "ETH": ETH_ID, "BTC": BTC_ID}
    assert sorted(result.updated) == ["BTC", "ETH", "SOL", "USD", "USDC"]
    assert result.unknown == result.decimals_mismatch == []
    assert all(Currency.objects.values_list("helio_refreshed_at", flat=True))
    request = helio.requests[-1]
    assert (request.method, request.url.path) == ("GET", "/v1/currency/all")
    assert "apiKey" not in request.url.params
    assert "Authorization" not in request.headers


def test_usdc_on_another_chain_gets_that_chains_id(db):
    offered = HelioClient(transport=FakeHelio().transport()).currencies()
    for chain, expected in (("base", USDC_BASE_ID), ("polygon", USDC_POLYGON_ID), ("solana", USDC_SOLANA_ID)):
        match = helio_currency_match(Currency(code="USDC", decimals=6, chain=chain), offered)
        assert match is not None
        assert match.id == expected
    assert helio_currency_match(Currency(code="USDC", decimals=6, chain="bitcoin"), offered) is None


def test_a_currency_whose_decimals_disagree_gets_no_id(client, helio):
    Currency.objects.filter(code="SOL").update(helio_currency_id="stale")
    next(item for item in helio.currencies if item["id"] == SOL_ID)["decimals"] = 6

    result = currencies_refresh(client=client)

    assert result.decimals_mismatch == ["SOL"]
    assert _ids()["SOL"] == ""


def test_a_currency_helio_no_longer_offers_loses_its_id(client, helio):
    Currency.objects.filter(code="BTC").update(helio_currency_id=BTC_ID)
    helio.currencies = [item for item in helio.currencies if item["id"] != BTC_ID]

    result = currencies_refresh(client=client)

    assert result.unknown == ["BTC"]
    assert _ids()["BTC"] == ""
    assert _ids()["ETH"] == ETH_ID


def test_an_empty_answer_changes_nothing(client, helio):
    Currency.objects.filter(code="USDC").update(helio_currency_id=USDC_SOLANA_ID)
    helio.currencies = []

    assert currencies_refresh(client=client).updated == []
    assert _ids()["USDC"] == USDC_SOLANA_ID
    assert not Currency.objects.filter(helio_refreshed_at__isnull=False).exists()


def test_helio_failing_changes_nothing_and_raises(client, helio):
    Currency.objects.filter(code="USDC").update(helio_currency_id=USDC_SOLANA_ID)
    helio.fail(*[unavailable(503)] * 4, path="/currency")

    with pytest.raises(UpstreamError):
        currencies_refresh(client=client)
    assert _ids() == {"USD": "", "USDC": USDC_SOLANA_ID, "SOL": "", "ETH": "", "BTC": ""}


def test_currency_helio_id_refreshes_on_demand_then_waits_before_asking_again(client, helio):
    usdc = Currency.objects.get(code="USDC")
    assert currency_helio_id(currency=usdc, client=client) == USDC_SOLANA_ID

    helio.currencies = [item for item in helio.currencies if item["symbol"] != "BTC"]
    currencies_refresh(client=client)
    btc = Currency.objects.get(code="BTC")
    asked = len(helio.requests)
    with pytest.raises(HelioCurrencyUnsupported) as caught:
        currency_helio_id(currency=btc, client=client)
    assert caught.value.code == "helio_currency_unsupported"
    assert caught.value.message == (
        "Helio does not offer BTC on Bitcoin (with 8 decimals), so it cannot take this payment."
    )
    assert len(helio.requests) == asked  # refreshed a moment ago: not asked again

    Currency.objects.filter(code="BTC").update(helio_refreshed_at=timezone.now() - timedelta(hours=1))
    btc.refresh_from_db()
    with pytest.raises(HelioCurrencyUnsupported):
        currency_helio_id(currency=btc, client=client)
    assert len(helio.requests) == asked + 1


def test_the_daily_job_refreshes_when_helio_is_configured(helio, monkeypatch, settings):
    from modelmarket.billing.tasks.orders import helio_currencies_refresh_task

    monkeypatch.setattr(
        "modelmarket.billing.tasks.orders.helio_client",
        lambda: HelioClient(transport=helio.transport(), sleep=lambda seconds: None),
    )
    helio_currencies_refresh_task.call_local()
    assert _ids()["USDC"] == USDC_SOLANA_ID

    Currency.objects.update(helio_currency_id="")
    settings.HELIO_PUBLIC_KEY = ""
    asked = len(helio.requests)
    helio_currencies_refresh_task.call_local()
    assert len(helio.requests) == asked
    assert _ids()["USDC"] == ""


def test_the_gateway_module_builds_clients_from_settings(db):
    assert isinstance(helio_gateway.helio_client(), HelioClient)
