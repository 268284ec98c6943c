"""The demo plans `make run` loads: three demo models priced, idempotently, through the plans service."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from modelmarket.billing.demo import DEMO_PLANS
from modelmarket.billing.models import Plan, PlanKind
from modelmarket.catalog.demo.loader import demo_catalog_load
from modelmarket.catalog.models import AIModel

pytestmark = pytest.mark.django_db


def test_demo_plans_price_three_models_once_and_set_their_badges(creator):
    demo_catalog_load(uploader=creator)
    out = StringIO()
    call_command("load_demo_billing", stdout=out)
    call_command("load_demo_billing", stdout=StringIO())  # idempotent
    assert "3 models priced (3 new)" in out.getvalue()
    assert Plan.objects.count() == sum(len(entry.plans) for entry in DEMO_PLANS)
    kinds = set(Plan.objects.filter(model__slug="wine-cultivar-classifier").values_list("kind", flat=True))
    assert kinds == {PlanKind.ONE_TIME, PlanKind.SUBSCRIPTION, PlanKind.TIME_PASS}
    pricing = dict(AIModel.objects.values_list("slug", "pricing"))
    assert pricing["wine-cultivar-classifier"] == "paid"
    assert pricing["breast-cancer-diagnosis-classifier"] == "paid"
    assert pricing["diabetes-progression-regressor"] == "free"
    assert pricing["iris-species-classifier"] == "free"
