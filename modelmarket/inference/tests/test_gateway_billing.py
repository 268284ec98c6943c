"""The gateway's entitlement and pay-as-you-go credit, end to end: billing decides who may call (bought plans, time
passes that end, free plans, pay as you go); pay-as-you-go calls reserve their worst case before running, are charged
what they cost, booked to the ledger with their usage events, and can never spend credit the buyer does not have —
not from concurrent threads, not from several processes (Redis or database, whichever CI configures)."""

from __future__ import annotations

import multiprocessing
import os
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connections
from django.db.models import Sum
from django.utils import timezone
from starlette.testclient import TestClient

from conftest import requires_postgres
from modelmarket.billing.models import (
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    PlanKind,
)
from modelmarket.billing.services.entitlements import entitlement_grant
from modelmarket.billing.services.ledger import buyer_wallet
from modelmarket.billing.tests.factories import make_order, make_plan, top_up
from modelmarket.catalog.demo.loader import demo_catalog_load
from modelmarket.catalog.models import AIModel
from modelmarket.inference.entitlements import Price
from modelmarket.inference.gateway.app import build_app
from modelmarket.inference.gateway.credit import worst_case_usage
from modelmarket.inference.providers.base import Usage
from modelmarket.usage.models import UsageEvent

IRIS = "iris-species-classifier"
SETOSA = {"sepal_length_cm": 5.1, "sepal_width_cm": 3.5, "petal_length_cm": 1.4, "petal_width_cm": 0.2}
PER_CALL = 1000  # minor units of USDC: 0.001 USDC


@pytest.fixture
def iris(transactional_db: Any, creator: Any) -> AIModel:
    demo_catalog_load(uploader=creator)
    return AIModel.objects.get(slug=IRIS)


def _call(gateway: TestClient, raw_key: str) -> Any:
    return gateway.post(
        f"/api/v1/models/{IRIS}/inference",
        json={"input": SETOSA},
        headers={"Authorization": f"Bearer {raw_key}"},
    )


def _within_a_second(gateway: TestClient, raw_key: str, status: int) -> Any:
    """Call until the answer has `status` (billing's change reached the worker's cache); fail after a second."""
    started = time.monotonic()
    while True:
        response = _call(gateway, raw_key)
        if response.status_code == status:
            return response
        assert time.monotonic() - started < 1.0, f"still {response.status_code} a second after the change"
        time.sleep(0.05)


def _payg(model: AIModel, **rates: Any) -> None:
    make_plan(
        model, name="Pay as you go", kind=PlanKind.PAY_AS_YOU_GO, **(rates or {"price_per_request": PER_CALL})
    )


def _ledger_balanced() -> None:
    assert LedgerEntry.objects.aggregate(total=Sum("amount_minor"))["total"] == 0
    for account in LedgerAccount.objects.all():
        entries = (
            LedgerEntry.objects.filter(account=account).aggregate(total=Sum("amount_minor"))["total"] or 0
        )
        assert account.balance_minor == entries, account


def test_a_paid_listing_answers_402_until_the_buyer_holds_a_plan_and_again_once_the_pass_ends(
    iris, buyer, api_key_for
):
    plan = make_plan(iris, name="Day pass", kind=PlanKind.TIME_PASS, pass_duration="day", request_quota=100)
    raw = api_key_for(buyer)
    with TestClient(build_app()) as gateway:
        refused = _call(gateway, raw)
        assert (refused.status_code, refused.json()["error"]["code"]) == (402, "entitlement_required")
        # A day pass bought a day ago, less two seconds: it ends two seconds from now.
        entitlement = entitlement_grant(
            order=make_order(plan, buyer), paid_at=timezone.now() - timedelta(days=1, seconds=-2)
        )
        _within_a_second(gateway, raw, 200)
        # No billing write happens when a pass runs out: the cached grant carries the pass's end, so the first
        # call after it asks billing again.
        assert entitlement.ends_at is not None
        time.sleep(max(0.0, (entitlement.ends_at - timezone.now()).total_seconds()) + 0.1)
        late = _call(gateway, raw)
    assert (late.status_code, late.json()["error"]["code"]) == (402, "entitlement_required")


def test_a_listing_that_sells_only_a_free_plan_applies_that_plans_limits(iris, buyer, api_key_for):
    make_plan(iris, name="Free", kind=PlanKind.FREE, request_quota=2, quota_period="day")
    raw = api_key_for(buyer, requests_per_minute=1000)
    with TestClient(build_app()) as gateway:
        statuses = [_call(gateway, raw).status_code for _ in range(3)]
    assert statuses == [200, 200, 402]


