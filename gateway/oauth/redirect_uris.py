"""Redirect URIs: what a client may register, and when a requested one matches.

Matching is exact string comparison (RFC 9700 section 4.1.3; OAuth 2.1 section
2.3.1), with the one exception RFC 8252 section 7.3 makes for native apps: an
``http`` redirect to a loopback IP literal (``127.0.0.1`` or ``[::1]``) matches
on any port, because the app picks a free port at the moment it listens. Path
and query must still match exactly.

``localhost`` gets no such latitude: RFC 8252 section 8.3 advises against it (the
name can be resolved to something other than the loopback interface, and a
firewall may treat it differently), so a ``http://localhost`` redirect is
accepted for the native clients that use it but only ever matches exactly.

Registration rules:

- ``https`` URIs for every kind of client;
- ``http`` only on loopback, and only for native clients (RFC 8252 section 7.3);
- private-use schemes in reverse-domain form, such as ``com.example.app:/cb``,
  only for native clients (RFC 8252 section 7.1);
- never a fragment (RFC 6749 section 3.1.2), never user information.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit

from gateway.oauth.client_errors import InvalidRedirectUri

MAX_URI_LENGTH = 2048
MAX_REDIRECT_URIS = 20

# RFC 8252 section 7.3: the loopback IP literals, written as they appear in a URL.
LOOPBACK_HOSTS = ("127.0.0.1", "[::1]")
# host[:port] of a loopback redirect, so "127.0.0.1@evil.example" can never pass.
_LOOPBACK_NETLOC = re.compile(r"^(127\.0\.0\.1|\[::1\])(?::([0-9]{1,5}))?$")
_LOCALHOST_NETLOC = re.compile(r"^localhost(?::[0-9]{1,5})?$", re.IGNORECASE)
# RFC 3986 section 3.1 scheme syntax; a private-use scheme must also contain a dot
# (RFC 8252 section 7.1: reverse domain name of a domain the publisher controls).
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")


def _split(uri: str) -> SplitResult:
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - parsing the port is how a malformed one is found
    except ValueError as exc:
        raise InvalidRedirectUri(f"{uri!r} is not a valid URI.") from exc
    return parts


def _is_loopback(parts: SplitResult) -> bool:
    return parts.scheme == "http" and _LOOPBACK_NETLOC.match(parts.netloc) is not None


def validate_redirect_uri(uri: object, *, native: bool) -> str:
    """Return ``uri`` if a client of this kind may register it; raise otherwise."""
    if not isinstance(uri, str) or not uri:
        raise InvalidRedirectUri("Each redirect URI must be a non-empty string.")
    if len(uri) > MAX_URI_LENGTH:
        raise InvalidRedirectUri(f"A redirect URI may be at most {MAX_URI_LENGTH} characters.")
    if _CONTROL_OR_SPACE.search(uri):
        raise InvalidRedirectUri("A redirect URI may not contain spaces or control characters.")
    if "#" in uri:
        raise InvalidRedirectUri(f"{uri!r} has a fragment; RFC 6749 section 3.1.2 forbids it.")
    parts = _split(uri)
    # urlsplit lower-cases the scheme; read it from the string to refuse "HTTPS:".
    scheme = uri.split(":", 1)[0]
    if scheme != parts.scheme or not _SCHEME.match(scheme):
        raise InvalidRedirectUri(f"{uri!r} needs an absolute URI with a lower-case scheme.")
    if scheme in ("https", "http"):
        if not parts.hostname or "@" in parts.netloc:
            raise InvalidRedirectUri(f"{uri!r} needs a host and no user information.")
        if scheme == "https":
            return uri
        if not native:
            raise InvalidRedirectUri(
                f"{uri!r} is not https; plain http is only for native apps on loopback.")
        if _is_loopback(parts) or _LOCALHOST_NETLOC.match(parts.netloc):
            return uri
        raise InvalidRedirectUri(
            f"{uri!r} is plain http to a host other than 127.0.0.1, [::1] or localhost.")
    if not native:
        raise InvalidRedirectUri(f"{uri!r}: private-use URI schemes are for native apps only.")
    if "." not in scheme:
        raise InvalidRedirectUri(
            f"{uri!r}: a private-use scheme must be a reverse domain name, such as "
            "com.example.app (RFC 8252 section 7.1).")
    return uri


def validate_redirect_uris(uris: object, *, native: bool) -> list[str]:
    """Validate a client's ``redirect_uris`` array (RFC 7591 section 2)."""
    if not isinstance(uris, list):
        raise InvalidRedirectUri("redirect_uris must be an array of strings.")
    if len(uris) > MAX_REDIRECT_URIS:
        raise InvalidRedirectUri(f"At most {MAX_REDIRECT_URIS} redirect URIs may be registered.")
    checked = [validate_redirect_uri(uri, native=native) for uri in uris]
    return list(dict.fromkeys(checked))


def needs_native(uris: Iterable[str]) -> bool:
    """Whether any of these URIs is one only a native app may use (not https)."""
    return any(not uri.startswith("https://") for uri in uris)


def _without_port(parts: SplitResult) -> tuple[str, str, str, str]:
    match = _LOOPBACK_NETLOC.match(parts.netloc)
    host = match.group(1) if match else parts.netloc
    return parts.scheme, host, parts.path, parts.query


def redirect_uri_matches(registered: Iterable[str], requested: str) -> bool:
    """Whether ``requested`` is one of the ``registered`` redirect URIs.

    Exact string comparison; for ``http`` loopback IP literals the port is ignored
    (RFC 8252 section 7.3) and everything else must still be identical.
    """
    registered = list(registered)
    if requested in registered:
        return True
    if "#" in requested or _CONTROL_OR_SPACE.search(requested):
        return False
    try:
        wanted = urlsplit(requested)
    except ValueError:
        return False
    if not _is_loopback(wanted):
        return False
    key = _without_port(wanted)
    for uri in registered:
        try:
            parts = urlsplit(uri)
        except ValueError:
            continue
        if _is_loopback(parts) and _without_port(parts) == key:
            return True
    return False
