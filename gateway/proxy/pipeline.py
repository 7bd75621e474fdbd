"""The one enforcement path: every REST, web and MCP call to a service goes through here.

    authenticate -> route -> authorize -> effects -> limits -> (idempotency) -> forward
        -> (payment hook on 402, refund hook) -> record

Authentication happens before (it needs the request's cookie or token); this
module takes the resulting :class:`Principal` and runs the rest, timing each
stage for Server-Timing.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx

from gateway.activity.recorder import ActivityRecorder
from gateway.effects.mode import Decision, EffectScopeMissing, decide
from gateway.effects.prefer import parse_prefer, prefer_values
from gateway.oauth.resources import metadata_url_for_audience
from gateway.payments.approvals import Held
from gateway.payments.hook import Answer, PaidCall, PaymentHook
from gateway.payments.idempotency import (
    IdempotencyStore,
    fingerprint,
    owner_of,
    parse_idempotency_key,
    run_idempotently,
)
from gateway.policy.manifest import Operation, is_one_segment
from gateway.principal import Principal
from gateway.proxy.services import Service, ServiceRegistry
from gateway.proxy.txn_token import TxnTokenMinter
from gateway.ratelimit import RateLimiter
from gateway.timing import REQUEST_ID_HEADER, stage
from services.common.problems import PROBLEM_JSON, Problem
from services.common.txn_token import TXN_TOKEN_HEADER, EffectsMode, TxnContext
from services.common.txn_token import Payment as TxnPayment

# Request headers a service may see. Cookies and Authorization never pass: the
# caller's credential stops at the gateway; the Txn-Token replaces it.
FORWARDED_REQUEST_HEADERS = ("content-type", "accept", "accept-language", "prefer",
                             "idempotency-key", "if-match", "if-none-match")
FORWARDED_RESPONSE_HEADERS = ("content-type", "etag", "retry-after", "cache-control",
                              "preference-applied", "vary", "location", "last-modified")


@dataclass(frozen=True)
class Upstream:
    """A service's answer, as the gateway returns it."""

    status: int
    headers: dict[str, str]
    content: bytes
    operation: Operation
    effects: EffectsMode = "live"

    def json(self) -> Any:
        return json.loads(self.content) if self.content else None

    @property
    def is_problem(self) -> bool:
        return self.headers.get("content-type", "").startswith(PROBLEM_JSON)


def insufficient_scope(issuer: str, missing: list[str], required: frozenset[str],
                       principal: Principal) -> Problem:
    """403 per RFC 6750 section 3.1, plus a problem body naming what is missing.

    ``scope`` is what the operation needs (RFC 6750: "the scope necessary to access
    the resource"); a client asks for it on top of what it holds (the MCP spec's
    step-up, which the MCP SDK's client follows). ``resource_metadata`` (RFC 9728
    section 5.1) points at the metadata of the resource the token was issued for,
    so a client knows where to re-authorize; a cookie session has none.
    """
    scope = " ".join(sorted(required))
    challenge = f'Bearer realm="{issuer}", error="insufficient_scope", scope="{scope}"'
    metadata = metadata_url_for_audience(issuer, principal.token_audience)
    if metadata is not None:
        challenge += f', resource_metadata="{metadata}"'
    return Problem(
        403, "insufficient-scope",
        f"This operation needs the scope {' '.join(missing)}.",
        headers={"WWW-Authenticate": challenge},
        required_scopes=sorted(required), missing_scopes=missing,
    )


def preference_headers(decision: Decision | None, vary: str = "") -> dict[str, str]:
    """Preference-Applied (RFC 7240 section 3), and Vary naming Prefer, which chose the mode."""
    if "prefer" not in vary.lower():
        vary = f"{vary}, Prefer" if vary else "Prefer"
    headers = {"vary": vary}
    if decision is not None and decision.applied:
        headers["preference-applied"] = decision.applied
    return headers


