"""What a person ticks on a consent page can narrow a grant, never widen it (chosen_scopes).

Hypothesis draws what a request asks for and what a form ticks, forged values
included; the consent routes themselves are tested end to end in test_code_flow.py
and tests/web/test_device_page.py.
"""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import FormData, UploadFile

from gateway.oauth.consent import chosen_scopes

SCOPES = ("chat:read", "chat:write", "rides:read", "rides:book", "payments:spend")
# What a forged form might tick besides real scopes.
FORGED = ("", "admin", "chat:read chat:write", "CHAT:READ")

asked_scopes = st.lists(st.sampled_from(SCOPES))
ticked_values = st.lists(st.sampled_from(SCOPES + FORGED))


def _form(ticked: list[str]) -> FormData:
    return FormData([("scope", value) for value in ticked])


@given(asked_scopes, ticked_values)
def test_the_chosen_scopes_are_those_both_asked_for_and_ticked(asked: list[str],
                                                               ticked: list[str]) -> None:
    chosen = chosen_scopes(_form(ticked), asked)

    assert set(chosen) == set(asked) & set(ticked)
    assert len(chosen) == len(set(chosen))


@given(asked_scopes, ticked_values)
def test_the_chosen_scopes_keep_the_order_they_were_asked_in(asked: list[str],
                                                             ticked: list[str]) -> None:
    chosen = chosen_scopes(_form(ticked), asked)

    first_asked = list(dict.fromkeys(asked))
    assert chosen == sorted(chosen, key=first_asked.index)


def test_a_file_sent_as_a_scope_is_not_a_scope() -> None:
    upload = UploadFile(io.BytesIO(b"chat:read"), filename="chat:read")

    assert chosen_scopes(FormData([("scope", upload)]), ["chat:read"]) == []
