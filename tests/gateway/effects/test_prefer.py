"""Prefer (RFC 7240 section 2): lists, parameters, quoting, case, and never an error."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import Headers

from gateway.effects.prefer import Preference, format_preference, parse_prefer, prefer_values


def test_several_fields_and_lists_combine() -> None:
    found = parse_prefer(["peek, respond-async", "wait=10"])

    assert set(found) == {"peek", "respond-async", "wait"}
    assert found["wait"].value == "10"


def test_names_are_case_insensitive_and_the_first_instance_wins() -> None:
    found = parse_prefer(["Effects=live", "EFFECTS=peek"])

    assert found["effects"] == Preference("effects", "live")


def test_parameters_and_quoted_strings() -> None:
    found = parse_prefer(['foo; bar="a, \\"b\\"";Baz ; q=1, dry-run'])

    assert found["foo"] == Preference("foo", "", {"bar": 'a, "b"', "baz": "", "q": "1"})
    assert "dry-run" in found


@pytest.mark.parametrize("value", ["foo", "foo=", 'foo=""', " foo ", "foo ;"])
def test_an_empty_value_is_no_value(value: str) -> None:
    assert parse_prefer([value])["foo"] == Preference("foo")


@pytest.mark.parametrize("value", [
    "=x, peek", 'bad="unterminated, peek', "a b, peek", "x=@, peek", ",,peek,", "p;=;, peek",
])
def test_a_malformed_preference_is_skipped_and_the_rest_kept(value: str) -> None:
    assert "peek" in parse_prefer([value])


def test_unknown_preferences_are_kept_apart_for_the_caller_to_ignore() -> None:
    assert set(parse_prefer(["handling=lenient, x-frobnicate"])) == {"handling", "x-frobnicate"}


def test_repeated_fields_are_all_read_from_starlette_headers() -> None:
    headers = Headers(raw=[(b"prefer", b"return=minimal"), (b"prefer", b"peek")])

    assert prefer_values(headers) == ["return=minimal", "peek"]
    assert prefer_values({"prefer": "peek"}) == ["peek"]
    assert prefer_values({}) == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(), max_size=3))
def test_any_header_value_parses_without_raising(values: list[str]) -> None:
    for name, preference in parse_prefer(values).items():
        assert name == preference.name == name.lower()


TOKENS = st.from_regex(r"\A[!#$%&'*+\-.^_`|~0-9a-z]{1,12}\Z")
VALUES = st.one_of(st.just(""), TOKENS, st.text(st.characters(min_codepoint=32,
                                                               max_codepoint=126), min_size=1))
PREFERENCES = st.builds(Preference, TOKENS, VALUES, st.dictionaries(TOKENS, VALUES, max_size=3))


@settings(max_examples=300, deadline=None)
@given(st.lists(PREFERENCES, max_size=4, unique_by=lambda p: p.name))
def test_what_we_format_parses_back_to_the_same(preferences: list[Preference]) -> None:
    header = ", ".join(format_preference(p) for p in preferences)

    assert parse_prefer([header]) == {p.name: p for p in preferences}
