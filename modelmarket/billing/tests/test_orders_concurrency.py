"""Concurrent duplicate creates with one Idempotency-Key give one order (PostgreSQL: SQLite serialises writers and
ignores select_for_update, so the race only exists there)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from conftest import requires_postgres
from modelmarket.accounts.tests.factories import make_user
from modelmarket.billing.models import Order
from modelmarket.billing.money import Money
from modelmarket.billing.services.orders import order_create
from modelmarket.billing.tests.factories import make_plan

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

CALLERS = 8


def _race(arguments: dict) -> tuple[list[int], list[BaseException]]:
    barrier = threading.Barrier(CALLERS)
    orders: list[int] = []
    errors: list[BaseException] = []

    def create() -> None:
        try:
            barrier.wait(timeout=10)
            orders.append(order_create(**arguments).pk)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return orders, errors


def test_concurrent_plan_orders_with_one_key_make_one_order(settings):
    settings.PAYMENT_GATEWAY = "sandbox"
    buyer, plan = make_user("buyer"), make_plan()

    orders, errors = _race({"buyer": buyer, "plan": plan, "idempotency_key": "double-click"})

    assert errors == []
    assert len(orders) == CALLERS
    assert len(set(orders)) == 1
    assert Order.objects.count() == 1


def test_concurrent_top_ups_with_one_key_make_one_order(settings):
    settings.PAYMENT_GATEWAY = "sandbox"
    buyer = make_user("buyer")

    orders, errors = _race({"buyer": buyer, "top_up": Money(7_000_000, "USDC"), "idempotency_key": "t"})

    assert errors == []
    assert len(set(orders)) == 1
    assert Order.objects.count() == 1
