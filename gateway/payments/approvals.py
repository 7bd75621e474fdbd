"""Held requests: a payment the person must approve, and carrying it out once they do.

When a payment is above the mandate's approval threshold, or the bank wants the
person to authenticate, the gateway doesn't pay. It stores the request exactly as
the agent sent it, answers ``202 Accepted`` with ``Location: /approvals/{id}``
(RFC 9110 section 15.3.3: accepted for processing, not done), and the person finds
it in their Approvals inbox: what, for whom, how much, which agent.

Approving carries the request out through the same pipeline, as the agent, with
the approval in hand: the grant is checked again (a revoked agent gets nothing),
the budget is reserved then (not at hold time: a held request must not block the
rest of the budget while it waits), and the answer is kept on the approval, where
the agent's next poll finds it. Denying, or letting it expire, releases anything
held on the card. Every transition is a conditional update from ``pending``, so a
double click, two tabs, or the expiry sweeper racing the person decide it once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.identity.models import Grant
from gateway.payments import ledger
from gateway.payments.ledger import Ask, Payer
from gateway.payments.mandates import money
from gateway.payments.models import Approval, ApprovalStatus, PaymentStatus
from gateway.payments.processor import Processor, ProcessorError
from gateway.principal import Principal
from services.common.db import utcnow
from services.common.problems import NotFound, Problem
from services.common.txn_token import Actor

if TYPE_CHECKING:
    from gateway.payments.hook import Answer, PaidCall
    from gateway.proxy.pipeline import Pipeline

# What a held request keeps of the agent's headers: enough to replay it faithfully.
KEPT_HEADERS = ("content-type", "accept", "accept-language", "idempotency-key")


@dataclass(frozen=True)
class Held:
    """The approval a call is being carried out under."""

    id: uuid.UUID
    payment_id: uuid.UUID | None


class ApprovalNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("No such approval.")


def snapshot(principal: Principal) -> dict[str, Any]:
    """The caller as it was, to carry the request out as them later."""
    return {
        "user_id": str(principal.user_id), "username": principal.username,
        "display_name": principal.display_name, "scopes": sorted(principal.scopes),
        "via": principal.via, "actors": [a.model_dump(exclude_none=True)
                                         for a in principal.actors],
        "constraints": principal.constraints,
        "grant_id": str(principal.grant_id) if principal.grant_id else None,
        "client_id": principal.client_id,
        "agent_id": str(principal.agent_id) if principal.agent_id else None,
    }


# How long an agent waits between two polls of an approval nobody has finished yet.
POLL_SECONDS = 5


def poll_after(approval: Approval) -> int | None:
    """Seconds until the next poll while the approval is still in progress, else None."""
    return POLL_SECONDS if approval.status in ("pending", "approved") else None


def view(approval: Approval, issuer: str) -> dict[str, Any]:
    """An approval as its JSON resource (what the agent polls)."""
    doc: dict[str, Any] = {
        "id": str(approval.id), "status": approval.status, "reason": approval.reason,
        "amount": approval.amount, "currency": approval.currency,
        "price": money(approval.amount, approval.currency),
        "description": approval.description, "service": approval.service,
        "agent": approval.actor_name or None, "created_at": approval.created_at.isoformat(),
        "expires_at": approval.expires_at.isoformat(),
        "url": f"{issuer}/approvals/{approval.id}",
    }
    if approval.response_status is not None:
        body: Any = approval.response_body.decode("utf-8", "replace")
        if "json" in approval.response_headers.get("content-type", ""):
            with contextlib.suppress(ValueError):
                body = json.loads(approval.response_body)
        doc["result"] = {"status": approval.response_status, "body": body}
    return doc


class Approvals:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], processor: Processor, *,
                 issuer: str, ttl: dt.timedelta) -> None:
        self.sessionmaker = sessionmaker
        self.processor = processor
        self.issuer = issuer
        self.ttl = ttl

    async def hold(self, call: PaidCall, ask: Ask, payer: Payer, *, reason: str,
                   payment_id: uuid.UUID | None = None) -> Answer:
        """Store the call for the person and answer 202 with where to poll."""
        from gateway.payments.hook import Answer

        now = utcnow()
        approval = Approval(
            user_id=payer.user_id, grant_id=payer.grant_id, agent_id=payer.agent_id,
            actor_name=payer.actor_name, reason=reason, service=ask.service,
            method=call.method, path=call.path, query=call.query, body=call.body,
            headers={k: v for k in KEPT_HEADERS if (v := call.headers.get(k))},
            principal=snapshot(call.principal), amount=ask.amount, currency=ask.currency,
            reference=ask.reference, description=ask.description, payment_id=payment_id,
            request_id=call.request_id, created_at=now, expires_at=now + self.ttl)
        async with self.sessionmaker() as session, session.begin():
            session.add(approval)
        why = ("is above the approval threshold of the mandate" if reason == "over_threshold"
               else "needs the card holder to authenticate with their bank")
        doc = view(approval, self.issuer)
        doc["detail"] = (f"This payment of {money(ask.amount, ask.currency)} {why}: the "
                         "person must approve it. Poll the approval's url; once approved, "
                         "its result is the service's answer.")
        return Answer(202, {"content-type": "application/json",
                            "location": f"{self.issuer}/approvals/{approval.id}",
                            "retry-after": str(POLL_SECONDS)}, json.dumps(doc).encode())

    # -- reading ------------------------------------------------------------------------

    async def get(self, approval_id: uuid.UUID, principal: Principal) -> Approval:
        """The approval, if ``principal`` may see it: its person, or the agent that asked."""
        await self.expire_due()
        async with self.sessionmaker() as session:
            approval = await session.get(Approval, approval_id)
            if approval is None or approval.user_id != principal.user_id:
                raise ApprovalNotFound
            if not principal.is_person and (
                    principal.grant_id is None
                    or str(principal.grant_id) != approval.principal.get("grant_id")):
                raise ApprovalNotFound  # another agent of the same person sees nothing
            return approval

    async def pending_for(self, user_id: uuid.UUID) -> list[Approval]:
        await self.expire_due()
        async with self.sessionmaker() as session:
            return list((await session.scalars(
                select(Approval).where(Approval.user_id == user_id,
                                       Approval.status == ApprovalStatus.PENDING.value)
                .order_by(Approval.created_at.desc()))).all())

    async def recent_for(self, user_id: uuid.UUID, limit: int = 20) -> list[Approval]:
        async with self.sessionmaker() as session:
            return list((await session.scalars(
                select(Approval).where(Approval.user_id == user_id,
                                       Approval.status != ApprovalStatus.PENDING.value)
                .order_by(Approval.created_at.desc()).limit(limit))).all())

    # -- deciding -----------------------------------------------------------------------

    async def _claim(self, approval_id: uuid.UUID, user_id: uuid.UUID,
                     to: ApprovalStatus) -> Approval:
        """Move a pending approval of this person to ``to``, exactly once."""
        now = utcnow()
        async with self.sessionmaker() as session, session.begin():
            result = await session.execute(
                update(Approval)
                .where(Approval.id == approval_id, Approval.user_id == user_id,
                       Approval.status == ApprovalStatus.PENDING.value,
                       Approval.expires_at > now)
                .values(status=to, decided_at=now))
            approval = await session.get(Approval, approval_id)
            if approval is None or approval.user_id != user_id:
                raise ApprovalNotFound
            if not result.rowcount:  # type: ignore[attr-defined]
                raise Problem(409, "conflict", f"This approval is already {approval.status}.",
                              approval_status=approval.status)
            return approval

    async def deny(self, approval_id: uuid.UUID, user_id: uuid.UUID) -> Approval:
        approval = await self._claim(approval_id, user_id, ApprovalStatus.DENIED)
        await self._release(approval)
        return await self._finish(approval, ApprovalStatus.DENIED,
                                  self._refused("approval_denied", approval))

    def _refused(self, reason: str, approval: Approval) -> Problem:
        """The 402 the held call ends with when the person said no or never answered."""
        from gateway.payments.refusals import PaymentRefused

        return PaymentRefused(reason, amount=approval.amount, currency=approval.currency,
                              issuer=self.issuer)

    async def approve(self, approval_id: uuid.UUID, user_id: uuid.UUID,
                      pipeline: Pipeline) -> Approval:
        """Carry the held request out as its caller; keep the answer on the approval."""
        approval = await self._claim(approval_id, user_id, ApprovalStatus.APPROVED)
        principal = await self._principal(approval)
        if principal is None:
            await self._release(approval)
            return await self._finish(approval, ApprovalStatus.FAILED,
                                      self._refused("grant_revoked", approval))
        try:
            upstream = await pipeline.call(
                principal, approval.method, approval.service, approval.path,
                request_id=f"{approval.request_id}-approved", query=approval.query,
                body=approval.body, headers=approval.headers,
                approval=Held(approval.id, approval.payment_id))
        except Problem as problem:
            await self._release(approval)
            return await self._finish(approval, ApprovalStatus.FAILED, problem)
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(Approval).where(Approval.id == approval.id).values(
                    status=ApprovalStatus.COMPLETED if upstream.status < 400
                    else ApprovalStatus.FAILED,
                    response_status=upstream.status,
                    response_headers={k: v for k, v in upstream.headers.items()
                                      if k in ("content-type", "location")},
                    response_body=upstream.content))
            done = await session.get(Approval, approval.id)
            assert done is not None
            return done

    async def _finish(self, approval: Approval, status: ApprovalStatus,
                      problem: Problem) -> Approval:
        async with self.sessionmaker() as session, session.begin():
            await session.execute(update(Approval).where(Approval.id == approval.id).values(
                status=status, response_status=problem.status,
                response_headers={"content-type": "application/problem+json"},
                response_body=json.dumps(problem.body()).encode()))
            done = await session.get(Approval, approval.id)
            assert done is not None
            return done

    async def _principal(self, approval: Approval) -> Principal | None:
        """The caller as it is now: None if its grant (or one above it) was revoked."""
        saved = approval.principal
        scopes = frozenset(saved["scopes"])
        constraints = saved.get("constraints") or {}
        if saved.get("grant_id"):
            async with self.sessionmaker() as session:
                grants = {g.id: g for g in (await session.scalars(
                    select(Grant).where(Grant.user_id == approval.user_id))).all()}
            now = utcnow()
            grant = grants.get(uuid.UUID(saved["grant_id"]))
            link = grant
            while link is not None:
                if link.revoked_at is not None or (link.expires_at and link.expires_at <= now):
                    return None
                link = grants.get(link.parent_id) if link.parent_id else None
            if grant is None:
                return None
            # Narrowed since? The narrower grant applies.
            scopes = scopes & frozenset(grant.scope.split())
            constraints = grant.constraints or {}
        return Principal(
            user_id=uuid.UUID(saved["user_id"]), username=saved["username"],
            display_name=saved["display_name"], scopes=scopes, via=saved["via"],
            actors=tuple(Actor(**a) for a in saved.get("actors", [])),
            constraints=constraints,
            grant_id=uuid.UUID(saved["grant_id"]) if saved.get("grant_id") else None,
            client_id=saved.get("client_id"),
            agent_id=uuid.UUID(saved["agent_id"]) if saved.get("agent_id") else None)

    async def _release(self, approval: Approval) -> None:
        """Let go of a card hold made for this approval (the authentication case)."""
        if approval.payment_id is None:
            return
        payment = await ledger.get(self.sessionmaker, approval.payment_id)
        if payment is None or payment.status not in (PaymentStatus.RESERVED,
                                                      PaymentStatus.AUTHORIZED):
            return
        if payment.intent_id:
            try:
                await self.processor.cancel(payment.intent_id,
                                            idempotency_key=f"agentgate-{payment.id}-cancel")
            except ProcessorError:
                return  # reconciliation voids it: it was never delivered
        await ledger.move(self.sessionmaker, payment.id,
                          [PaymentStatus.RESERVED, PaymentStatus.AUTHORIZED],
                          PaymentStatus.VOIDED, reason="not_approved")

    async def expire_due(self) -> int:
        """Expire pending approvals past their time; release what they held."""
        now = utcnow()
        async with self.sessionmaker() as session:
            due = list((await session.scalars(select(Approval).where(
                Approval.status == ApprovalStatus.PENDING.value,
                Approval.expires_at <= now))).all())
        expired = 0
        for approval in due:
            async with self.sessionmaker() as session, session.begin():
                result = await session.execute(
                    update(Approval).where(Approval.id == approval.id,
                                           Approval.status == ApprovalStatus.PENDING.value)
                    .values(status=ApprovalStatus.EXPIRED, decided_at=now))
            if result.rowcount:  # type: ignore[attr-defined]
                expired += 1
                await self._release(approval)
                await self._finish(approval, ApprovalStatus.EXPIRED,
                                   self._refused("approval_expired", approval))
        return expired
