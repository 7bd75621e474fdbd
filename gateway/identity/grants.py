"""A person's grants: recording consent, listing them as agent trees, narrowing, revoking.

The service layer behind the Connected agents page. It flushes and never commits:
the request that calls it commits at its boundary. Every function takes the
person's id and treats another person's grant exactly like a missing one (404).

Tokens are stopped, not looked up: each access token carries its grant's id and
version, and every gateway replica holds gw_revocations in memory. So narrowing
appends ``Revocation(kind="grant", min_version=<new version>)`` (tokens minted
before stop, the agent refreshes into the narrower grant) and revoking appends one
``min_version=0`` row per grant of the subtree (everything derived stops).

A grant's payment mandate (RFC 9396 ``authorization_details``) narrows the same
way: a lower cap, budget or approval threshold, fewer services, or no mandate at
all; sub-agents' shares are clamped within it (:meth:`Mandate.clamp`).
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from gateway.identity.models import Agent, Grant, Revocation, User
from gateway.oauth.models import RefreshToken
from gateway.payments.mandates import InvalidMandate, Mandate, mandate_of
from gateway.policy.allowance import Allowance, Widening
from gateway.policy.scopes import SPEND_SCOPE
from services.common.db import utcnow
from services.common.problems import NotFound, Problem


class GrantNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("You have no such grant.")


class Unchanged(enum.Enum):
    """A narrowing that leaves the mandate as it is (the form did not show it)."""

    MANDATE = "unchanged"


class WideningRefused(Problem):
    """The proposed grant allows something the current one doesn't: only narrowing is allowed."""

    def __init__(self, widening: Widening, mandate: Sequence[str] = ()) -> None:
        what = [*widening.scopes, *(f"more of {key}" for key in widening.constraints),
                *(f"a higher {field} to spend" for field in mandate)]
        super().__init__(
            403, "widening-refused",
            f"A grant can only be narrowed; this would add {', '.join(what)}. "
            "To give an agent more, connect it again and consent to the new request.",
            widened_scopes=widening.scopes, widened_constraints=widening.constraints,
            widened_mandate=list(mandate))


class InvalidMandateChange(Problem):
    def __init__(self, reason: str) -> None:
        super().__init__(422, "validation-error", f"That mandate can't be kept: {reason}.")


class NothingLeft(Problem):
    def __init__(self) -> None:
        super().__init__(422, "validation-error",
                         "Keep at least one permission, or revoke the grant instead.")


@dataclass
class GrantNode:
    """A grant, the agent it is for (None: the person's own API token), its sub-agents' grants."""

    grant: Grant
    agent: Agent | None
    # The person who registered the agent, if a person did.
    owner: User | None = None
    children: list[GrantNode] = field(default_factory=list)

    @property
    def allowance(self) -> Allowance:
        return allowance_of(self.grant)

    def walk(self) -> Iterator[GrantNode]:
        """This node and every node below it, parents first."""
        yield self
        for child in self.children:
            yield from child.walk()


def allowance_of(grant: Grant) -> Allowance:
    return Allowance.of(grant.scope, grant.constraints)


def _active(now: dt.datetime) -> ColumnElement[bool]:
    return and_(Grant.revoked_at.is_(None),
                or_(Grant.expires_at.is_(None), Grant.expires_at > now))


async def list_grants(db: AsyncSession, user_id: uuid.UUID, *,
                      now: dt.datetime | None = None) -> list[GrantNode]:
    """Return the person's active grants as trees: each top-level grant with its sub-agents.

    One query for the whole forest. A sub-agent grant whose parent is not active
    (which revocation and expiry should never leave behind) is listed at the top,
    so the person still sees, and can revoke, everything that can act for them.
    """
    owner = aliased(User)
    rows = (await db.execute(
        select(Grant, Agent, owner)
        .outerjoin(Agent, Agent.id == Grant.agent_id)
        .outerjoin(owner, owner.id == Agent.owner_id)
        .where(Grant.user_id == user_id, _active(now or utcnow()))
        .order_by(Grant.created_at, Grant.id)
    )).all()
    nodes = {grant.id: GrantNode(grant, agent, person) for grant, agent, person in rows}
    roots = []
    for node in nodes.values():
        parent = nodes.get(node.grant.parent_id) if node.grant.parent_id else None
        if parent is None:
            roots.append(node)
        else:
            parent.children.append(node)
    return roots


