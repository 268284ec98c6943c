"""Keep the gateway from calling into our own network (SSRF) through URLs that creators supply.

Two checks, one policy (`address_refusal`):

- `upstream_url_check(url)` at save time (the catalog calls it when a listing's `endpoint_url` is set): http or
  https only, no user info, and every address the host resolves to must be public. It tells the creator at once;
  it cannot be the real guard, because DNS may answer differently later (rebinding).
- `guarded_connector()` at connect time: the gateway builds its one aiohttp session with it. Its `GuardedResolver`
  checks every address after DNS resolution and the connector checks IP-literal hosts (which aiohttp never sends to
  a resolver), so the address actually connected to is always one that passed. A refusal raises
  `UpstreamForbidden` (code `upstream_url_forbidden`), not a connection error.

Hosts in `settings.GATEWAY_ALLOWED_UPSTREAM_HOSTS` (exact names or IP literals, case-insensitive) skip both checks:
that is how an operator lets listings call a model server on their own network."""

from __future__ import annotations

import socket
from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from django.conf import settings

from modelmarket.core.exceptions import ValidationFailed
from modelmarket.inference.providers.base import UpstreamForbidden

if TYPE_CHECKING:
    from aiohttp.tracing import Trace

FORBIDDEN_CODE = "upstream_url_forbidden"
type IPAddress = IPv4Address | IPv6Address

METADATA_ADDRESSES = frozenset({ip_address("169.254.169.254"), ip_address("fd00:ec2::254")})
CARRIER_GRADE_NAT = ip_network("100.64.0.0/10")
NAT64 = ip_network("64:ff9b::/96")
# Not publicly routable, beyond what the `ipaddress` flags name (their coverage differs between Python versions).
NOT_ROUTABLE = tuple(
    ip_network(network)
    for network in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/8",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "3fff::/20",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)


# --- The policy ---------------------------------------------------------------------------------------------------
def address_refusal(address: IPAddress) -> str | None:
    """Why the gateway must not connect to `address` ("loopback", "private", ...), or None when it is public.
    IPv6 forms that carry an IPv4 address (mapped, 6to4, NAT64) are judged by that address too."""
    if isinstance(address, IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in NAT64:
            embedded = IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            reason = address_refusal(embedded)
            if reason or address.ipv4_mapped:
                return reason
    checks: tuple[tuple[bool, str], ...] = (
        (address in METADATA_ADDRESSES, "cloud metadata"),
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (isinstance(address, IPv4Address) and address in CARRIER_GRADE_NAT, "carrier-grade NAT"),
        (address.is_reserved, "reserved"),
        (address.is_private, "private"),
    )
    for refused, reason in checks:
        if refused:
            return reason
    if not address.is_global or any(address in network for network in NOT_ROUTABLE):
        return "non-public"
    return None


def host_is_allowed(host: str) -> bool:
    """True when the operator listed `host` in GATEWAY_ALLOWED_UPSTREAM_HOSTS."""
    allowed = {_normalized(name) for name in settings.GATEWAY_ALLOWED_UPSTREAM_HOSTS}
    return _normalized(host) in allowed


def _normalized(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _as_address(value: str) -> IPAddress | None:
    try:
        return ip_address(value.strip("[]"))
    except ValueError:
        return None


# --- Save time ----------------------------------------------------------------------------------------------------
def upstream_url_check(url: str) -> None:
    """Refuse (ValidationFailed, code `upstream_url_forbidden`) an upstream URL that is not http(s), carries user
    info, or whose host resolves to any address that is not public. Allow-listed hosts pass unresolved.

    A host that does not resolve now passes: DNS failures are often passing, and the connect-time guard judges the
    addresses it resolves to whenever it does. This call blocks on DNS; use it at save time, not on the hot path."""
    host, port = _host_and_port(url)
    if host_is_allowed(host):
        return
    for address in _resolve(host, port):
        reason = address_refusal(address)
        if reason:
            raise ValidationFailed(
                f"The upstream URL's host {host} points to a {reason} address. Only public addresses can be "
                "called; ask the operator to allow-list the host for a server on their own network.",
                code=FORBIDDEN_CODE,
                details={"host": host},
            )


def checked_upstream_url(url: str) -> str:
    """`url` stripped, after `upstream_url_check` when it is not empty (the catalog stores what this returns)."""
    url = url.strip()
    if url:
        upstream_url_check(url)
    return url


def _host_and_port(url: str) -> tuple[str, int]:
    def refuse(message: str) -> ValidationFailed:
        return ValidationFailed(message, code=FORBIDDEN_CODE, details={"url": url[:500]})

    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise refuse("The upstream URL is not a valid URL.") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise refuse("The upstream URL must start with http:// or https://.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise refuse(
            "The upstream URL must not contain a user name or password; the key is stored separately."
        )
    if not parts.hostname:
        raise refuse("The upstream URL has no host.")
    return parts.hostname, port or (443 if parts.scheme.lower() == "https" else 80)


def _resolve(host: str, port: int) -> list[IPAddress]:
    literal = _as_address(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    addresses = (_as_address(str(info[4][0])) for info in infos)
    return [address for address in addresses if address is not None]


# --- Connect time -------------------------------------------------------------------------------------------------
def refuse_addresses(host: str, addresses: Iterable[str]) -> None:
    """Raise UpstreamForbidden unless `host` is allow-listed or every address is public (unparseable ones count
    as refused)."""
    if host_is_allowed(host):
        return
    for value in addresses:
        address = _as_address(value)
        reason = address_refusal(address) if address is not None else "unreadable"
        if reason:
            raise UpstreamForbidden(
                f"The upstream host {host} resolves to a {reason} address, which the gateway does not call.",
                details={"host": host},
            )


class GuardedResolver(AbstractResolver):
    """aiohttp's default resolver (or `resolver`), refusing any answer that holds a non-public address. It runs on
    every DNS lookup the connector makes, so an answer that changes after the save-time check is judged again."""

    def __init__(self, resolver: AbstractResolver | None = None) -> None:
        self._resolver = resolver or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._resolver.resolve(host, port, family)
        refuse_addresses(host, (result["host"] for result in results))
        return results

    async def close(self) -> None:
        await self._resolver.close()


class GuardedConnector(aiohttp.TCPConnector):
    """A TCPConnector whose resolver is a GuardedResolver and which also judges IP-literal hosts (aiohttp connects
    to those without asking the resolver). It closes its resolver when it closes."""

    def __init__(self, *, resolver: GuardedResolver, **kwargs: Any) -> None:
        super().__init__(resolver=resolver, **kwargs)
        self._guarded_resolver = resolver

    async def _resolve_host(
        self, host: str, port: int, traces: Sequence[Trace] | None = None
    ) -> list[ResolveResult]:
        if _as_address(host) is not None:
            refuse_addresses(host, [host])
        return await super()._resolve_host(host, port, traces=traces)

    async def close(self, *, abort_ssl: bool = False) -> None:
        await super().close(abort_ssl=abort_ssl)
        await self._guarded_resolver.close()


def guarded_connector(**kwargs: Any) -> aiohttp.TCPConnector:
    """The gateway's connector: TCPConnector arguments as usual; a `resolver` given is wrapped, not replaced.
    Call it inside the running event loop (as for any TCPConnector)."""
    inner = kwargs.pop("resolver", None)
    return GuardedConnector(resolver=GuardedResolver(inner), **kwargs)