def test_pay_as_you_go_calls_are_charged_booked_and_stop_when_credit_runs_out(
    iris, buyer, api_key_for, settings
):
    settings.BILLING_PLATFORM_FEE_BPS = 1500
    _payg(iris)
    top_up(buyer, currency="USDC", amount_minor=3 * PER_CALL + 500)
    raw = api_key_for(buyer)
    with TestClient(build_app()) as gateway:
        answers = [_call(gateway, raw) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 402]
    assert answers[0].json()["cost"] == {"amount_minor": PER_CALL, "currency": "USDC"}
    assert answers[0].headers["X-ModelMarket-Cost"] == f"{PER_CALL} USDC"
    assert answers[3].json()["error"]["code"] == "insufficient_credit"
    wallet = buyer_wallet(user_id=buyer.pk, currency="USDC")
    wallet.refresh_from_db()
    assert (wallet.balance_minor, wallet.held_minor) == (500, 0)
    earnings = LedgerAccount.objects.get(
        kind=AccountKind.CREATOR_EARNINGS, user=iris.creator, currency="USDC"
    )
    revenue = LedgerAccount.objects.get(kind=AccountKind.PLATFORM_REVENUE, user=None, currency="USDC")
    assert (earnings.balance_minor, revenue.balance_minor) == (3 * 850, 3 * 150)
    costs = UsageEvent.objects.filter(status="succeeded").aggregate(total=Sum("cost_minor"))["total"]
    assert costs == 3 * PER_CALL
    assert UsageEvent.objects.get(status="rejected").cost_minor == 0
    _ledger_balanced()


def test_failed_calls_reserve_but_cost_nothing(iris, buyer, api_key_for):
    _payg(iris)
    top_up(buyer, currency="USDC", amount_minor=PER_CALL)
    raw = api_key_for(buyer)
    with TestClient(build_app()) as gateway:
        bad = gateway.post(
            f"/api/v1/models/{IRIS}/inference",
            json={"input": {"sepal_length_cm": "long"}},
            headers={"Authorization": f"Bearer {raw}"},
        )
        assert bad.status_code == 422
        assert _call(gateway, raw).status_code == 200  # the failed call's reservation was given back
    wallet = buyer_wallet(user_id=buyer.pk, currency="USDC")
    wallet.refresh_from_db()
    assert (wallet.balance_minor, wallet.held_minor) == (0, 0)


def test_a_call_our_own_code_fails_is_metered_once_costs_nothing_and_gives_its_credit_back(
    iris, buyer, api_key_for, monkeypatch
):
    from modelmarket.inference import adapters

    _payg(iris)
    top_up(buyer, currency="USDC", amount_minor=PER_CALL)
    raw = api_key_for(buyer)
    real_output = adapters.task_output

    def broken_output(target: Any, output: Any) -> Any:
        raise RuntimeError("a bug in the gateway")

    with TestClient(build_app(), raise_server_exceptions=False) as gateway:
        monkeypatch.setattr(adapters, "task_output", broken_output)
        failed = _call(gateway, raw)
        monkeypatch.setattr(adapters, "task_output", real_output)
        assert (failed.status_code, failed.json()["error"]["code"]) == (500, "server_error")
        assert _call(gateway, raw).status_code == 200  # the failed call's reservation was given back
    assert sorted(UsageEvent.objects.values_list("status", "cost_minor")) == [
        ("server_error", 0),
        ("succeeded", PER_CALL),
    ]
    wallet = buyer_wallet(user_id=buyer.pk, currency="USDC")
    wallet.refresh_from_db()
    assert (wallet.balance_minor, wallet.held_minor) == (0, 0)
    _ledger_balanced()


def test_concurrent_calls_never_spend_more_credit_than_there_is(iris, buyer, api_key_for):
    _payg(iris)
    top_up(buyer, currency="USDC", amount_minor=10 * PER_CALL)
    raw = api_key_for(buyer, requests_per_minute=10_000)
    with TestClient(build_app()) as gateway, ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: _call(gateway, raw).status_code, range(40)))
    assert statuses.count(200) == 10
    assert statuses.count(402) == 30
    wallet = buyer_wallet(user_id=buyer.pk, currency="USDC")
    wallet.refresh_from_db()
    assert (wallet.balance_minor, wallet.held_minor) == (0, 0)
    _ledger_balanced()