async def get_grant(db: AsyncSession, user_id: uuid.UUID, grant_id: uuid.UUID, *,
                    now: dt.datetime | None = None) -> GrantNode:
    """Return one of the person's active grants, with its agent (404 otherwise)."""
    for root in await list_grants(db, user_id, now=now):
        for node in root.walk():
            if node.grant.id == grant_id:
                return node
    raise GrantNotFound()


async def narrow_grant(db: AsyncSession, user_id: uuid.UUID, grant_id: uuid.UUID, *,
                       scopes: Iterable[str], constraints: Mapping[str, Iterable[str]],
                       mandate: Mandate | Unchanged | None = Unchanged.MANDATE,
                       now: dt.datetime | None = None) -> Grant:
    """Narrow a grant to ``scopes``, ``constraints`` and ``mandate``; its sub-agents follow.

    A proposal that widens anything is refused (403) and changes nothing. One that
    changes nothing writes nothing, so the agent's tokens keep working. Without
    ``payments:spend`` a grant keeps no mandate.
    """
    now = now or utcnow()
    grant = (await get_grant(db, user_id, grant_id, now=now)).grant
    current, wanted = allowance_of(grant), Allowance.of(scopes, constraints)
    current_mandate = mandate_of(grant.authorization_details)
    wanted_mandate = current_mandate if isinstance(mandate, Unchanged) else mandate
    if SPEND_SCOPE not in wanted.scopes:
        wanted_mandate = None
    widening = wanted.widening_over(current)
    mandate_widening = _mandate_widening(wanted_mandate, current_mandate)
    if widening or mandate_widening:
        raise WideningRefused(widening, mandate_widening)
    if not wanted.scopes:
        raise NothingLeft()
    if wanted_mandate is not None and wanted_mandate != current_mandate:
        _check_mandate(wanted_mandate)
    if wanted == current and wanted_mandate == current_mandate:
        return grant
    await _apply(db, grant, wanted, wanted_mandate, now)
    await _narrow_children(db, user_id, grant, wanted, wanted_mandate, now)
    await db.flush()
    return grant


async def connection_of(db: AsyncSession, user_id: uuid.UUID, agent_id: uuid.UUID,
                        resource: str | None, *, now: dt.datetime | None = None) -> Grant | None:
    """The person's live top-level grant to ``agent_id`` for ``resource``, if there is one."""
    found = (await db.scalars(
        select(Grant)
        .where(Grant.user_id == user_id, Grant.agent_id == agent_id,
               Grant.parent_id.is_(None), _active(now or utcnow()))
        .order_by(Grant.created_at.desc(), Grant.id))).all()
    return next((grant for grant in found if grant.resources == [resource]), None)


async def record_consent(db: AsyncSession, user_id: uuid.UUID, agent_id: uuid.UUID, *,
                         scopes: Sequence[str], constraints: Mapping[str, Iterable[str]],
                         resource: str | None, details: list[dict[str, Any]],
                         now: dt.datetime | None = None) -> Grant:
    """Record a person's consent to an agent: one connection per person, agent and resource.

    The first consent makes the grant. Another one (the agent asked again, say for
    a scope the person had unticked: the MCP step-up) makes that same grant exactly
    what the person just consented to, wider or narrower: its version goes up, so
    tokens minted before stop (the agent uses the new one); its sub-agents are
    clamped within it, and what it already spent stays counted against the mandate,
    because the grant is the same. The person sees one connection, not two.

    A second request that carries no mandate (the MCP SDK never sends
    ``authorization_details``) keeps the connection's mandate while payments:spend
    stays ticked: the person set it earlier, and asking again for a scope must not
    silently end the agent's ability to pay. Without payments:spend it goes.
    """
    now = now or utcnow()
    grant = await connection_of(db, user_id, agent_id, resource, now=now)
    if grant is None:
        grant = Grant(user_id=user_id, agent_id=agent_id, scope=" ".join(scopes),
                      constraints={k: list(v) for k, v in constraints.items()},
                      resources=[resource], authorization_details=details)
        db.add(grant)
    else:
        allowance = Allowance.of(scopes, constraints)
        mandate = mandate_of(details) or mandate_of(grant.authorization_details)
        if SPEND_SCOPE not in allowance.scopes:
            mandate = None
        await _apply(db, grant, allowance, mandate, now)
        grant.scope = " ".join(scopes)  # in the order the person read them
        await _narrow_children(db, user_id, grant, allowance, mandate, now)
    await db.flush()
    return grant


def _mandate_widening(wanted: Mandate | None, current: Mandate | None) -> list[str]:
    if wanted is None:
        return []
    if current is None:
        return ["payment_mandate"]
    return wanted.widening_over(current)


