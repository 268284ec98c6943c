"""What a gateway-only worker loads (`modelmarket.inference.gateway.asgi`, settings `config.settings.gateway`): only
what the hot path needs. Each module kept out is memory per worker (the target is 100 MB): the web tier's admin, API
framework, job queue and page stack, and httpx, which loads pygments and rich for its command line (3 MB) and which
the gateway's aiohttp providers do not use. Checked in a fresh interpreter, as a granian worker starts."""

from __future__ import annotations

import json
from pathlib import Path

from config.tests.test_settings import run_django

PROBE = """
import json, sys
import modelmarket.inference.gateway.asgi
from modelmarket.inference.providers import provider_for
for name in ("openai_compatible", "huggingface", "replicate"):
    provider_for(name)
print(json.dumps(sorted(sys.modules)))
"""

KEPT_OUT = (
    "httpx",
    "pygments",
    "rich",
    "ninja",
    "huey",
    "django.contrib.admin",
    "modelmarket.catalog.views",
    "modelmarket.billing.gateways.helio.client",
    "onnxruntime",  # loaded by the local_onnx provider on its first call only
)


def test_a_gateway_worker_loads_only_what_the_hot_path_needs(tmp_path: Path) -> None:
    result = run_django(["-c", PROBE], tmp_path, DJANGO_SETTINGS_MODULE="config.settings.gateway")
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert "modelmarket.inference.providers.openai_compat" in loaded  # the probe did load the providers
    assert [name for name in KEPT_OUT if name in loaded] == []
