"""NUL characters are refused up front, the same way on every database backend."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Request

from services.common.problems import install_problem_handlers
from services.common.text_guard import RejectNulMiddleware


def echo_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RejectNulMiddleware)

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, str]:
        return {"body": (await request.body()).decode()}

    @app.get("/echo")
    async def echo_query(q: str = "") -> dict[str, str]:
        return {"q": q}

    return app


async def call(method: str, url: str, **kwargs: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=echo_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        return await http.request(method, url, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("body", "content_type"), [
    (b'{"text": "a\\u0000b"}', "application/json"),
    (b'{"text": "\\\\\\u0000"}', "application/json"),  # an escaped backslash, then NUL
    (b'{"text": "x"}\n{"\\u0000": 1}', "application/merge-patch+json"),
    (b"username=al%00ice&password=x", "application/x-www-form-urlencoded"),
])
async def test_a_body_with_nul_is_a_422_problem(body: bytes, content_type: str) -> None:
    response = await call("POST", "/echo", content=body, headers={"content-type": content_type})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "NUL" in response.json()["detail"]


async def test_a_nul_split_across_chunks_is_still_seen() -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"text": "\\u00'
        yield b'00"}'

    response = await call("POST", "/echo", content=chunks(),
                          headers={"content-type": "application/json"})
    assert response.status_code == 422


@pytest.mark.parametrize("url", ["/echo?q=%00", "/echo?q=a%00b"])
async def test_a_query_with_nul_is_a_422_problem(url: str) -> None:
    response = await call("GET", url)
    assert response.status_code == 422


@pytest.mark.parametrize(("body", "content_type"), [
    (b'{"text": "\\\\u0000 is how JSON writes NUL"}', "application/json"),
    (b'{"text": "100% sure"}', "application/json"),
    (b"\x00\x01binary%00", "application/octet-stream"),
])
async def test_text_that_only_looks_like_nul_passes(body: bytes, content_type: str) -> None:
    response = await call("POST", "/echo", content=body, headers={"content-type": content_type})
    assert response.status_code == 200
    assert response.json()["body"] == body.decode()
