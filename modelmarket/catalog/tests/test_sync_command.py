"""`manage.py sync_catalog` and the periodic sync job, with the provider clients pointed at the fakes."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from huey.contrib.djhuey import HUEY
from huey.exceptions import TaskLockedException

from modelmarket.catalog.models import AIModel
from modelmarket.catalog.providers.huggingface import huggingface_client
from modelmarket.catalog.providers.replicate import replicate_client
from modelmarket.catalog.services import sync
from modelmarket.catalog.sync_tasks import SYNC_LOCK_NAME, catalog_sync_periodic
from modelmarket.catalog.tests.fakes import (
    FakeClock,
    FakeHuggingFaceHub,
    FakeReplicate,
    Fault,
    hf_model,
    replicate_model,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def hub(settings, monkeypatch):
    """Point the configured clients at fakes: a Hub with five models in pages of two, and Replicate with one."""
    settings.CATALOG_SYNC_PAGE_SIZE = 2
    clock = FakeClock()
    fake_hub = FakeHuggingFaceHub([hf_model(f"acme/model-{number}") for number in range(5)], clock=clock)
    fake_replicate = FakeReplicate([replicate_model("meta", "llama")])
    options = {"sleep": clock.sleep, "clock": clock, "random_fraction": lambda: 1.0}

    def fake_provider_client(source):
        if source == "replicate":
            if not settings.REPLICATE_API_TOKEN:
                raise sync.ProviderNotConfigured("Set REPLICATE_API_TOKEN to sync from Replicate.")
            return replicate_client(transport=fake_replicate.transport(), **options)
        return huggingface_client(transport=fake_hub.transport(), **options)

    monkeypatch.setattr(sync, "provider_client", fake_provider_client)
    fake_hub.replicate = fake_replicate
    return fake_hub


def run_command(*args):
    stdout, stderr = StringIO(), StringIO()
    call_command("sync_catalog", *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def test_command_syncs_with_a_progress_bar_and_prints_a_summary(hub):
    stdout, stderr = run_command("--source", "huggingface")
    assert stdout == "huggingface: 5 created, 0 updated, 0 unchanged, 0 skipped, 0 failed\n"
    assert "sync huggingface" in stderr
    assert "sync huggingface: 5model [" in stderr
    assert AIModel.objects.count() == 5


def test_command_limit_and_search(hub):
    stdout, stderr = run_command("--source", "huggingface", "--search", "acme", "--limit", "3")
    assert stdout == "huggingface: 3 created, 0 updated, 0 unchanged, 0 skipped, 0 failed\n"
    assert "3/3" in stderr
    assert hub.requests[0].url.params["search"] == "acme"
    assert hub.requests[0].url.params["limit"] == "2"
    assert len(hub.requests) == 2
    assert AIModel.objects.count() == 3


def test_command_rerun_reports_unchanged(hub):
    run_command("--source", "huggingface")
    stdout, _ = run_command("--source", "huggingface")
    assert stdout == "huggingface: 0 created, 0 updated, 5 unchanged, 0 skipped, 0 failed\n"


def test_command_fails_clearly_when_the_provider_keeps_failing_and_keeps_what_it_synced(hub):
    hub.fail(2, *[Fault(status=503)] * 5)
    with pytest.raises(CommandError) as caught:
        run_command("--source", "huggingface")
    assert str(caught.value) == (
        "The huggingface sync stopped early; the listings synced before it stay. "
        "Hugging Face failed (HTTP 503); gave up: after 5 attempts."
    )
    assert AIModel.objects.count() == 2


def test_command_for_replicate_needs_the_token(hub, settings):
    settings.REPLICATE_API_TOKEN = ""
    with pytest.raises(CommandError) as caught:
        run_command("--source", "replicate")
    assert str(caught.value) == "Set REPLICATE_API_TOKEN to sync from Replicate."
    assert AIModel.objects.count() == 0


def test_command_for_replicate(hub, settings):
    settings.REPLICATE_API_TOKEN = "r8_test"
    stdout, _ = run_command("--source", "replicate")
    assert stdout == "replicate: 1 created, 0 updated, 0 unchanged, 0 skipped, 0 failed\n"


@pytest.mark.parametrize("args", [["--source", "github"], ["--source", "huggingface", "--limit", "0"]])
def test_command_refuses_bad_arguments(hub, args):
    with pytest.raises(CommandError):
        run_command(*args)
    assert hub.requests == []


def test_periodic_job_does_nothing_unless_enabled(hub, settings):
    settings.CATALOG_SYNC_ENABLED = False
    assert catalog_sync_periodic.call_local() == []
    assert hub.requests == []


def test_periodic_job_runs_each_configured_search_and_replicate(hub, settings):
    settings.CATALOG_SYNC_ENABLED = True
    settings.CATALOG_SYNC_HUGGINGFACE_SEARCHES = ["model-1", "model-2"]
    settings.CATALOG_SYNC_LIMIT = 10
    settings.REPLICATE_API_TOKEN = "r8_test"
    reports = catalog_sync_periodic.call_local()
    assert [(report.source, report.search, report.created) for report in reports] == [
        ("huggingface", "model-1", 1),
        ("huggingface", "model-2", 1),
        ("replicate", "", 1),
    ]


def test_periodic_job_never_overlaps_a_running_one(hub, settings):
    settings.CATALOG_SYNC_ENABLED = True
    with HUEY.lock_task(SYNC_LOCK_NAME), pytest.raises(TaskLockedException):
        catalog_sync_periodic.call_local()
    assert hub.requests == []
