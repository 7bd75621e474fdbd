"""MCP tool annotations (``readOnlyHint`` and friends) from an operation's declared effects.

A service declares what each operation does in its OpenAPI (``x-effects``,
``x-payment``); the gateway enforces it, the docs describe it, and here the MCP
client is told it, so an MCP host can decide what to run without asking. The
mapping is small on purpose:

=================  ==========================================================
hint               true when
=================  ==========================================================
``readOnlyHint``   the method is safe (RFC 9110 section 9.2.1). An agent's read is a
                   peek: it changes nothing the person can see. Read effects
                   (read marks, presence) happen only with ``effects: "live"``
                   *and* the effect scope the person granted, which the gateway
                   checks; the hint describes the default call.
``destructiveHint`` it may change or remove what is there, not only add (the MCP
                   spec's definition): a ``PUT``, ``PATCH`` or ``DELETE``; an
                   operation that refunds (``x-payment.refunds``, a cancellation);
                   or one that writes the person's read state (``read_position``,
                   ``read_receipt``, ``mention_ack``: marking things read, the very
                   side effect an agent must not cause unasked). Any other write
                   only adds (a quote, a trip, a channel).
``idempotentHint`` the method is idempotent (RFC 9110 section 9.2.2): safe methods,
                   ``PUT``, ``DELETE``. A ``POST`` is not, even a paid one: only a
                   repeated ``idempotency_key`` makes its retry harmless.
``openWorldHint``  it moves money (``x-payment``): the gateway pays or refunds
                   through a card processor, outside this system.
=================  ==========================================================

The hints are hints (the MCP spec says a client must not trust them for
security): what an agent may do is still decided by the pipeline, call by call.
"""

from __future__ import annotations

from mcp.types import ToolAnnotations

from gateway.policy.manifest import Operation

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
REPLACING_METHODS = frozenset({"PUT", "PATCH", "DELETE"})
# What the person sees as read: overwritten, it can't be told apart from their own reading.
PERSON_READ_STATE = frozenset({"read_position", "read_receipt", "mention_ack"})


def moves_money(operation: Operation) -> bool:
    """Whether the operation may charge (402 -> payment hook) or refund a payment."""
    payment = operation.payment
    return bool(payment.get("may_require_payment") or payment.get("refunds"))


def is_destructive(operation: Operation) -> bool:
    """Whether a write may change or remove what is there (see the table above)."""
    writes = set(operation.effects.get("writes") or ())
    return not operation.is_safe and (operation.method in REPLACING_METHODS
                                      or bool(operation.payment.get("refunds"))
                                      or bool(writes & PERSON_READ_STATE))


def annotations_for(operation: Operation) -> ToolAnnotations:
    """The hints of the tool generated from ``operation`` (see the table above)."""
    read_only = operation.is_safe
    return ToolAnnotations(
        title=operation.summary or None,
        read_only_hint=read_only,
        destructive_hint=is_destructive(operation),
        idempotent_hint=operation.method in IDEMPOTENT_METHODS,
        open_world_hint=moves_money(operation),
    )
