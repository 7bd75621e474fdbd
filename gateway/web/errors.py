"""Errors on the web client's pages: HTML for people, problem+json for everything else.

A page route marks its request as HTML (``request.state.html``); the same
:class:`Problem` then renders as a page (or, for 401, a redirect to sign in)
instead of a JSON document.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from services.common.problems import Problem


def wants_html(request: Request) -> None:
    """Dependency for page routes: render this request's errors as HTML."""
    request.state.html = True


def install_html_errors(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        problem = exc
        if not getattr(request.state, "html", False):
            return problem.response(instance=request.url.path)
        if problem.status == 401:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
            request, "error.html",
            {"problem": problem, "principal": getattr(request.state, "principal", None)},
            status_code=problem.status, headers=problem.headers)

    app.add_exception_handler(Problem, on_problem)
