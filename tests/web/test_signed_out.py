"""Every page needs a signed-in person: the rest are sent to sign in, and come back after."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

CHANNEL = "2b0c6c52-0d8e-4f57-9a57-1b1f3a2c8d11"


@pytest.mark.parametrize("path", [
    "/",
    "/chat",
    f"/chat/{CHANNEL}",
    f"/chat/{CHANNEL}/threads/1",
    "/chat/search?q=launch",
    "/rides",
    f"/rides/quotes/{CHANNEL}",
])
async def test_signed_out_page_redirects_to_login_with_next(client: httpx.AsyncClient,
                                                            path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={quote(path)}"


@pytest.mark.parametrize("path", [f"/chat/{CHANNEL}/messages", "/rides/quote"])
async def test_signed_out_form_post_redirects_to_login(client: httpx.AsyncClient,
                                                       path: str) -> None:
    response = await client.post(path, data={"text": "hi", "csrf_token": "x"})

    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
