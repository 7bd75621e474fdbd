"""What every service app gets: problem+json errors, input guards, a Txn-Token verifier."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.problems import install_problem_handlers
from services.common.stale_reads import RetryStaleReads
from services.common.text_guard import RejectNulMiddleware
from services.common.txn_token import KeySource, TxnTokenVerifier


def configure_service_app(app: FastAPI, *, name: str, issuer: str, keys: KeySource) -> None:
    """Install the shared error handlers, input guard and the verifier for audience ``name``."""
    install_problem_handlers(app)
    app.add_middleware(RetryStaleReads)  # innermost: a retry runs the app, not the guards
    app.add_middleware(RejectNulMiddleware)
    app.state.txn_verifier = TxnTokenVerifier(issuer=issuer, audience=name, keys=keys)
