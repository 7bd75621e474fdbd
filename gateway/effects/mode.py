"""Choose a call's effects mode: live, peek or dry-run (what the Txn-Token carries).

- live: every declared effect happens. A person's default.
- peek: a read returns the same data and changes nothing about the person's state
  (read position, receipts, presence, mention acknowledgement). An agent's default on
  a safe method (RFC 9110 section 9.2.1); anyone may ask with ``Prefer: peek``.
- dry-run: a write is validated, authorized and computed, then nothing is kept.
  Anyone may ask with ``Prefer: dry-run``; on a safe method it means nothing and is
  ignored (so not named in Preference-Applied).

An agent that wants its read to count (``Prefer: effects=live``) needs every effect
scope the operation declares (``x-effects.effect_scope``, e.g. ``chat:mark_read``):
reading as the person is acting as the person, so it is granted, never assumed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from gateway.effects.prefer import Preference
from gateway.policy.manifest import Operation
from gateway.principal import Principal
from services.common.txn_token import EffectsMode

PEEK: Final[Literal["peek"]] = "peek"
DRY_RUN: Final[Literal["dry-run"]] = "dry-run"
EFFECTS = "effects"  # the preference's name: ``Prefer: effects=live``


@dataclass(frozen=True)
class Decision:
    """The mode a call runs in, and what to say in Preference-Applied ("" for nothing)."""

    mode: EffectsMode
    applied: str = ""


class EffectScopeMissing(Exception):
    """An agent asked for a live read without the scope the read's effects need."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(" ".join(missing))
        self.missing = missing


def effect_scopes(operation: Operation) -> frozenset[str]:
    """The scopes an agent needs for the operation's read effects (none if it declares none)."""
    declared = operation.effects
    scope = declared.get("effect_scope")
    if not declared.get("on_read") or not isinstance(scope, str):
        return frozenset()
    return frozenset(scope.split())


def decide(principal: Principal, operation: Operation,
           preferences: Mapping[str, Preference]) -> Decision:
    """Return the mode for ``principal`` calling ``operation`` with these preferences.

    Raises EffectScopeMissing when an agent asks for a live read it may not have.
    """
    if not operation.is_safe:
        return Decision(DRY_RUN, DRY_RUN) if DRY_RUN in preferences else Decision("live")
    if PEEK in preferences:
        return Decision(PEEK, PEEK)
    wants_live = preferences.get(EFFECTS, Preference(EFFECTS)).value.lower() == "live"
    if principal.is_person:
        return Decision("live", "effects=live" if wants_live else "")
    if not wants_live:
        # Named although not asked for: an agent must always be able to tell a read
        # that changed nothing from one that did.
        return Decision(PEEK, PEEK)
    missing = sorted(effect_scopes(operation) - principal.scopes)
    if missing:
        raise EffectScopeMissing(missing)
    return Decision("live", "effects=live")