def test_the_worst_case_reserves_every_input_byte_and_the_output_cap(settings):
    settings.GATEWAY_PAYG_MAX_OUTPUT_TOKENS = 4096
    price = Price(
        currency="USDC",
        decimals=6,
        wallet_account_id=1,
        per_1k_input_tokens_minor=Decimal("100"),
        per_1k_output_tokens_minor=Decimal("300"),
    )
    bound = worst_case_usage(input_bytes=2000, max_output_tokens=None, seconds=60)
    assert bound == Usage(input_tokens=2000, output_tokens=4096, compute_ms=60_000)
    assert price.worst_case_minor(bound) == 200 + 1229  # 1228.8 rounds up when reserved
    assert worst_case_usage(input_bytes=10, max_output_tokens=50, seconds=1).output_tokens == 50
    assert worst_case_usage(input_bytes=10, max_output_tokens=10**9, seconds=1).output_tokens == 4096
    assert price.cost_minor(Usage(input_tokens=5, output_tokens=5)) == 2  # 0.5 + 1.5 rounds half up once


# --- Several processes -------------------------------------------------------------------------------------------
def _worker(raw_key: str, calls: int, results: Any) -> None:
    connections.close_all()
    try:
        with TestClient(build_app()) as gateway, ThreadPoolExecutor(8) as pool:
            statuses: list[Any] = list(pool.map(lambda _: _call(gateway, raw_key).status_code, range(calls)))
    except Exception:
        statuses = [traceback.format_exc()]
    connections.close_all()
    results.put(statuses)


