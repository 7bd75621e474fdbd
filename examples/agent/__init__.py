"""The tutorial agent: a third-party program that acts for a person through agentgate.

It talks HTTP only (httpx), as any agent written outside this repository would,
and each module is one chapter of examples/README.md:

- :mod:`examples.agent.oauth`: discover the gateway (RFC 8414, RFC 9728), register
  (RFC 7591), ask the person with the device flow (RFC 8628) for scopes and a
  spending mandate (RFC 9396), poll properly, refresh its token (RFC 6749 section 6).
- :mod:`examples.agent.chat`: read what is new since *its own* cursor, in peek mode
  (the person's unread badges don't move), summarise it without a language model,
  reply as "the person via the agent".
- :mod:`examples.agent.rides`: a dry-run booking that shows what the mandate would
  do, then a paid booking with an Idempotency-Key, handling 402 (tell the person why
  and where to fix it) and 202 (wait for the person's approval).
- :mod:`examples.agent.__main__`: the command line (``python -m examples.agent``).

``agentgate demo`` (gateway/demo.py) runs these same functions against an
in-process gateway.
"""

from __future__ import annotations

from typing import Any

NAME = "Tutorial Agent"
SCOPE = "chat:read chat:write rides:read rides:book payments:spend"
# RFC 9396: what the agent asks to spend, in cents. The person may grant less.
MANDATE: dict[str, Any] = {
    "type": "payment_mandate",
    "currency": "EUR",
    "max_per_payment": 6000,                       # no single ride above 60.00
    "budget": {"amount": 20000, "period": "week"},  # at most 200.00 a week
    "approval_threshold": 3000,                    # above 30.00, ask the person first
    "services": ["rides"],
}
