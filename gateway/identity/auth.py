"""People-only functions: reachable with the person's web session, never with a token.

Consent, grant editing, revocation, approvals and payment methods are the person's
own decisions. No bearer token reaches them, whatever its scopes: not an agent's
(it could restore or widen its own access) and not the person's own API token
(a script holding it could do the same). ``CurrentPrincipal`` resolves whichever
credential came; this refuses all but a session.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from gateway.auth import CurrentPrincipal
from gateway.principal import Principal
from services.common.problems import Problem


async def require_person_session(principal: CurrentPrincipal) -> Principal:
    """The signed-in person; 403 for any principal that did not come from a web session."""
    if principal.via != "session":
        raise Problem(403, "people-only",
                      "Only the person, signed in to the web client, can do this; "
                      "no token can, whatever its scopes.")
    return principal


PersonSession = Annotated[Principal, Depends(require_person_session)]
