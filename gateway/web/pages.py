"""Rendering a page: the template, the signed-in person, and headers every page needs."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Request
from fastapi.responses import HTMLResponse

from gateway.principal import Principal

Section = Literal["chat", "rides", "agents", "tokens", "activity", "payments", "approvals"]

# Pages are personal and change on every visit (unread counts, "seen by"): never store
# them, so neither a shared cache nor the browser's back button shows a stale copy.
NO_STORE = {"Cache-Control": "no-store"}


def render(request: Request, principal: Principal, section: Section, template: str,
           context: dict[str, Any], *, status_code: int = 200) -> HTMLResponse:
    """Render ``template`` for ``principal`` in a section of the main navigation."""
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, template, {"principal": principal, "section": section, **context},
        status_code=status_code, headers=NO_STORE)
    return response
