"""Redirect URIs: exact matching, RFC 8252 loopback ports, and what may be registered."""

from __future__ import annotations

import pytest

from gateway.oauth.client_errors import InvalidRedirectUri
from gateway.oauth.redirect_uris import (
    needs_native,
    redirect_uri_matches,
    validate_redirect_uri,
    validate_redirect_uris,
)


@pytest.mark.parametrize("uri", [
    "https://app.example/callback",
    "https://app.example:8443/cb?tenant=a",
    "http://127.0.0.1/callback",
    "http://127.0.0.1:53117/callback",
    "http://[::1]:8080/cb",
    "http://localhost:3000/callback",
    "com.example.agent:/oauth2redirect",
])
def test_native_clients_may_register_these(uri: str) -> None:
    assert validate_redirect_uri(uri, native=True) == uri


@pytest.mark.parametrize("uri", [
    "https://app.example/cb#frag",
    "https://app.example/cb#",
    "http://app.example/callback",
    "http://127.0.0.1.evil.example/cb",
    "http://127.0.0.1@evil.example/cb",
    "http://10.0.0.5/cb",
    "javascript:alert(1)",
    "data:text/html,hi",
    "myapp:/callback",
    "/relative/path",
    "https:///no-host",
    "https://user:pw@app.example/cb",
    "https://app.example:99999/cb",
    "HTTPS://app.example/cb",
    "https://app.example/c b",
    "",
    "https://app.example/" + "a" * 3000,
])
def test_these_are_never_registered(uri: str) -> None:
    with pytest.raises(InvalidRedirectUri) as caught:
        validate_redirect_uri(uri, native=True)
    assert caught.value.error == "invalid_redirect_uri"


@pytest.mark.parametrize("uri", [
    "http://127.0.0.1:8080/cb", "http://localhost/cb", "com.example.agent:/cb"])
def test_web_clients_need_https(uri: str) -> None:
    with pytest.raises(InvalidRedirectUri):
        validate_redirect_uri(uri, native=False)


@pytest.mark.parametrize("value", [None, "https://a.example/cb", [1], [["x"]], {"a": 1}])
def test_redirect_uris_must_be_an_array_of_strings(value: object) -> None:
    with pytest.raises(InvalidRedirectUri):
        validate_redirect_uris(value, native=True)


def test_too_many_redirect_uris_are_refused() -> None:
    with pytest.raises(InvalidRedirectUri):
        validate_redirect_uris([f"https://a.example/{i}" for i in range(100)], native=False)


def test_duplicates_collapse() -> None:
    uris = ["https://a.example/cb", "https://a.example/cb"]
    assert validate_redirect_uris(uris, native=False) == ["https://a.example/cb"]


def test_needs_native_spots_non_https() -> None:
    assert not needs_native(["https://a.example/cb"])
    assert needs_native(["https://a.example/cb", "http://127.0.0.1/cb"])


def test_exact_match() -> None:
    assert redirect_uri_matches(["https://app.example/cb"], "https://app.example/cb")


@pytest.mark.parametrize("requested", [
    "https://app.example/cb/",
    "https://app.example/cb?x=1",
    "https://APP.example/cb",
    "https://app.example:443/cb",
    "https://app.example/cb#x",
    "https://app.example/CB",
    "https://app.example.evil/cb",
])
def test_anything_but_exact_is_a_mismatch(requested: str) -> None:
    assert not redirect_uri_matches(["https://app.example/cb"], requested)


@pytest.mark.parametrize(("registered", "requested"), [
    ("http://127.0.0.1/callback", "http://127.0.0.1:49152/callback"),
    ("http://127.0.0.1:8000/callback", "http://127.0.0.1:49152/callback"),
    ("http://[::1]/cb?x=1", "http://[::1]:1234/cb?x=1"),
])
def test_loopback_ip_literals_match_on_any_port(registered: str, requested: str) -> None:
    assert redirect_uri_matches([registered], requested)


@pytest.mark.parametrize(("registered", "requested"), [
    ("http://127.0.0.1/callback", "http://127.0.0.1:49152/other"),
    ("http://127.0.0.1/callback", "http://127.0.0.1:49152/callback?x=1"),
    ("http://127.0.0.1/callback", "http://127.0.0.1:49152/callback#x"),
    ("http://127.0.0.1/callback", "http://[::1]:49152/callback"),
    ("http://127.0.0.1/callback", "https://127.0.0.1:49152/callback"),
    ("http://127.0.0.1/callback", "http://127.0.0.1@evil.example:80/callback"),
    ("http://127.0.0.1/callback", "http://127.0.0.1:notaport/callback"),
    ("https://127.0.0.1/callback", "https://127.0.0.1:8443/callback"),
])
def test_loopback_port_latitude_covers_nothing_else(registered: str, requested: str) -> None:
    assert not redirect_uri_matches([registered], requested)


def test_localhost_is_not_loopback_for_the_port_rule() -> None:
    registered = ["http://localhost:3000/callback"]
    assert redirect_uri_matches(registered, "http://localhost:3000/callback")
    assert not redirect_uri_matches(registered, "http://localhost:3001/callback")
    assert not redirect_uri_matches(["http://localhost/callback"],
                                    "http://localhost:3001/callback")
