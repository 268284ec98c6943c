from __future__ import annotations

import math
from datetime import timedelta

import pytest
from django.utils import timezone

from modelmarket.catalog.models import AIModel
from modelmarket.catalog.services.stats import trending_scores_refresh
from modelmarket.catalog.vocabulary import ModelStatus

pytestmark = pytest.mark.django_db


def _listing(creator, slug, **fields):
    defaults = {
        "name": slug,
        "task": "chat",
        "license": "mit",
        "creator": creator,
        "status": ModelStatus.PUBLISHED,
        "published_at": timezone.now() - timedelta(days=365),
    }
    return AIModel.objects.create(slug=slug, **{**defaults, **fields})


def test_trending_weighs_calls_over_downloads_and_favours_new_listings(creator):
    called = _listing(creator, "called", call_count=1000)
    downloaded = _listing(creator, "downloaded", download_count=1000)
    fresh = _listing(creator, "fresh", published_at=timezone.now() - timedelta(days=2))
    _listing(creator, "draft", status=ModelStatus.DRAFT, call_count=10**6)
    assert trending_scores_refresh() == 3
    scores = dict(AIModel.objects.values_list("slug", "trending_score"))
    assert scores["called"] == pytest.approx(2 * math.log(1001))
    assert scores["downloaded"] == pytest.approx(math.log(1001))
    assert scores["fresh"] == pytest.approx(3.0)
    assert scores["draft"] == 0
    assert [called.slug, downloaded.slug, fresh.slug] == list(
        AIModel.objects.filter(status=ModelStatus.PUBLISHED)
        .order_by("-trending_score")
        .values_list("slug", flat=True)
    )


def test_ratings_count_only_with_enough_reviews(creator):
    _listing(creator, "loved", rating_average=5, rating_count=10)
    _listing(creator, "one-review", rating_average=5, rating_count=1)
    trending_scores_refresh()
    scores = dict(AIModel.objects.values_list("slug", "trending_score"))
    assert scores == {"loved": pytest.approx(2.0), "one-review": 0}
