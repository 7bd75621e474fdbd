"""The person's web client: server-rendered pages that call the services through the pipeline.

Every page route here, and in the chat and rides routers included below, inherits
``wants_html``: its errors render as pages, and a 401 becomes a redirect to sign in;
and ``nav_counts``: the navigation's Approvals badge counts what waits for the person.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse

from gateway.activity import router as activity
from gateway.auth import CurrentPrincipal
from gateway.web import agents, chat, device, payments, rides, tokens
from gateway.web.errors import wants_html

router = APIRouter(dependencies=[Depends(wants_html), Depends(payments.nav_counts)],
                   include_in_schema=False)


@router.get("/")
async def home(principal: CurrentPrincipal) -> RedirectResponse:
    """Start in the chat."""
    return RedirectResponse("/chat", status_code=303)


router.include_router(chat.router)
router.include_router(rides.router)
router.include_router(agents.router)
router.include_router(device.router)
router.include_router(tokens.router)
router.include_router(activity.router)
router.include_router(payments.router)
