from __future__ import annotations

import json
import re

from django.test import Client

from modelmarket.inference.gateway.schemas import ChatCompletionIn, InferenceIn


def test_the_openapi_document_describes_the_gateway_from_its_own_models(db):
    document = Client().get("/api/v1/openapi.json").json()
    paths = document["paths"]
    for path in (
        "/api/v1/models/{slug}/inference",
        "/api/v1/inference/{job_id}",
        "/v1/models",
        "/v1/chat/completions",
    ):
        assert path in paths
    schemas = document["components"]["schemas"]
    # The very models the gateway validates with, not a copy.
    assert schemas["InferenceIn"]["properties"].keys() == InferenceIn.model_json_schema()["properties"].keys()
    assert set(schemas["ChatCompletionIn"]["properties"]) == set(ChatCompletionIn.model_fields)
    # Every reference resolves.
    for name in re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(document)):
        assert name in schemas, name
    native = paths["/api/v1/models/{slug}/inference"]["post"]
    assert {"200", "202", "402", "429", "504"} <= {str(status) for status in native["responses"]}
