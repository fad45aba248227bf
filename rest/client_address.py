"""The address a request came from, for per-address rate limits: the socket's peer, or, when that
peer is a reverse proxy named in `rate_limits.trusted_proxies`, the last address in
`X-Forwarded-For` that is not such a proxy (the one the nearest untrusted hop connected from;
earlier entries are whatever the client chose to send)."""
from __future__ import annotations

import ipaddress
from functools import lru_cache

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in proxies if p.strip())


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1:value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: tuple[Network, ...]) -> bool:
    return any(address in network for network in networks)


def client_address(request: web.Request, trusted_proxies: list[str]) -> str | None:
    peer = _parse(request.remote or "")
    if peer is None:
        return request.remote or None
    networks = _networks(tuple(trusted_proxies))
    if not networks or not _trusted(peer, networks):
        return str(peer)
    hops = [hop for header in request.headers.getall("X-Forwarded-For", [])
            for hop in header.split(",")]
    for hop in reversed(hops[-32:]):
        address = _parse(hop)
        if address is None:
            return str(peer)  # a malformed entry: believe nothing before it
        if not _trusted(address, networks):
            return str(address)
    return str(peer)
