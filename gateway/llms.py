"""``/llms.txt``: one Markdown page that tells an agent how to authorize and use the API.

The format is llmstxt.org's: an H1 title, a blockquote summary, prose, then H2
sections of links. Every fact on the page comes from what the gateway enforces: the
authorization server metadata (RFC 8414, :mod:`gateway.oauth.metadata`), the scopes
and their descriptions, each service's operations with their scopes, declared
effects (``x-effects``) and payments (``x-payment``) from the manifests, the
problem types and payment refusal reasons. A new operation appears here the moment
its service declares it; nothing is written twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from gateway.catalog import CATALOG_PATH
from gateway.oauth.metadata import authorization_server_metadata
from gateway.oauth.resources import DEFAULT_RESOURCE, RESOURCE_PATHS, metadata_url, resource_url
from gateway.payments.refusals import REASONS
from gateway.policy.manifest import Operation
from gateway.policy.scopes import SPEND_SCOPE
from gateway.ratelimit.policy import RATELIMIT, RATELIMIT_POLICY, Hit, Policy
from services.common.problems import PROBLEM_BASE, PROBLEM_TYPES

# The problem types an agent meets most, in the order it is likely to meet them.
COMMON_PROBLEMS = ("invalid-token", "insufficient-scope", "no-person", "validation-error",
                   "not-found", "conflict", "payment-refused", "idempotency-key-missing",
                   "idempotency-key-reused", "too-many-requests", "service-unavailable")
# What the other protected resources are (gateway/oauth/resources.py names them).
RESOURCE_DESCRIPTIONS = {
    "mcp": "the MCP server (Streamable HTTP): the same operations as tools, through the "
           "same checks, effects and payments",
}


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _effects_line(op: Operation) -> str:
    """Say in a few words what a call does to the person's state, as the service declared."""
    writes = op.effects.get("writes") or []
    on_read = op.effects.get("on_read") or []
    parts = []
    if writes:
        parts.append(f"writes {', '.join(writes)}; `Prefer: dry-run` to try it")
    if on_read:
        live = op.effects.get("effect_scope")
        parts.append(f"a person's read would cause {', '.join(on_read)}; yours is a peek"
                     + (f" unless you hold `{live}` and send `Prefer: effects=live`"
                        if live else ""))
    return "; ".join(parts) or "no side effects"


def _payment_line(op: Operation) -> str:
    payment = op.payment
    parts = []
    if payment.get("may_require_payment"):
        parts.append(f"may cost money: needs `{SPEND_SCOPE}`, a payment mandate and an "
                     "`Idempotency-Key`; may answer 202 (held for approval) or 402")
    if payment.get("refunds"):
        parts.append("may refund a payment")
    return "; ".join(parts)


def _operation(op: Operation) -> str:
    scopes = ", ".join(f"`{s}`" for s in sorted(op.scopes)) or "none"
    line = (f"- `{op.method} {op.gateway_path}` ({op.service}_{op.operation_id}): "
            f"{op.summary or op.operation_id}. Scopes: {scopes}. Effects: {_effects_line(op)}.")
    payment = _payment_line(op)
    return line + (f" Payment: {payment}." if payment else "")


def _rate_limit_line(agent: Policy | None) -> str:
    """What the agent quota of this gateway is, in the draft's own fields (from settings)."""
    if agent is None or not agent.enabled:
        return "- Rate limits: none are configured on this gateway."
    example = Hit(allowed=True, count=min(3, agent.quota), reset_after=agent.window * 0.7)
    fields = example.fields(agent)
    return (f"- Rate limits: each person and agent pair has its own quota, {agent.quota} calls "
            f"per {agent.window} s here. Answers carry `RateLimit-Policy` "
            f"(`{fields[RATELIMIT_POLICY]}`) and `RateLimit` (`{fields[RATELIMIT]}`: "
            f"{agent.quota - example.count} left, the window resets in "
            f"{math.ceil(example.reset_after)} s) (draft-ietf-httpapi-ratelimit-headers); "
            "over it, `429 rate-limited` with `Retry-After`: slow down before it.")


