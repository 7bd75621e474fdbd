"""The ``Prefer`` request header, parsed as RFC 7240 section 2 says.

    Prefer     = 1#preference
    preference = token [ BWS "=" BWS word ] *( OWS ";" [ OWS parameter ] )
    parameter  = token [ BWS "=" BWS word ]
    word       = token / quoted-string            (RFC 9110 section 5.6)

A request may carry several Prefer fields and each may list several preferences;
they combine as one comma-separated list (RFC 9110 section 5.3). Names are
case-insensitive; an empty value is the same as none ("foo", "foo=" and 'foo=""'
are one preference). Only the first instance of a repeated preference counts
(section 2). A preference we don't understand is ignored (section 2), and so is a
malformed one: a preference is a hint, so a bad one can never fail the request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

PREFER_HEADER = "Prefer"

# RFC 9110 section 5.6.2 tchar, and 5.6.4 quoted-string (qdtext / quoted-pair).
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = r'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"'
_WORD = re.compile(rf"({_TOKEN})|({_QUOTED})")
_NAME = re.compile(_TOKEN)
_OWS = re.compile(r"[ \t]*")


@dataclass(frozen=True)
class Preference:
    """One preference: its lower-cased name, its value ("" if none) and its parameters."""

    name: str
    value: str = ""
    params: dict[str, str] = field(default_factory=dict)


class _Scanner:
    """Walk one field value; every method leaves ``pos`` just past what it read."""

    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def skip_ows(self) -> None:
        self.pos = _OWS.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def peek(self) -> str:
        return self.text[self.pos:self.pos + 1]

    def name(self) -> str | None:
        match = _NAME.match(self.text, self.pos)
        if match is None:
            return None
        self.pos = match.end()
        return match.group().lower()

    def word(self) -> str | None:
        match = _WORD.match(self.text, self.pos)
        if match is None:
            return None
        self.pos = match.end()
        token, quoted = match.groups()
        return token if token is not None else re.sub(r"\\(.)", r"\1", quoted[1:-1])

    def pair(self) -> tuple[str, str] | None:
        """Read ``token [ BWS "=" BWS word ]``; None if it is malformed."""
        name = self.name()
        if name is None:
            return None
        self.skip_ows()
        if self.peek() != "=":
            return name, ""
        self.pos += 1
        self.skip_ows()
        if self.peek() in ("", ",", ";"):
            return name, ""  # "foo=" is "foo"
        value = self.word()
        return None if value is None else (name, value)

    def skip_to_next_element(self) -> None:
        """Recover from a malformed preference: jump past the next comma not in quotes."""
        while self.pos < len(self.text) and self.peek() != ",":
            if self.peek() == '"':
                match = re.compile(_QUOTED).match(self.text, self.pos)
                self.pos = match.end() if match else self.pos + 1
            else:
                self.pos += 1


def _preference(scan: _Scanner) -> Preference | None:
    head = scan.pair()
    if head is None:
        return None
    params: dict[str, str] = {}
    while True:
        scan.skip_ows()
        if scan.peek() in ("", ","):
            return Preference(head[0], head[1], params)
        if scan.peek() != ";":
            return None
        scan.pos += 1
        scan.skip_ows()
        if scan.peek() in ("", ",", ";"):
            continue  # the grammar allows an empty parameter: "foo;;bar"
        param = scan.pair()
        if param is None:
            return None
        params.setdefault(*param)


def parse_prefer(values: Iterable[str]) -> dict[str, Preference]:
    """Parse every Prefer field value of a request; the first of each name wins."""
    found: dict[str, Preference] = {}
    for value in values:
        scan = _Scanner(value)
        while scan.pos < len(value):
            scan.skip_ows()
            if scan.peek() == ",":  # empty list elements are allowed (RFC 9110 5.6.1)
                scan.pos += 1
                continue
            if scan.pos >= len(value):
                break
            preference = _preference(scan)
            if preference is None:
                scan.skip_to_next_element()
            else:
                found.setdefault(preference.name, preference)
            if scan.peek() == ",":
                scan.pos += 1
    return found


def prefer_values(headers: Mapping[str, str]) -> list[str]:
    """Every Prefer field of a request (Starlette's ``Headers`` keeps repeated fields)."""
    getlist = getattr(headers, "getlist", None)
    if callable(getlist):
        return [str(v) for v in getlist(PREFER_HEADER.lower())]
    value = headers.get(PREFER_HEADER.lower()) or headers.get(PREFER_HEADER)
    return [value] if value else []


def format_preference(preference: Preference) -> str:
    """Render a preference as a Prefer or Preference-Applied list element."""
    def word(value: str) -> str:
        if _NAME.fullmatch(value):
            return value
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    text = preference.name + (f"={word(preference.value)}" if preference.value else "")
    for name, value in preference.params.items():
        text += f"; {name}" + (f"={word(value)}" if value else "")
    return text
