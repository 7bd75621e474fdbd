"""What the Connected agents pages show for a grant: plain words, names, nesting.

Scopes are shown as the descriptions their services declared (plus the gateway's
own). A constraint is shown with the description its service declared in
``x-constraints`` and its values by name: the page asks that service for the
person's choices (for ``chat:channels``, chat's ``list_channels``) through the
pipeline, as the person. Pages never read a service's data any other way. A
payment mandate is shown in the words of :meth:`Mandate.describe`, with what the
grant and its sub-agents spent this budget period.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from gateway.identity.grants import GrantNode
from gateway.payments.mandates import Mandate, money
from gateway.policy.manifest import declared_constraints
from gateway.principal import Principal
from gateway.proxy.services import Service
from gateway.web.client import PageClient
from services.common.problems import Problem

KINDS = {"native": "App on a device", "web": "Web app", "service": "Service"}
# A list of choices is followed this many pages at most (200 items each).
CHOICE_PAGES = 5
UNKNOWN_VALUE = "one you can no longer see"


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass
class ConstraintKind:
    """A constraint a service declares, and the values the person can choose from."""

    key: str
    description: str
    applies_to: frozenset[str]
    # None: not fetched, or the service could not list them just now.
    choices: list[Choice] | None = None

    def label(self, value: str) -> str:
        for choice in self.choices or ():
            if choice.value == value:
                return choice.label
        return UNKNOWN_VALUE

    def labels(self, values: Iterable[str]) -> list[str]:
        return sorted((self.label(v) for v in values), key=lambda s: (s == UNKNOWN_VALUE, s))


@dataclass(frozen=True)
class Limit:
    """One constraint of a grant, in words: "Only these channels: design"."""

    description: str
    labels: list[str]


@dataclass(frozen=True)
class MandateView:
    """A grant's mandate in words, and what was spent under it: "Spent 12.50 EUR of ..."."""

    lines: list[str]
    spent: str


PERIOD_WORDS = {"day": "today", "week": "this week", "month": "this month"}


def mandate_view(mandate: Mandate, spent: int) -> MandateView:
    if mandate.budget:
        words = (f"Spent {money(spent, mandate.currency)} of "
                 f"{money(mandate.budget.amount, mandate.currency)} "
                 f"{PERIOD_WORDS[mandate.budget.period]}")
    else:
        words = f"Spent {money(spent, mandate.currency)} so far"
    return MandateView(mandate.describe(), words)


@dataclass
class GrantView:
    id: str
    name: str
    is_token: bool
    kind: str
    by: str
    host: str | None
    abilities: list[str]
    limits: list[Limit]
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    children: list[GrantView] = field(default_factory=list)
    mandate: MandateView | None = None

    def walk(self) -> Iterable[GrantView]:
        yield self
        for child in self.children:
            yield from child.walk()


def host_of(client_id: str) -> str | None:
    """The host of a Client ID Metadata Document URL; None for a registered (UUID) client id."""
    parts = urlsplit(client_id)
    return parts.hostname if parts.scheme in ("https", "http") else None


def _by(node: GrantNode, principal: Principal) -> str:
    if node.agent is None:
        return "You"
    if node.agent.publisher:
        return node.agent.publisher
    if node.owner is not None:
        return "You" if node.owner.id == principal.user_id else node.owner.display_name
    return "Publisher not stated"


def grant_view(node: GrantNode, principal: Principal, scopes: Mapping[str, str],
               kinds: Mapping[str, ConstraintKind],
               spending: Mapping[uuid.UUID, tuple[Mandate, int]] | None = None) -> GrantView:
    """Describe a grant (and its sub-agents) for the person who gave it.

    ``spending``: each mandate and what was spent under it (gateway.payments.budget).
    """
    spending = spending or {}
    spent = spending.get(node.grant.id)
    grant, agent = node.grant, node.agent
    limits = []
    for key, values in sorted(grant.constraints.items()):
        kind = kinds.get(key)
        limits.append(Limit(kind.description, kind.labels(values)) if kind
                      else Limit(key, sorted(values)))
    return GrantView(
        id=str(grant.id),
        name=agent.name if agent else (grant.label or "Unnamed token"),
        is_token=agent is None,
        kind=KINDS.get(agent.kind, agent.kind) if agent else "API token",
        by=_by(node, principal),
        host=host_of(agent.client_id) if agent else None,
        abilities=[scopes.get(s, s) for s in grant.scope.split()],
        limits=limits,
        created_at=grant.created_at,
        last_used_at=grant.last_used_at,
        children=[grant_view(child, principal, scopes, kinds, spending)
                  for child in node.children],
        mandate=mandate_view(*spent) if spent else None,
    )


def declared_kinds(client: PageClient) -> dict[str, tuple[Service, ConstraintKind, Any]]:
    """Every constraint the loaded services declare: (service, kind, how to list choices)."""
    kinds = {}
    for service in client.pipeline.services.services.values():
        for key, declared in declared_constraints(service.openapi or {}).items():
            kind = ConstraintKind(key, str(declared.get("description", key)),
                                  frozenset(declared.get("applies_to", ())))
            kinds[key] = (service, kind, declared.get("choices"))
    return kinds


async def constraint_kinds(client: PageClient, needed: Iterable[str]) -> dict[str, ConstraintKind]:
    """The declared constraints, with the person's choices fetched for the ``needed`` keys."""
    wanted = set(needed)
    kinds = {}
    for key, (service, kind, spec) in declared_kinds(client).items():
        if key in wanted:
            kind.choices = await _choices(client, service, spec)
        kinds[key] = kind
    return kinds


async def _choices(client: PageClient, service: Service, spec: Any) -> list[Choice] | None:
    """Follow the declared list operation's pages; None if it can't be listed now."""
    if not isinstance(spec, dict):
        return None
    operation = next((op for op in service.manifest.operations
                      if op.operation_id == spec.get("operation_id") and op.method == "GET"
                      and "{" not in op.path), None)
    if operation is None:
        return None
    value, label = str(spec.get("value", "id")), str(spec.get("label", "name"))
    choices: list[Choice] = []
    cursor = None
    try:
        for _ in range(CHOICE_PAGES):
            page = await client.get(service.name, operation.path, limit=200, cursor=cursor)
            choices.extend(Choice(str(item[value]), str(item[label])) for item in page["items"])
            cursor = page.get("next_cursor")
            if cursor is None:
                break
    except (Problem, KeyError, TypeError):
        # The page still shows the grant; values it can't name are shown as unknown.
        return None
    return sorted(choices, key=lambda c: c.label.lower())