def llms_txt(issuer: str, operations: Mapping[str, Iterable[Operation]],
             scopes: Mapping[str, str], *, agent_limit: Policy | None = None) -> str:
    """Render the page for ``issuer``, the services' ``operations`` and every scope.

    ``agent_limit`` is the gateway's per-agent rate-limit policy (None: no limits).
    """
    meta: dict[str, Any] = authorization_server_metadata(issuer, sorted(scopes))
    api = resource_url(issuer, DEFAULT_RESOURCE)
    out: list[str] = [
        "# agentgate",
        "",
        "> One API for people and their AI agents. Call every service under "
        f"{issuer}/api/{{service}} with an OAuth access token that names the person you act "
        "for and you, the agent. Reads are side-effect-free peeks for agents, any write can "
        "be dry-run, and paid calls are paid by the gateway within a mandate the person set.",
        "",
        "You are never the person: your token carries `act` (RFC 8693) naming you, and what "
        "you may do is what the person granted, as scopes, channel limits and a spending "
        "mandate. Everything below is generated from what the gateway enforces.",
        "",
        "## Authorize",
        "",
        f"1. Discover: read `{issuer}/.well-known/oauth-authorization-server` (RFC 8414) and "
        f"the API's `{metadata_url(issuer)}` (RFC 9728). The API's resource identifier, "
        f"the audience of your tokens, is `{api}`: send it as `resource` (RFC 8707) on "
        "every authorization and token request.",
        f"2. Register: `POST {meta['registration_endpoint']}` (RFC 7591) with your "
        "`client_name`, `grant_types` and `scope`; or use the URL of a Client ID Metadata "
        "Document you host as your `client_id`.",
        "3. Ask the person:",
        f"   - headless (a CLI, a server): the device flow (RFC 8628). `POST "
        f"{meta['device_authorization_endpoint']}` with `client_id`, `scope`, `resource`; "
        "show the person the `verification_uri_complete` (or `user_code`); poll "
        f"`POST {meta['token_endpoint']}` with `grant_type="
        "urn:ietf:params:oauth:grant-type:device_code` every `interval` seconds.",
        f"   - with a browser: authorization code with PKCE (S256 only): send the person to "
        f"`{meta['authorization_endpoint']}` with `response_type=code`, `client_id`, "
        "`redirect_uri`, `scope`, `resource`, `state`, `code_challenge`, "
        "`code_challenge_method=S256`; check `iss` on the redirect (RFC 9207); exchange the "
        f"code at `{meta['token_endpoint']}`.",
        f"4. To spend money, also ask for `{SPEND_SCOPE}` and send `authorization_details` "
        "(RFC 9396) with one `payment_mandate`: "
        '`[{"type": "payment_mandate", "currency": "EUR", "max_per_payment": 5000, '
        '"services": ["rides"]}]` (amounts in cents; optional `budget`, '
        "`approval_threshold`, `expires_at`). The person may lower it on consent.",
        "5. Call with `Authorization: Bearer <access token>`. Tokens are short-lived; "
        "refresh tokens rotate (reusing an old one revokes the whole family). A person can "
        "revoke your grant at any time: your next call gets 401 `invalid-token`.",
        "6. Hand work to a sub-agent with token exchange (RFC 8693): the sub-agent "
        f"authenticates as itself at `{meta['token_endpoint']}` with `grant_type="
        "urn:ietf:params:oauth:grant-type:token-exchange`, `subject_token=<your token>`, "
        "`subject_token_type=urn:ietf:params:oauth:token-type:access_token` and a narrower "
        "`scope` (and `authorization_details` for a share of your mandate). Tokens only "
        "narrow: asking for more is refused.",
        "",
        f"- [Authorization server metadata]({issuer}/.well-known/oauth-authorization-server): "
        "endpoints, grant types, scopes (RFC 8414)",
        f"- [Protected resource metadata of the API]({metadata_url(issuer)}): RFC 9728",
        f"- [Access token keys]({meta['jwks_uri']}): JWKS to verify tokens (RFC 7517)",
        "",
        "## Scopes",
        "",
        *[f"- `{name}`: {text}" for name, text in sorted(scopes.items())],
        "",
        "## Calling the API",
        "",
        "- Effects: on a read, you get a *peek* by default: the same data, and nothing the "
        "person can see changes (no read marks, receipts or presence). "
        "`Prefer: effects=live` makes it count, if you hold the operation's effect scope. "
        "Any write accepts `Prefer: dry-run`: validated, authorized and priced, nothing "
        "kept. The answer says what applied: `Preference-Applied` (RFC 7240).",
        "- Payments: an operation marked \"may cost money\" is paid by the gateway from the "
        "person's saved card under your mandate. Send `Idempotency-Key: \"<uuid>\"` on each "
        "such call (required for agents; a retry with the same key never pays twice). "
        "Above the mandate's approval threshold you get `202 Accepted` with `Location`: poll "
        "that approval until the person decides; its `result` is the service's answer. A "
        "refusal is `402 payment-refused` with a stable `reason` and `fix_at` (where the "
        "person can change it): " + ", ".join(f"`{r}`" for r in REASONS) + ".",
        f"- Errors are `application/problem+json` (RFC 9457): `type` (a URL under "
        f"{issuer}{PROBLEM_BASE}), `title`, `status`, `detail`, and what you need to recover "
        "(a missing `scope`, an `amount`, a `reason`). Common types: "
        + ", ".join(f"`{t}` ({_lower_first(PROBLEM_TYPES[t])})" for t in COMMON_PROBLEMS) + ".",
        "- A `403 insufficient-scope` names in its `WWW-Authenticate` the `scope` the call "
        "needs and the `resource_metadata` to re-authorize at: ask the person again for "
        "your scopes plus those, then retry (MCP clients call this step-up).",
        _rate_limit_line(agent_limit),
        "- Every answer carries `X-Request-Id`; quote it when something goes wrong.",
        "",
    ]
    for service, ops in sorted(operations.items()):
        out += [f"## The {service} service", ""]
        out += [_operation(op) for op in sorted(ops, key=lambda o: (o.path, o.method))]
        out.append("")
    others = [name for name in RESOURCE_PATHS if name != DEFAULT_RESOURCE]
    if others:
        out += ["## Other endpoints", ""]
        for name in others:
            what = RESOURCE_DESCRIPTIONS.get(name, f"the {name} endpoint")
            out.append(f"- {resource_url(issuer, name)}: {what}. A resource of its own: ask "
                       f"for a token with `resource={resource_url(issuer, name)}`. "
                       f"[Its metadata]({metadata_url(issuer, name)}) (RFC 9728)")
        out.append("")
    out += [
        "## Descriptions",
        "",
        f"- [OpenAPI]({issuer}/openapi.json): every operation, with `x-effects`, `x-payment`, "
        "scopes and error responses",
        f"- [API catalog]({issuer}{CATALOG_PATH}): RFC 9727 linkset of the APIs",
        f"- [Health]({issuer}/healthz): whether the gateway and its services are up",
        "",
    ]
    return "\n".join(out)