class Pipeline:
    def __init__(self, services: ServiceRegistry, minter: TxnTokenMinter, *, issuer: str,
                 activity: ActivityRecorder, payments: PaymentHook | None = None,
                 idempotency: IdempotencyStore | None = None,
                 limiter: RateLimiter | None = None) -> None:
        self.services = services
        self.minter = minter
        self.issuer = issuer
        self.activity = activity
        self.payments = payments
        self.idempotency = idempotency
        self.limiter = limiter

    async def call(
        self,
        principal: Principal,
        method: str,
        service_name: str,
        path: str,
        *,
        request_id: str,
        query: str = "",
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        approval: Held | None = None,
    ) -> Upstream:
        """Run one call for ``principal`` through every stage and record it (stage 8).

        ``approval``: the person approved this (held) call; the payment hook pays for it
        without asking again (gateway/payments/approvals.py).
        """
        recorder = self.activity
        limits: dict[str, str] = {}  # RateLimit fields, on every answer past stage 5
        try:
            upstream = await self._run(principal, method, service_name, path,
                                       request_id=request_id, query=query, body=body,
                                       headers=headers, approval=approval, limits=limits)
        except Problem as problem:
            problem.headers.update(limits)
            await recorder.record_call(
                principal, method, service_name, path, request_id=request_id, effects=None,
                status=problem.status, problem=problem,
                operation=self._known_operation(service_name, method, path))
            raise
        upstream = dataclasses.replace(upstream, headers={**upstream.headers, **limits})
        await recorder.record_call(
            principal, method, service_name, path, request_id=request_id,
            operation=upstream.operation, effects=upstream.effects, status=upstream.status,
            headers=upstream.headers, content=upstream.content)
        return upstream

    def _known_operation(self, service_name: str, method: str, path: str) -> Operation | None:
        """The operation a refused call was for, if the route got that far (for the record)."""
        try:
            return self.services.get(service_name).manifest.match(method, path)[0]
        except Exception:
            return None

    async def _run(
        self,
        principal: Principal,
        method: str,
        service_name: str,
        path: str,
        *,
        request_id: str,
        query: str = "",
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        approval: Held | None = None,
        limits: dict[str, str] | None = None,
    ) -> Upstream:
        """Run one call for ``principal`` through stages 2 to 7 and return the service's answer."""
        headers = headers or {}
        with stage("route"):
            service = self.services.get(service_name)
            await service.ensure_loaded()
            operation = self._route(service, method, path)
        with stage("authz"):
            if not principal.has_person:
                raise Problem(403, "no-person",
                              "This token is an agent's own (client credentials): it acts for "
                              "no person, so it can't reach anyone's data.")
            missing = sorted(operation.scopes - principal.scopes)
            if missing:
                raise insufficient_scope(self.issuer, missing, operation.scopes, principal)
        with stage("effects"):
            decision = self._effects(principal, operation, headers)
        if self.limiter is not None and approval is None:  # approved: counted when held
            with stage("limits"):  # gateway/ratelimit: raises RateLimited (429) over quota
                fields = await self.limiter.check(principal)
            if limits is not None:
                limits.update(fields)
        call = PaidCall(principal=principal, operation=operation, mode=decision.mode,
                        method=method, path=path, query=query, body=body, headers=headers,
                        request_id=request_id, approval=approval)
        if self._needs_idempotency(call):
            # Paid calls of agents (gateway/payments/idempotency.py): a retry never pays twice.
            assert self.idempotency is not None
            key = parse_idempotency_key(headers.get("idempotency-key"))
            stored = await run_idempotently(
                self.idempotency, owner_of(principal.user_id, principal.client_id), key,
                fingerprint(method, f"/{service.name}{path}", query, body),
                lambda: self._forward_and_pay(service, call, decision))
            return Upstream(stored.status, dict(stored.headers), stored.content, operation,
                            decision.mode)
        answer = await self._forward_and_pay(service, call, decision)
        return Upstream(answer.status, answer.headers, answer.content, operation, decision.mode)

    def _needs_idempotency(self, call: PaidCall) -> bool:
        """An agent's live call that may cost money; a person's when they send a key."""
        if self.idempotency is None or call.mode != "live" or call.approval is not None:
            return False
        if not call.operation.payment.get("may_require_payment"):
            return False
        return not call.principal.is_person or "idempotency-key" in call.headers

    async def _forward_and_pay(self, service: Service, call: PaidCall,
                               decision: Decision) -> Answer:
        """Forward (stage 6); on a 402 from a paid operation, the payment hook (stage 7)."""
        answer = await self._forward(service, call, decision, payment=None)
        if self.payments is None or not call.operation.payment:
            return answer
        if answer.status == 402 and call.operation.payment.get("may_require_payment"):
            with stage("payment"):
                return await self.payments.handle(
                    call, answer, lambda paid: self._forward(service, call, decision,
                                                             payment=paid))
        return await self.payments.after_success(call, answer)

    async def _forward(self, service: Service, call: PaidCall, decision: Decision, *,
                       payment: TxnPayment | None) -> Answer:
        principal = call.principal
        with stage("forward"):
            ctx = TxnContext(
                txn=call.request_id, sub=str(principal.user_id), username=principal.username,
                name=principal.display_name, scopes=principal.scopes, actors=principal.actors,
                constraints=principal.constraints, effects=decision.mode, payment=payment,
            )
            outgoing = {k: v for k in FORWARDED_REQUEST_HEADERS if (v := call.headers.get(k))}
            outgoing[TXN_TOKEN_HEADER] = self.minter.mint(ctx, service.name)
            outgoing[REQUEST_ID_HEADER] = call.request_id
            response = await self._send(service, call.method, call.path, call.query, call.body,
                                        outgoing)
        kept = {k: v for k in FORWARDED_RESPONSE_HEADERS if (v := response.headers.get(k))}
        if "location" in kept and kept["location"].startswith("/"):
            kept["location"] = f"/api/{service.name}{kept['location']}"
        kept.update(preference_headers(decision, kept.get("vary", "")))
        return Answer(response.status_code, kept, response.content)

    def _route(self, service: Service, method: str, path: str) -> Operation:
        # The service decodes the path once more (``%2F`` becomes ``/``): each segment
        # must still be one segment there, or the service could run another operation
        # than the one checked here.
        if not all(not segment or is_one_segment(unquote(segment))
                   for segment in path.split("/")):
            raise Problem(400, "bad-request", "A path segment is a dot segment or encodes a "
                          "separator; the gateway does not forward it.")
        operation, path_exists = service.manifest.match(method, path)
        if operation is None:
            if path_exists:
                raise Problem(405, "method-not-allowed", f"{method} is not allowed here.")
            raise Problem(404, "not-found", f"The {service.name} service has no {path}.")
        return operation

    def _effects(self, principal: Principal, operation: Operation,
                 headers: Mapping[str, str]) -> Decision:
        """Choose live, peek or dry-run from who calls and what they prefer (gateway/effects)."""
        try:
            return decide(principal, operation, parse_prefer(prefer_values(headers)))
        except EffectScopeMissing as exc:
            raise insufficient_scope(self.issuer, exc.missing,
                                     operation.scopes | set(exc.missing), principal) from exc

    async def _send(self, service: Service, method: str, path: str, query: str, body: bytes,
                    headers: dict[str, str]) -> httpx.Response:
        url = path + (f"?{query}" if query else "")
        try:
            return await service.client.request(method, url, content=body or None,
                                                headers=headers)
        except httpx.TimeoutException as exc:
            raise Problem(504, "gateway-timeout", f"The {service.name} service did not answer "
                          "in time.", headers={"Retry-After": "2"}) from exc
        except httpx.HTTPError as exc:
            raise Problem(503, "service-unavailable", f"The {service.name} service is not "
                          "reachable.", headers={"Retry-After": "5"}) from exc
