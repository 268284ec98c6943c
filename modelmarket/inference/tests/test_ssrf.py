from __future__ import annotations

import socket
import time
from ipaddress import ip_address

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver

from modelmarket.core.exceptions import ValidationFailed
from modelmarket.inference.providers.base import CallContext, UpstreamForbidden
from modelmarket.inference.providers.openai_compat import OpenAICompatibleProvider
from modelmarket.inference.ssrf import (
    GuardedResolver,
    address_refusal,
    checked_upstream_url,
    guarded_connector,
    upstream_url_check,
)
from modelmarket.inference.tests.conftest import make_target
from modelmarket.inference.tests.upstreams import fake_openai_upstream

BODY = {"messages": [{"role": "user", "content": "Hi"}]}
PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


@pytest.fixture(autouse=True)
def _nothing_allowed(settings):
    settings.GATEWAY_ALLOWED_UPSTREAM_HOSTS = []


# --- The policy -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.5.4", "private"),
        ("192.168.0.10", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("169.254.10.1", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 (an address under test, not a bind)
        ("::", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:100.64.0.1", "carrier-grade NAT"),
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
    ],
)
def test_non_public_addresses_are_refused_with_their_reason(address, reason):
    assert address_refusal(ip_address(address)) == reason


@pytest.mark.parametrize("address", [PUBLIC_V4, "8.8.8.8", PUBLIC_V6, "::ffff:8.8.8.8", "2002:808:808::"])
def test_public_addresses_pass(address):
    assert address_refusal(ip_address(address)) is None


# --- Save time --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/v1",
        "http://localhost:8000/v1",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/v1",
        "http://[::1]:8080/v1",
        "http://[::ffff:127.0.0.1]/v1",
        "http://[::ffff:a9fe:a9fe]/v1",
        "https://10.0.0.5/v1",
        "https://100.64.1.1/v1",
        "http://0.0.0.0:8000/v1",
        "http://2130706433/v1",  # 127.0.0.1 as one number
    ],
)
def test_save_time_refuses_urls_into_our_network(url):
    with pytest.raises(ValidationFailed) as raised:
        upstream_url_check(url)

    assert raised.value.code == "upstream_url_forbidden"
    assert raised.value.status_code == 422
    assert "Only public addresses can be called" in raised.value.message


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://models.example.com/v1", "must start with http:// or https://"),
        ("file:///etc/passwd", "must start with http:// or https://"),
        ("gopher://models.example.com", "must start with http:// or https://"),
        ("https://user:secret@models.example.com/v1", "must not contain a user name or password"),
        ("https://@models.example.com/v1", "must not contain a user name or password"),
        ("https:///v1", "has no host"),
        ("https://models.example.com:99999/v1", "not a valid URL"),
    ],
)
def test_save_time_refuses_other_schemes_user_info_and_broken_urls(url, message):
    with pytest.raises(ValidationFailed, match=message) as raised:
        upstream_url_check(url)

    assert raised.value.code == "upstream_url_forbidden"


def test_save_time_refuses_a_name_that_resolves_to_a_private_address(fake_dns):
    fake_dns["models.example.com"] = ["10.0.0.7"]
    with pytest.raises(ValidationFailed) as raised:
        upstream_url_check("https://models.example.com/v1")

    assert raised.value.message.startswith(
        "The upstream URL's host models.example.com points to a private address."
    )
    assert raised.value.details == {"host": "models.example.com"}


def test_save_time_refuses_a_name_when_any_of_its_addresses_is_not_public(fake_dns):
    fake_dns["models.example.com"] = [PUBLIC_V4, "::ffff:192.168.1.1"]
    with pytest.raises(ValidationFailed):
        upstream_url_check("https://models.example.com/v1")


def test_save_time_accepts_public_names_and_addresses(fake_dns):
    fake_dns["models.example.com"] = [PUBLIC_V4, PUBLIC_V6]
    upstream_url_check("https://models.example.com/v1")
    upstream_url_check(f"http://{PUBLIC_V4}:8000/v1")
    upstream_url_check(f"https://[{PUBLIC_V6}]/v1")


def test_save_time_accepts_names_that_do_not_resolve_now():
    """The connect-time guard judges them whenever they do resolve."""
    upstream_url_check("https://nowhere.invalid/v1")


def test_allow_listed_hosts_pass_at_save_time(settings, fake_dns):
    settings.GATEWAY_ALLOWED_UPSTREAM_HOSTS = ["Models.Internal", "127.0.0.1"]
    fake_dns["models.internal"] = ["10.0.0.7"]
    upstream_url_check("http://models.internal:8000/v1")
    upstream_url_check("http://127.0.0.1:8080/v1")
    with pytest.raises(ValidationFailed):
        upstream_url_check("http://127.0.0.2:8080/v1")


