"""Fetching a URL a client gave us, without letting it aim the gateway at our own network.

Client ID Metadata Documents and ``jwks_uri`` make the authorization server
fetch URLs chosen by whoever calls it: a textbook server-side request forgery
(draft-ietf-oauth-client-id-metadata-document, "Server Side Request Forgery";
RFC 7591 section 5; OWASP SSRF prevention). So every such fetch:

- is ``https`` (``http`` only to loopback, and only in development and tests);
- resolves the host itself and refuses private, loopback, link-local, multicast,
  reserved, CGNAT (RFC 6598) and IPv6 unique-local addresses, including IPv4
  addresses smuggled inside IPv6 (mapped, NAT64, 6to4, Teredo);
- connects to the very address it checked: the URL's host is replaced by that
  IP, while the ``Host`` header and the TLS SNI (and certificate check) keep the
  name, so a DNS answer that changes between check and connect (rebinding)
  changes nothing;
- follows no redirect, reads at most ``max_bytes`` (streamed, so a huge or
  endless body costs no memory), gives up after ``timeout`` seconds in total
  (so a slow drip can't hold a worker), and accepts only JSON.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

# Resolves (host, port) to the IP addresses a connection could go to.
Resolver = Callable[[str, int], Awaitable[list[str]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_MAX_BYTES = 64 * 1024
DEFAULT_TIMEOUT = 5.0
# Shared address space for carrier-grade NAT (RFC 6598): not "private", not global either.
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class FetchError(Exception):
    """The URL could not be fetched safely; the message says why, for the client's developer."""


@dataclass(frozen=True)
class Fetched:
    """A fetched JSON document and what caching needs of its response."""

    url: str
    document: Any
    headers: httpx.Headers

    @property
    def max_age(self) -> int | None:
        """Seconds the response may be cached (Cache-Control, RFC 9111 section 5.2.2)."""
        return cache_max_age(self.headers.get("cache-control", ""))


def cache_max_age(cache_control: str) -> int | None:
    """``max-age`` of a Cache-Control value; 0 for no-store/no-cache; None if unsaid."""
    max_age: int | None = None
    for directive in cache_control.lower().split(","):
        name, _, value = directive.strip().partition("=")
        if name in ("no-store", "no-cache"):
            return 0
        if name == "max-age":
            try:
                max_age = max(0, int(value.strip().strip('"')))
            except ValueError:
                continue
    return max_age


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the system resolver, off the event loop (anyio runs it in a thread)."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def refused_address(address: str, *, allow_loopback: bool = False) -> str | None:
    """Why the gateway must not connect to ``address``, or None if it may."""
    try:
        ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded_ipv4(ip)) is not None:
        return refused_address(str(inner), allow_loopback=allow_loopback)
    if ip.is_loopback:
        return None if allow_loopback else f"{ip} is a loopback address"
    if ip.is_multicast:
        return f"{ip} is a multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return f"{ip} is a carrier-grade NAT address"
    # is_global is False for private (RFC 1918, IPv6 ULA), link-local, reserved,
    # unspecified, documentation and benchmarking ranges.
    if not ip.is_global or ip.is_reserved or ip.is_link_local:
        return f"{ip} is not a public address"
    return None


class SafeFetcher:
    """Fetches small JSON documents from URLs that callers chose, safely."""

    def __init__(self, *, allow_loopback: bool = False, resolver: Resolver | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.allow_loopback = allow_loopback
        self.resolver = resolver or system_resolver
        self.max_bytes = max_bytes
        self.timeout = timeout

    @classmethod
    def for_env(cls, env: str, *, resolver: Resolver | None = None) -> SafeFetcher:
        """Loopback (and http to it) only where a developer runs agents on their machine."""
        return cls(allow_loopback=env in ("development", "test"), resolver=resolver)

    async def fetch_json(self, url: str) -> Fetched:
        """GET ``url`` and return its JSON document; raise :class:`FetchError` otherwise."""
        try:
            target = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise FetchError(f"{url!r} is not a valid URL") from exc
        if target.scheme not in ("https", "http") or not target.host:
            raise FetchError(f"{url!r} is not an https URL")
        if target.userinfo:
            raise FetchError(f"{url!r} contains user information")
        if target.scheme == "http" and not self.allow_loopback:
            raise FetchError(f"{url!r} is not https")
        port = target.port or (443 if target.scheme == "https" else 80)
        address = await self._checked_address(target.host, port,
                                              loopback_only=target.scheme == "http")
        try:
            with anyio.fail_after(self.timeout):
                return await self._get(target, address)
        except TimeoutError as exc:
            raise FetchError(f"{url} did not answer within {self.timeout:g} s") from exc
        except httpx.TimeoutException as exc:
            raise FetchError(f"{url} did not answer within {self.timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"{url} could not be fetched ({type(exc).__name__})") from exc

    async def _checked_address(self, host: str, port: int, *, loopback_only: bool) -> str:
        try:
            ipaddress.ip_address(host)
            addresses = [host]
        except ValueError:
            try:
                with anyio.fail_after(self.timeout):
                    addresses = await self.resolver(host, port)
            except (OSError, TimeoutError) as exc:
                raise FetchError(f"{host} could not be resolved") from exc
        if not addresses:
            raise FetchError(f"{host} could not be resolved")
        # Every address must pass: a name with one public and one private address
        # could otherwise be steered to the private one.
        for address in addresses:
            reason = refused_address(address, allow_loopback=self.allow_loopback)
            if reason:
                raise FetchError(f"{host} resolves to a forbidden address: {reason}")
            if loopback_only and not ipaddress.ip_address(address.split("%", 1)[0]).is_loopback:
                raise FetchError(f"http://{host} is not loopback; only https is fetched")
        return addresses[0]

    async def _get(self, target: httpx.URL, address: str) -> Fetched:
        pinned = target.copy_with(host=address)
        # No compression: the size limit then bounds what we hold (no gzip bombs).
        headers = {"Host": target.netloc.decode("ascii"), "Accept": "application/json",
                   "Accept-Encoding": "identity"}
        # TLS: SNI and the certificate check use the name, the socket uses the IP.
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        timeout = httpx.Timeout(self.timeout)
        async with (httpx.AsyncClient(follow_redirects=False, timeout=timeout,
                                      trust_env=False) as client,
                    client.stream("GET", pinned, headers=headers,
                                  extensions=extensions) as response):
            if response.is_redirect:
                raise FetchError(f"{target} redirects; redirects are not followed")
            if response.status_code != 200:
                raise FetchError(f"{target} answered HTTP {response.status_code}")
            content_type = response.headers.get("content-type", "")
            media_type = content_type.split(";", 1)[0].strip().lower()
            if media_type != "application/json" and not media_type.endswith("+json"):
                raise FetchError(f"{target} is not JSON (content-type {content_type!r})")
            if response.headers.get("content-encoding", "identity").lower() != "identity":
                raise FetchError(f"{target} sent a compressed body, which is not accepted")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise FetchError(f"{target} is larger than {self.max_bytes} bytes")
            body = bytearray()
            async for chunk in response.aiter_raw():
                body.extend(chunk)
                if len(body) > self.max_bytes:
                    raise FetchError(f"{target} is larger than {self.max_bytes} bytes")
            try:
                document = json.loads(bytes(body))
            except (ValueError, RecursionError) as exc:
                raise FetchError(f"{target} is not valid JSON") from exc
            return Fetched(url=str(target), document=document, headers=response.headers)
