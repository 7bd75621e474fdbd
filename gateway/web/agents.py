"""The Connected agents pages: what each agent may do for you, narrowing it, revoking it.

People-only: every route takes ``PersonSession``, so no bearer token reaches them,
whatever its scopes (an agent must never restore or widen its own access). Every
form carries the session's CSRF token. The grants service decides what is allowed:
these routes only turn forms into its calls (a forged widening is refused there).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from gateway.auth import apply_revocations_now, check_csrf
from gateway.db import SessionDep
from gateway.identity import grants
from gateway.identity.auth import PersonSession
from gateway.identity.grants import GrantNode
from gateway.policy.scopes import scope_descriptions
from gateway.principal import Principal
from gateway.web.client import PageClient
from gateway.web.grant_views import (
    Choice,
    ConstraintKind,
    GrantView,
    constraint_kinds,
    declared_kinds,
    grant_view,
)
from gateway.web.pages import render

router = APIRouter(prefix="/agents")


@dataclass(frozen=True)
class ConstraintField:
    """One constraint on the narrow form: the values to keep, and whether it is unlimited now."""

    key: str
    description: str
    unlimited: bool
    options: list[Choice]


async def _describe(request: Request, principal: Principal,
                    nodes: list[GrantNode]) -> list[GrantView]:
    client = PageClient(request, principal)
    used = {key for root in nodes for node in root.walk() for key in node.grant.constraints}
    kinds = await constraint_kinds(client, used)
    scopes = scope_descriptions(request.app.state.services)
    return [grant_view(node, principal, scopes, kinds) for node in nodes]


@router.get("")
async def agents_home(request: Request, principal: PersonSession, db: SessionDep,
                      narrowed: uuid.UUID | None = None, revoked: int = 0) -> HTMLResponse:
    """List the agents acting for you, their sub-agents, and your API tokens."""
    roots = await grants.list_grants(db, principal.user_id)
    views = await _describe(request, principal, roots)
    changed = next((v.name for root in views for v in root.walk() if v.id == str(narrowed)),
                   None) if narrowed else None
    return render(request, principal, "agents", "agents/index.html", {
        "agents": [v for v in views if not v.is_token],
        "tokens": [v for v in views if v.is_token],
        "narrowed": changed, "revoked": bool(revoked),
    })


def _fields(node: GrantNode, kinds: dict[str, ConstraintKind]) -> list[ConstraintField]:
    """The constraints a person can narrow: those the grant has, and those its scopes allow."""
    scopes = set(node.grant.scope.split())
    fields = []
    for key, kind in sorted(kinds.items()):
        current = node.grant.constraints.get(key)
        if current is not None:
            fields.append(ConstraintField(key, kind.description, False,
                                          [Choice(v, kind.label(v)) for v in current]))
        elif kind.applies_to & scopes and kind.choices is not None:
            fields.append(ConstraintField(key, kind.description, True, kind.choices))
    return fields


@router.get("/{grant_id}/narrow")
async def narrow_form(request: Request, principal: PersonSession, db: SessionDep,
                      grant_id: uuid.UUID) -> HTMLResponse:
    """Show what a grant allows as checkboxes, to take some of it away."""
    node = await grants.get_grant(db, principal.user_id, grant_id)
    client = PageClient(request, principal)
    kinds = await constraint_kinds(client, _narrowable_keys(client, node))
    scopes = scope_descriptions(request.app.state.services)
    return render(request, principal, "agents", "agents/narrow.html", {
        "grant": grant_view(node, principal, scopes, kinds),
        "scopes": [(s, scopes.get(s, s)) for s in node.grant.scope.split()],
        "fields": _fields(node, kinds),
    })


def _narrowable_keys(client: PageClient, node: GrantNode) -> set[str]:
    scopes = set(node.grant.scope.split())
    return {key for key, (_, kind, _) in declared_kinds(client).items()
            if key in node.grant.constraints or kind.applies_to & scopes}


def proposed_constraints(form: FormData, current: dict[str, list[str]]) -> dict[str, list[str]]:
    """Read the constraints a narrow form asks for.

    A key the form did not show stays as it is. For a key it showed: "every
    channel" stays unlimited only while every offered value is still ticked (the
    person removed one: they meant a limit); otherwise the ticked values.
    """
    proposed = dict(current)
    for key in form.getlist("constraint"):
        values = [str(v) for v in form.getlist(f"value:{key}")]
        offered = {str(v) for v in form.getlist(f"offered:{key}")}
        if form.get(f"limit:{key}") == "all" and offered <= set(values):
            proposed.pop(str(key), None)
        else:
            proposed[str(key)] = values
    return proposed


@router.post("/{grant_id}/narrow")
async def narrow(request: Request, principal: PersonSession, db: SessionDep,
                 grant_id: uuid.UUID) -> RedirectResponse:
    """Narrow a grant to the ticked scopes and values (never wider)."""
    form = await request.form()
    check_csrf(request, principal, str(form.get("csrf_token", "")))
    node = await grants.get_grant(db, principal.user_id, grant_id)
    await grants.narrow_grant(
        db, principal.user_id, grant_id, scopes=[str(s) for s in form.getlist("scope")],
        constraints=proposed_constraints(form, node.grant.constraints))
    return RedirectResponse(f"/agents?narrowed={grant_id}#grant-{grant_id}", status_code=303,
                            background=apply_revocations_now(request))


@router.post("/{grant_id}/revoke")
async def revoke(request: Request, principal: PersonSession, db: SessionDep,
                 grant_id: uuid.UUID) -> RedirectResponse:
    """Revoke a grant: the agent and every sub-agent below it stop at once."""
    form = await request.form()
    check_csrf(request, principal, str(form.get("csrf_token", "")))
    await grants.revoke_grant(db, principal.user_id, grant_id)
    return RedirectResponse("/agents?revoked=1", status_code=303,
                            background=apply_revocations_now(request))