@requires_postgres
@pytest.mark.multiprocess
@pytest.mark.skipif(os.name != "posix", reason="the multi-process tests fork")
def test_credit_holds_exactly_across_worker_processes(iris, buyer, api_key_for):
    _payg(iris)
    top_up(buyer, currency="USDC", amount_minor=30 * PER_CALL)
    raw = api_key_for(buyer, requests_per_minute=10_000)
    connections.close_all()
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [context.Process(target=_worker, args=(raw, 25, results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    statuses = [status for _ in workers for status in results.get(timeout=300)]
    for worker in workers:
        worker.join(timeout=60)
    assert not [status for status in statuses if isinstance(status, str)]
    assert statuses.count(200) == 30
    assert statuses.count(402) == 70
    wallet = buyer_wallet(user_id=buyer.pk, currency="USDC")
    wallet.refresh_from_db()
    assert (wallet.balance_minor, wallet.held_minor) == (0, 0)
    assert UsageEvent.objects.filter(status="succeeded", cost_minor=PER_CALL).count() == 30
    _ledger_balanced()


# --- Long jobs ---------------------------------------------------------------------------------------------------
PER_SECOND = 2000  # minor units of USDC per second of compute


def _job_call(gateway: TestClient, slug: str, raw_key: str) -> Any:
    return gateway.post(
        f"/api/v1/models/{slug}/inference",
        json={"input": {"prompt": "a fox"}},
        headers={"Authorization": f"Bearer {raw_key}"},
    )


def _job_end(gateway: TestClient, job: dict[str, Any], raw_key: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while (state := gateway.get(job["urls"]["get"], headers={"Authorization": f"Bearer {raw_key}"}).json())[
        "status"
    ] in ("starting", "processing"):
        assert state["cost"] is None  # not known before the job ends
        assert time.monotonic() < deadline, state
        time.sleep(0.2)
    return state


@pytest.fixture(params=["redis", "database"])
def credit_store(request: Any, settings: Any) -> str:
    """Where the gateway holds reservations: Redis (when the run has one) or the wallet's row in the database."""
    if request.param == "redis" and not settings.REDIS_URL:
        pytest.skip("set REDIS_URL to hold credit in Redis")
    if request.param == "database":
        settings.REDIS_URL = ""
    return str(request.param)


def test_a_pay_as_you_go_long_job_holds_its_reservation_until_it_ends_then_pays_its_compute(
    replicate_listing, buyer, api_key_for, settings, credit_store
):
    from modelmarket.inference.models import InferenceJob
    from modelmarket.inference.services import inference_job_update

    slug, _ = replicate_listing
    model = AIModel.objects.get(slug=slug)
    _payg(model, price_per_request=PER_CALL, price_per_compute_second=PER_SECOND)
    worst_case = PER_CALL + settings.GATEWAY_TIMEOUT_SECONDS * PER_SECOND
    top_up(buyer, currency="USDC", amount_minor=2 * worst_case - 1)  # one worst case, not two
    raw = api_key_for(buyer, requests_per_minute=1000)
    with TestClient(build_app()) as gateway:
        accepted = _job_call(gateway, slug, raw)
        assert accepted.status_code == 202, accepted.text
        # The job holds its call's reservation while it runs: a second call finds too little credit.
        refused = _job_call(gateway, slug, raw)
        assert (refused.status_code, refused.json()["error"]["code"]) == (402, "insufficient_credit")
        ended = _job_end(gateway, accepted.json(), raw)
        assert ended["status"] == "succeeded"
        job = InferenceJob.objects.get(public_id=ended["id"])
        cost = PER_CALL + round(job.compute_ms * PER_SECOND / 1000)
        assert job.compute_ms > 0
        assert ended["cost"] == {"amount_minor": cost, "currency": "USDC"}
        # What the job did not use is free again: the next call is accepted.
        assert _job_call(gateway, slug, raw).status_code == 202
    event = UsageEvent.objects.get(event_id=job.event_id)
    assert (event.status, event.cost_minor, event.currency, event.compute_ms) == (
        "succeeded",
        cost,
        "USDC",
        job.compute_ms,
    )
    # A poller that saw the job running before it ended changes nothing and charges nothing again.
    stale = InferenceJob.objects.get(pk=job.pk)
    stale.status, stale.completed_at = "processing", None
    inference_job_update(job=stale, status="succeeded", usage=Usage(compute_ms=10**6))
    job.refresh_from_db()
    assert job.cost_minor == cost
    wallet = buyer_wallet(user_id=buyer.pk, currency="USDC")
    wallet.refresh_from_db()
    assert wallet.balance_minor == 2 * worst_case - 1 - cost
    earnings = LedgerAccount.objects.get(
        kind=AccountKind.CREATOR_EARNINGS, user=model.creator, currency="USDC"
    )
    assert earnings.balance_minor > 0
    assert UsageEvent.objects.filter(cost_minor__gt=0).count() == 1
    _ledger_balanced()


def test_a_failed_long_job_costs_nothing_and_gives_its_reservation_back(
    replicate_listing, buyer, api_key_for, settings, credit_store
):
    from modelmarket.inference.tests.upstreams_replicate import ModelScript

    slug, fake = replicate_listing
    fake.add_model(
        "acme/slow-painter", ModelScript(output=[], duration_seconds=1.5, error="CUDA out of memory")
    )
    model = AIModel.objects.get(slug=slug)
    _payg(model, price_per_request=PER_CALL, price_per_compute_second=PER_SECOND)
    worst_case = PER_CALL + settings.GATEWAY_TIMEOUT_SECONDS * PER_SECOND
    top_up(buyer, currency="USDC", amount_minor=worst_case)
    raw = api_key_for(buyer, requests_per_minute=1000)
    with TestClient(build_app()) as gateway:
        accepted = _job_call(gateway, slug, raw)
        assert accepted.status_code == 202, accepted.text
        ended = _job_end(gateway, accepted.json(), raw)
        assert (ended["status"], ended["cost"]) == ("failed", {"amount_minor": 0, "currency": "USDC"})
        assert _job_call(gateway, slug, raw).status_code == 202  # the whole reservation came back
    wallet = buyer_wallet(user_id=buyer.pk, currency="USDC")
    wallet.refresh_from_db()
    assert wallet.balance_minor == worst_case
    assert UsageEvent.objects.get(status="upstream_error").cost_minor == 0
    _ledger_balanced()


def test_a_long_jobs_tokens_count_against_its_plans_token_quota_when_it_ends(
    replicate_listing, buyer, api_key_for, credit_store
):
    from modelmarket.inference.tests.upstreams_replicate import ModelScript

    slug, fake = replicate_listing
    fake.add_model(
        "acme/slow-painter",
        ModelScript(output=["https://example.com/out.png"], duration_seconds=1.5, token_counts=(6, 6)),
    )
    make_plan(
        AIModel.objects.get(slug=slug), name="Free", kind=PlanKind.FREE, token_quota=10, quota_period="day"
    )
    raw = api_key_for(buyer, requests_per_minute=1000)
    with TestClient(build_app()) as gateway:
        accepted = _job_call(gateway, slug, raw)
        assert accepted.status_code == 202, accepted.text
        assert _job_call(gateway, slug, raw).status_code == 202  # no tokens used yet: under the quota
        assert _job_end(gateway, accepted.json(), raw)["status"] == "succeeded"
        refused = _job_call(gateway, slug, raw)  # 12 tokens used of 10
    assert (refused.status_code, refused.json()["error"]["code"]) == (402, "token_quota_exhausted")