def test_checked_upstream_url_strips_and_lets_empty_through():
    assert checked_upstream_url("") == ""
    assert checked_upstream_url(f"  http://{PUBLIC_V4}/v1 ") == f"http://{PUBLIC_V4}/v1"


# --- Connect time -----------------------------------------------------------------------------------------------------
class StubResolver(AbstractResolver):
    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses
        self.closed = False

    async def resolve(self, host, port=0, family=socket.AF_INET):
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 6,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in self.addresses
        ]

    async def close(self):
        self.closed = True


@pytest.mark.anyio
@pytest.mark.parametrize(
    "addresses",
    [
        ("127.0.0.1",),
        ("169.254.169.254",),
        ("::ffff:169.254.169.254",),
        ("fd00:ec2::254",),
        ("10.0.0.1",),
        (PUBLIC_V4, "192.168.0.1"),
        ("fe80::1%1",),
    ],
)
async def test_the_resolver_refuses_answers_with_non_public_addresses(addresses):
    resolver = GuardedResolver(StubResolver(*addresses))
    with pytest.raises(UpstreamForbidden) as raised:
        await resolver.resolve("api.public-models.example", 443)

    assert raised.value.code == "upstream_url_forbidden"
    assert raised.value.status == 502
    assert raised.value.retryable is False
    assert raised.value.details == {"host": "api.public-models.example"}


@pytest.mark.anyio
async def test_the_resolver_passes_public_answers_and_allow_listed_hosts(settings):
    public = await GuardedResolver(StubResolver(PUBLIC_V4, PUBLIC_V6)).resolve(
        "api.public-models.example", 443
    )
    assert [result["host"] for result in public] == [PUBLIC_V4, PUBLIC_V6]

    settings.GATEWAY_ALLOWED_UPSTREAM_HOSTS = ["models.internal"]
    internal = await GuardedResolver(StubResolver("10.0.0.7")).resolve("models.internal", 8000)
    assert [result["host"] for result in internal] == ["10.0.0.7"]


@pytest.mark.anyio
async def test_the_connector_closes_the_resolver_it_wraps():
    stub = StubResolver(PUBLIC_V4)
    connector = guarded_connector(resolver=stub)
    await connector.close()

    assert stub.closed is True


async def _chat_via(base_url: str) -> dict:
    async with aiohttp.ClientSession(connector=guarded_connector()) as session:
        ctx = CallContext(session=session, deadline=time.monotonic() + 5)
        return await OpenAICompatibleProvider().chat(make_target(base_url=base_url), BODY, ctx)


@pytest.mark.anyio
async def test_a_public_looking_name_that_resolves_to_loopback_is_refused_at_connect_time(fake_dns):
    fake_dns["api.public-models.example"] = ["127.0.0.1"]
    async with fake_openai_upstream() as upstream:
        port = upstream.root_url.rsplit(":", 1)[1]
        with pytest.raises(UpstreamForbidden):
            await _chat_via(f"http://api.public-models.example:{port}/v1")

    assert upstream.request_count == 0


@pytest.mark.anyio
async def test_dns_rebinding_after_the_save_time_check_is_refused_at_connect_time(fake_dns):
    fake_dns["rebind.example"] = [PUBLIC_V4]
    async with fake_openai_upstream() as upstream:
        port = upstream.root_url.rsplit(":", 1)[1]
        url = f"http://rebind.example:{port}/v1"
        upstream_url_check(url)  # saved: the name pointed to a public address then
        fake_dns["rebind.example"] = ["127.0.0.1"]
        with pytest.raises(UpstreamForbidden):
            await _chat_via(url)

    assert upstream.request_count == 0


@pytest.mark.anyio
async def test_ip_literal_hosts_are_refused_at_connect_time():
    async with fake_openai_upstream() as upstream:
        with pytest.raises(UpstreamForbidden, match=r"127\.0\.0\.1"):
            await _chat_via(upstream.url)

    assert upstream.request_count == 0


@pytest.mark.anyio
async def test_allow_listed_hosts_are_called(settings, fake_dns):
    fake_dns["models.internal"] = ["127.0.0.1"]
    settings.GATEWAY_ALLOWED_UPSTREAM_HOSTS = ["models.internal"]
    async with fake_openai_upstream() as upstream:
        port = upstream.root_url.rsplit(":", 1)[1]
        completion = await _chat_via(f"http://models.internal:{port}/v1")

    assert completion["object"] == "chat.completion"
    assert upstream.request_count == 1
