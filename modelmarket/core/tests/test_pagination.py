from __future__ import annotations

import pytest

from modelmarket.accounts.services import api_key_create

pytestmark = pytest.mark.django_db


def test_cursor_pages_cover_every_item_once_in_order(buyer, api_client_for):
    client = api_client_for(buyer)
    for number in range(6):
        api_key_create(user=buyer, name=f"key {number}", scopes=["read"])
    seen, cursor, pages = [], None, 0
    while True:
        response = client.get("/api/v1/keys", {"limit": 3, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200
        body = response.json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            assert "Link" not in response
            break
        assert response["Link"].endswith('>; rel="next"')
        assert f"cursor={cursor}" in response["Link"]
    assert pages == 3
    assert len(seen) == len(set(seen)) == 7  # six made here and the client's own
    assert seen == sorted(seen, reverse=True)


@pytest.mark.parametrize("cursor", ["!!!", "bm90IGpzb24", "WzFd", "WyJub3QtYS1kYXRlIiwgMV0"])
def test_malformed_cursor_is_400(buyer, api_client_for, cursor):
    response = api_client_for(buyer).get("/api/v1/keys", {"cursor": cursor})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_cursor"


@pytest.mark.parametrize("limit", [0, -1, 101, 10**9])
def test_absurd_limits_are_400(buyer, api_client_for, limit):
    response = api_client_for(buyer).get("/api/v1/keys", {"limit": limit})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_limit"
