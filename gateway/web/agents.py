"""The Connected agents pages: what each agent may do for you, narrowing it, revoking it.

A grant's payment mandate is shown with what was spent this period, and the
narrow form lowers its amounts, unticks services or removes it.

People-only: every route takes ``PersonSession``, so no bearer token reaches them,
whatever its scopes (an agent must never restore or widen its own access). Every
form carries the session's CSRF token. The grants service decides what is allowed:
these routes only turn forms into its calls (a forged widening is refused there).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from gateway.auth import apply_revocations_now, check_csrf
from gateway.db import SessionDep
from gateway.identity import grants
from gateway.identity.auth import PersonSession
from gateway.identity.grants import GrantNode, Unchanged
from gateway.payments.budget import spending
from gateway.payments.mandates import (
    Budget,
    InvalidMandate,
    Mandate,
    mandate_of,
    money,
    parse_money,
)
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
from services.common.db import utcnow
from services.common.problems import Problem

router = APIRouter(prefix="/agents")


@dataclass(frozen=True)
class ConstraintField:
    """One constraint on the narrow form: the values to keep, and whether it is unlimited now."""

    key: str
    description: str
    unlimited: bool
    options: list[Choice]
    # On a second consent: the values the connection holds now (None: every one).
    kept: list[str] | None = None


async def _describe(request: Request, principal: Principal, db: SessionDep,
                    nodes: list[GrantNode]) -> list[GrantView]:
    client = PageClient(request, principal)
    used = {key for root in nodes for node in root.walk() for key in node.grant.constraints}
    kinds = await constraint_kinds(client, used)
    scopes = scope_descriptions(request.app.state.services)
    spent = await spending(db, principal.user_id, utcnow())
    return [grant_view(node, principal, scopes, kinds, spent) for node in nodes]


@router.get("")
async def agents_home(request: Request, principal: PersonSession, db: SessionDep,
                      narrowed: uuid.UUID | None = None, revoked: int = 0) -> HTMLResponse:
    """List the agents acting for you, their sub-agents, and your API tokens."""
    roots = await grants.list_grants(db, principal.user_id)
    views = await _describe(request, principal, db, roots)
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
        "mandate": MandateField.of(mandate_of(node.grant.authorization_details)),
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


@dataclass(frozen=True)
class MandateField:
    """The mandate on the narrow form: amounts as a person types them, services to untick."""

    currency: str
    max_per_payment: str
    budget: str | None
    period: str | None
    approval_threshold: str
    services: list[str]

    @classmethod
    def of(cls, mandate: Mandate | None) -> MandateField | None:
        if mandate is None:
            return None
        def typed(amount: int) -> str:
            return money(amount, mandate.currency).split()[0]

        return cls(
            currency=mandate.currency, max_per_payment=typed(mandate.max_per_payment),
            budget=typed(mandate.budget.amount) if mandate.budget else None,
            period=mandate.budget.period if mandate.budget else None,
            approval_threshold=("" if mandate.approval_threshold is None
                                else typed(mandate.approval_threshold)),
            services=sorted(mandate.services))


def proposed_mandate(form: FormData, current: Mandate | None) -> Mandate | Unchanged | None:
    """Read the mandate a narrow form asks for: unchanged if it showed none, else the new one.

    Amounts are read in the mandate's currency; the grants service decides whether
    the result is narrower (a higher amount is refused there, not here).
    """
    if current is None or form.get("mandate_shown") != "1":
        return Unchanged.MANDATE
    if form.get("mandate") != "keep":
        return None

    def amount(name: str) -> int | None:
        typed = str(form.get(name, "")).strip()
        return parse_money(typed, current.currency) if typed else None

    try:
        most, budget, threshold = (amount("max_per_payment"), amount("budget_amount"),
                                   amount("approval_threshold"))
    except InvalidMandate as invalid:
        raise Problem(422, "validation-error", str(invalid)) from None
    if most is None:
        raise Problem(422, "validation-error", "Say the most it may pay at once.")
    return replace(
        current, max_per_payment=most,
        budget=Budget(budget, current.budget.period) if current.budget and budget else None,
        approval_threshold=threshold,
        services=frozenset(str(s) for s in form.getlist("mandate_service")))


@router.post("/{grant_id}/narrow")
async def narrow(request: Request, principal: PersonSession, db: SessionDep,
                 grant_id: uuid.UUID) -> RedirectResponse:
    """Narrow a grant to the ticked scopes and values (never wider)."""
    form = await request.form()
    check_csrf(request, principal, str(form.get("csrf_token", "")))
    node = await grants.get_grant(db, principal.user_id, grant_id)
    await grants.narrow_grant(
        db, principal.user_id, grant_id, scopes=[str(s) for s in form.getlist("scope")],
        constraints=proposed_constraints(form, node.grant.constraints),
        mandate=proposed_mandate(form, mandate_of(node.grant.authorization_details)))
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
