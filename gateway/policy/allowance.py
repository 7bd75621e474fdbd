"""What a grant allows, as a value: its scopes and resource constraints, and how they compare.

A constraint key that is absent means *no limit* (``chat:channels`` missing: every
channel); a key that is present limits to its values (an empty list: none). So one
allowance is within another when it has no scope the other lacks and, for every
key the other limits, limits that key to a subset of the other's values.

Grant narrowing (gateway/identity/grants.py) and token exchange both rest on
this: a grant or a derived token may only ever be :meth:`Allowance.within` the one
it comes from, and :meth:`Allowance.clamp` brings a child back within its parent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Widening:
    """What a proposed allowance has beyond the one it must stay within."""

    scopes: list[str] = field(default_factory=list)
    # Keys whose limit would be lifted, or that would gain values.
    constraints: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.scopes or self.constraints)


@dataclass(frozen=True)
class Allowance:
    scopes: frozenset[str]
    constraints: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, scopes: str | Iterable[str],
           constraints: Mapping[str, Iterable[str]] | None = None) -> Allowance:
        """Build from a space-separated scope string (or scopes) and constraint lists."""
        scope_set = frozenset(scopes.split() if isinstance(scopes, str) else scopes)
        return cls(scope_set, {k: frozenset(v) for k, v in (constraints or {}).items()})

    def widening_over(self, outer: Allowance) -> Widening:
        """What this allows that ``outer`` does not (empty when it is within it)."""
        keys = [key for key, allowed in outer.constraints.items()
                if key not in self.constraints or not self.constraints[key] <= allowed]
        return Widening(scopes=sorted(self.scopes - outer.scopes), constraints=sorted(keys))

    def within(self, outer: Allowance) -> bool:
        return not self.widening_over(outer)

    def clamp(self, outer: Allowance) -> Allowance:
        """The most of this that stays within ``outer``: the intersection of both."""
        constraints = dict(self.constraints)
        for key, allowed in outer.constraints.items():
            constraints[key] = constraints[key] & allowed if key in constraints else allowed
        return Allowance(self.scopes & outer.scopes, constraints)

    def scope_string(self, order: str = "") -> str:
        """The scopes space-separated: in ``order``'s order where given, then sorted."""
        known = [s for s in dict.fromkeys(order.split()) if s in self.scopes]
        return " ".join(known + sorted(self.scopes - set(known)))

    def constraint_lists(self) -> dict[str, list[str]]:
        """The constraints as stored (and carried in tokens): sorted lists."""
        return {key: sorted(values) for key, values in sorted(self.constraints.items())}