def _check_mandate(mandate: Mandate) -> None:
    """A narrower mandate must still be one (a cap within its budget, a service to pay)."""
    if not mandate.services:
        raise InvalidMandateChange("keep at least one service it may pay, or remove the mandate")
    try:
        Mandate.from_detail(mandate.to_detail())
    except InvalidMandate as invalid:
        raise InvalidMandateChange(str(invalid)) from None


async def revoke_grant(db: AsyncSession, user_id: uuid.UUID, grant_id: uuid.UUID, *,
                       now: dt.datetime | None = None) -> list[Grant]:
    """Revoke a grant and every sub-agent grant below it; return what was revoked.

    Revoking a grant already revoked changes nothing (a repeated click is harmless).
    """
    grant = await db.scalar(select(Grant).where(Grant.id == grant_id, Grant.user_id == user_id))
    if grant is None:
        raise GrantNotFound()
    if grant.revoked_at is not None:
        return []
    revoked = await _revoke_tree(db, user_id, grant, now or utcnow())
    await db.flush()
    return revoked


async def _apply(db: AsyncSession, grant: Grant, allowance: Allowance, mandate: Mandate | None,
                 now: dt.datetime) -> None:
    """Store a narrower allowance and mandate and stop the tokens minted under the wider one."""
    grant.scope = allowance.scope_string(order=grant.scope)
    grant.constraints = allowance.constraint_lists()
    grant.authorization_details = [mandate.to_detail()] if mandate else []
    grant.version += 1
    grant.updated_at = now
    db.add(Revocation(kind="grant", value=str(grant.id), min_version=grant.version,
                      revoked_at=now))
    # A refresh token must not mint the old scope again.
    for token in (await db.scalars(select(RefreshToken).where(
            RefreshToken.grant_id == grant.id, RefreshToken.revoked_at.is_(None)))).all():
        token.scope = Allowance.of(token.scope).clamp(allowance).scope_string(order=token.scope)


async def _narrow_children(db: AsyncSession, user_id: uuid.UUID, root: Grant,
                           allowance: Allowance, mandate: Mandate | None,
                           now: dt.datetime) -> None:
    """Bring every grant below ``root`` back within its (narrowed) parent, top down.

    A sub-agent left with no scope at all can do nothing: it is revoked instead. A
    share of a mandate is clamped within the parent's; one that can pay nothing any
    more (or whose parent has no mandate) is removed.
    """
    frontier: list[tuple[Grant, Allowance, Mandate | None]] = [(root, allowance, mandate)]
    while frontier:
        parent, parent_allows, parent_mandate = frontier.pop()
        for child in await _children(db, user_id, [parent.id]):
            current = allowance_of(child)
            clamped = current.clamp(parent_allows)
            if not clamped.scopes:
                await _revoke_tree(db, user_id, child, now)
                continue
            share = _clamp_share(mandate_of(child.authorization_details), parent_mandate,
                                 clamped)
            if clamped != current or share != mandate_of(child.authorization_details):
                await _apply(db, child, clamped, share, now)
            frontier.append((child, clamped, share))


def _clamp_share(share: Mandate | None, parent: Mandate | None,
                 allowance: Allowance) -> Mandate | None:
    if share is None or parent is None or SPEND_SCOPE not in allowance.scopes:
        return None
    clamped = share.clamp(parent)
    return None if clamped.pays_nothing() else clamped


async def _children(db: AsyncSession, user_id: uuid.UUID,
                    parent_ids: Sequence[uuid.UUID]) -> list[Grant]:
    return list((await db.scalars(select(Grant).where(
        Grant.parent_id.in_(parent_ids), Grant.user_id == user_id,
        Grant.revoked_at.is_(None)).order_by(Grant.created_at, Grant.id))).all())


async def _revoke_tree(db: AsyncSession, user_id: uuid.UUID, root: Grant,
                       now: dt.datetime) -> list[Grant]:
    """Revoke ``root`` and its live descendants: grants, revocation rows, refresh tokens."""
    tree, frontier, seen = [root], [root.id], {root.id}
    while frontier:
        found = [g for g in await _children(db, user_id, frontier) if g.id not in seen]
        seen.update(g.id for g in found)
        tree.extend(found)
        frontier = [g.id for g in found]
    for grant in tree:
        grant.revoked_at = now
        grant.updated_at = now
        db.add(Revocation(kind="grant", value=str(grant.id), min_version=0, revoked_at=now))
    await db.execute(
        update(RefreshToken)
        .where(RefreshToken.grant_id.in_([g.id for g in tree]), RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False))
    return tree
