"""The SSRF-safe fetcher: only public addresses, pinned, no redirects, small, quick, JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anyio
import httpx
import pytest
import respx

from gateway.oauth.safe_fetch import (
    FetchError,
    Resolver,
    SafeFetcher,
    cache_max_age,
    refused_address,
)

PUBLIC = "93.184.216.34"
URL = "https://agent.example/client.json"
PINNED = f"https://{PUBLIC}/client.json"


def resolver_to(*addresses: str) -> Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)
    return resolve


def fetcher(*addresses: str, timeout: float = 5.0) -> SafeFetcher:
    return SafeFetcher(resolver=resolver_to(*(addresses or (PUBLIC,))), timeout=timeout)


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


async def test_fetches_json_from_the_checked_address_with_the_name_kept(
        mock: respx.MockRouter) -> None:
    route = mock.get(PINNED).respond(200, json={"client_id": URL},
                                     headers={"Cache-Control": "max-age=600"})

    fetched = await fetcher().fetch_json(URL)

    assert fetched.document == {"client_id": URL}
    assert fetched.max_age == 600
    request = route.calls.last.request
    assert request.headers["host"] == "agent.example"
    assert request.extensions["sni_hostname"] == "agent.example"


@pytest.mark.parametrize("address", [
    "10.0.0.1", "172.16.5.4", "192.168.1.1", "127.0.0.1", "169.254.169.254", "0.0.0.0",
    "100.64.0.1", "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "fe80::1", "fd00::1",
    "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "2002:a00:1::1", "::",
])
async def test_private_and_special_addresses_are_refused(address: str,
                                                         mock: respx.MockRouter) -> None:
    route = mock.get(url__regex=r".*").respond(200, json={})
    with pytest.raises(FetchError, match="forbidden address"):
        await fetcher(address).fetch_json(URL)
    assert not route.called


async def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    with pytest.raises(FetchError, match="forbidden"):
        await fetcher(PUBLIC, "10.1.2.3").fetch_json(URL)


async def test_ip_literal_urls_are_checked_too() -> None:
    with pytest.raises(FetchError, match="forbidden"):
        await fetcher().fetch_json("https://169.254.169.254/latest/meta-data")


async def test_unresolvable_host() -> None:
    async def fail(host: str, port: int) -> list[str]:
        raise OSError("no such host")
    with pytest.raises(FetchError, match="could not be resolved"):
        await SafeFetcher(resolver=fail).fetch_json(URL)
    with pytest.raises(FetchError, match="could not be resolved"):
        await SafeFetcher(resolver=resolver_to()).fetch_json(URL)


@pytest.mark.parametrize("url", [
    "http://agent.example/client.json", "ftp://agent.example/x", "file:///etc/passwd",
    "https://user:pw@agent.example/client.json", "not a url", "https:///x"])
async def test_only_https_urls(url: str) -> None:
    with pytest.raises(FetchError):
        await fetcher().fetch_json(url)


async def test_http_on_loopback_only_where_loopback_is_allowed(mock: respx.MockRouter) -> None:
    mock.get("http://127.0.0.1:8123/client.json").respond(200, json={"ok": True})
    dev = SafeFetcher.for_env("development", resolver=resolver_to("127.0.0.1"))
    production = SafeFetcher.for_env("production", resolver=resolver_to("127.0.0.1"))

    assert (await dev.fetch_json("http://127.0.0.1:8123/client.json")).document == {"ok": True}
    with pytest.raises(FetchError, match="not https"):
        await production.fetch_json("http://127.0.0.1:8123/client.json")
    with pytest.raises(FetchError, match="loopback"):
        await production.fetch_json("https://localhost/client.json")


async def test_http_to_a_public_host_is_refused_even_in_development() -> None:
    dev = SafeFetcher.for_env("development", resolver=resolver_to(PUBLIC))
    with pytest.raises(FetchError, match="only https"):
        await dev.fetch_json("http://agent.example/client.json")


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_redirects_are_not_followed(status: int, mock: respx.MockRouter) -> None:
    mock.get(PINNED).respond(status, headers={"Location": "https://169.254.169.254/"})
    with pytest.raises(FetchError, match="redirect"):
        await fetcher().fetch_json(URL)


async def test_error_statuses_are_errors(mock: respx.MockRouter) -> None:
    mock.get(PINNED).respond(404, json={})
    with pytest.raises(FetchError, match="404"):
        await fetcher().fetch_json(URL)


async def test_oversized_bodies_are_cut_off(mock: respx.MockRouter) -> None:
    mock.get(PINNED).respond(200, content=b"[" + b"1," * 40_000 + b"1]",
                             headers={"Content-Type": "application/json"})
    with pytest.raises(FetchError, match="larger than"):
        await fetcher().fetch_json(URL)


async def test_oversized_streams_without_length_are_cut_off(mock: respx.MockRouter) -> None:
    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b" " * 8192

    mock.get(PINNED).mock(return_value=httpx.Response(
        200, headers={"Content-Type": "application/json"}, stream=_Stream(endless())))
    with pytest.raises(FetchError, match="larger than"):
        await fetcher().fetch_json(URL)


class _Stream(httpx.AsyncByteStream):
    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.chunks:
            yield chunk


async def test_slow_servers_time_out(mock: respx.MockRouter) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(5)
        return httpx.Response(200, json={})

    mock.get(PINNED).mock(side_effect=slow)
    with anyio.fail_after(3), pytest.raises(FetchError, match="did not answer"):
        await fetcher(timeout=0.2).fetch_json(URL)


async def test_slow_drip_bodies_time_out(mock: respx.MockRouter) -> None:
    async def drip() -> AsyncIterator[bytes]:
        while True:
            await anyio.sleep(0.05)
            yield b" "

    mock.get(PINNED).mock(return_value=httpx.Response(
        200, headers={"Content-Type": "application/json"}, stream=_Stream(drip())))
    with anyio.fail_after(3), pytest.raises(FetchError, match="did not answer"):
        await fetcher(timeout=0.3).fetch_json(URL)


@pytest.mark.parametrize(("content_type", "body"), [
    ("text/html", b"<html></html>"), ("", b"{}"), ("application/json", b"{not json"),
    ("application/json", b"\xff\xfe"),
])
async def test_non_json_is_refused(content_type: str, body: bytes,
                                   mock: respx.MockRouter) -> None:
    mock.get(PINNED).respond(200, content=body, headers={"Content-Type": content_type})
    with pytest.raises(FetchError, match="JSON"):
        await fetcher().fetch_json(URL)


async def test_compressed_bodies_are_refused(mock: respx.MockRouter) -> None:
    mock.get(PINNED).respond(200, content=b"x", headers={
        "Content-Type": "application/json", "Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="compressed"):
        await fetcher().fetch_json(URL)


async def test_connection_errors_are_fetch_errors(mock: respx.MockRouter) -> None:
    mock.get(PINNED).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(FetchError, match="could not be fetched"):
        await fetcher().fetch_json(URL)


def test_public_addresses_pass() -> None:
    assert refused_address(PUBLIC) is None
    assert refused_address("2606:4700:4700::1111") is None
    assert refused_address("127.0.0.1", allow_loopback=True) is None


@pytest.mark.parametrize(("value", "expected"), [
    ("max-age=300", 300), ("public, max-age=60", 60), ("no-store", 0), ("no-cache", 0),
    ("", None), ("max-age=abc", None), ('max-age="120"', 120),
])
def test_cache_max_age(value: str, expected: int | None) -> None:
    assert cache_max_age(value) == expected
