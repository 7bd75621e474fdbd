"""The payments tables: accounts, saved cards, the ledger, refunds, approvals, events.

Money is an integer in the currency's minor unit. The ledger (``gw_payments``) is
the record a person reads on the Payments page and the source every budget check
sums over; a payment row moves forward through :class:`PaymentStatus` and is never
deleted.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base
from services.common.db import UTCDateTime, utcnow


class PaymentStatus(StrEnum):
    """Where a payment is. Reserved, authorizing and authorized count against budgets."""

    RESERVED = "reserved"  # the budget is held; the processor is not asked yet
    AUTHORIZED = "authorized"  # the card holds the amount (manual capture)
    CAPTURED = "captured"  # the money moved
    VOIDED = "voided"  # the hold was released; nothing was charged
    DECLINED = "declined"  # the card refused it
    FAILED = "failed"  # the processor could not be reached; nothing was charged
    # The processor may hold money for it (a timeout after sending): reconciliation
    # asks the processor again with the same idempotency key before anything else.
    UNKNOWN = "unknown"


HOLDING = (PaymentStatus.RESERVED, PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED,
           PaymentStatus.UNKNOWN)


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"  # the person said yes; the held request is being carried out
    COMPLETED = "completed"  # carried out; ``response_*`` holds what the service answered
    DENIED = "denied"
    EXPIRED = "expired"
    FAILED = "failed"  # approved, but carrying it out was refused (e.g. the card declined)


class PaymentAccount(Base):
    """A person's customer at the processor; its row is the lock every reservation takes.

    Reserving starts with ``UPDATE ... SET reservations = reservations + 1``: on
    PostgreSQL that locks this row, on SQLite the database, so the budget sum that
    follows sees every earlier reservation of this person and no two can overspend.
    """

    __tablename__ = "gw_payment_accounts"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("gw_users.id", ondelete="CASCADE"), primary_key=True)
    processor: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[str] = mapped_column(String(255))
    reservations: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PaymentMethod(Base):
    """A saved card. The processor holds the card; we keep what the person recognises."""

    __tablename__ = "gw_payment_methods"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gw_users.id", ondelete="CASCADE"),
                                               index=True)
    processor: Mapped[str] = mapped_column(String(16))
    processor_method_id: Mapped[str] = mapped_column(String(255))
    brand: Mapped[str] = mapped_column(String(32))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int] = mapped_column(SmallInteger)
    exp_year: Mapped[int] = mapped_column(SmallInteger)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class Payment(Base):
    """One ledger entry: a payment a service asked for, who caused it, and where it is."""

    __tablename__ = "gw_payments"
    __table_args__ = (
        Index("ix_gw_payments_user_created", "user_id", "created_at"),
        UniqueConstraint("processor", "intent_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gw_users.id", ondelete="CASCADE"))
    # The grant of the token that caused it (None: the person, on the web or a personal
    # token); budgets of this grant and of every grant above it count it.
    grant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("gw_grants.id", ondelete="SET NULL"), default=None, index=True)
    agent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("gw_agents.id", ondelete="SET NULL"), default=None)
    # "Trip Planner" (or "Trip Planner via Scout" for a sub-agent); "" for the person.
    actor_name: Mapped[str] = mapped_column(String(255), default="")
    service: Mapped[str] = mapped_column(String(64))
    operation_id: Mapped[str] = mapped_column(String(128), default="")
    reference: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(500), default="")
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default=PaymentStatus.RESERVED)
    # A stable machine-readable reason when declined or failed (e.g. "card_declined").
    reason: Mapped[str | None] = mapped_column(String(64), default=None)
    processor: Mapped[str] = mapped_column(String(16))
    method_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("gw_payment_methods.id", ondelete="SET NULL"), default=None)
    intent_id: Mapped[str | None] = mapped_column(String(255), default=None)
    amount_captured: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    request_id: Mapped[str] = mapped_column(String(128), default="")
    approval_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    # Set once the service accepted the paid call: a crash after this captures, before voids.
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    captured_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class Refund(Base):
    """Money going back on a captured payment, asked for by the service that was paid."""

    __tablename__ = "gw_refunds"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    payment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("gw_payments.id", ondelete="CASCADE"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # "pending" until the processor confirms; "succeeded" | "failed" after.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    processor_refund_id: Mapped[str | None] = mapped_column(String(255), default=None)
    reason: Mapped[str] = mapped_column(String(255), default="")
    request_id: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Approval(Base):
    """A paid request held for the person: what, for whom, how much, which agent.

    It keeps what is needed to carry the request out later exactly as the agent
    sent it (method, path, body, the forwarded headers) and who sent it (the
    principal's grant, scopes, actors); on approval the gateway re-checks the grant
    and the mandate, then runs it through the pipeline with the approval's payment.
    """

    __tablename__ = "gw_approvals"
    __table_args__ = (Index("ix_gw_approvals_user_status", "user_id", "status"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gw_users.id", ondelete="CASCADE"))
    grant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("gw_grants.id", ondelete="CASCADE"), default=None)
    agent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("gw_agents.id", ondelete="SET NULL"), default=None)
    actor_name: Mapped[str] = mapped_column(String(255), default="")
    # "over_threshold" | "authentication_required"
    reason: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=ApprovalStatus.PENDING)
    service: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(2048))
    query: Mapped[str] = mapped_column(String(2048), default="")
    body: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # The caller as it was: scopes, actors, constraints, client id, grant version.
    principal: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(500), default="")
    payment_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    response_status: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    response_headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    response_body: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    request_id: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class ProcessorEventRecord(Base):
    """A webhook event already processed: a replayed delivery finds its id here."""

    __tablename__ = "gw_processor_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    processor: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdempotencyRecord(Base):
    """One Idempotency-Key of one caller, and the response it got (draft-ietf-httpapi-
    idempotency-key-header). ``status_code`` is None while the first request runs."""

    __tablename__ = "gw_idempotency_keys"
    __table_args__ = (UniqueConstraint("owner", "key"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # Who may replay it: the person and the acting agent (client id or "person").
    owner: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of method, path, query and body: the same key with another request is 422.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    body: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # An in-flight record older than this was left by a crash and may be taken over.
    locked_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class SimulatedCard(Base):
    """The simulated processor's saved cards (its own state, as Stripe keeps its own)."""

    __tablename__ = "gw_sim_cards"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # pm_sim_...
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    number: Mapped[str] = mapped_column(String(19))  # test cards only, never a real one
    brand: Mapped[str] = mapped_column(String(32))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int] = mapped_column(SmallInteger)
    exp_year: Mapped[int] = mapped_column(SmallInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SimulatedIntent(Base):
    """The simulated processor's PaymentIntents, SetupIntents and refunds."""

    __tablename__ = "gw_sim_intents"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # pi_sim_, seti_sim_, re_sim_
    kind: Mapped[str] = mapped_column(String(16))  # "payment" | "setup" | "refund"
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True, default=None)
    customer_id: Mapped[str] = mapped_column(String(64), default="")
    card_id: Mapped[str | None] = mapped_column(String(64), default=None)
    parent_id: Mapped[str | None] = mapped_column(String(64), default=None)  # a refund's intent
    status: Mapped[str] = mapped_column(String(32))
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="")
    amount_capturable: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_received: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    decline_code: Mapped[str | None] = mapped_column(String(64), default=None)
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
