"""Gateway: payments (issue 5): the ledger and what it needs.

- ``gw_payment_accounts``: a person"s customer at the processor; its row is the lock
  every budget reservation takes (gateway/payments/reserve.py);
- ``gw_payment_methods``: saved cards (the processor holds the card);
- ``gw_payments``: the ledger; ``gw_refunds``: money going back;
- ``gw_approvals``: paid requests held for the person;
- ``gw_processor_events``: webhook events already processed (replays are no-ops);
- ``gw_idempotency_keys``: Idempotency-Key records of paid calls and their answers;
- ``gw_sim_cards``/``gw_sim_intents``: the simulated processor"s own state.

Revision ID: 0008_payments
Revises: 0007_activity
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.common.db import UTCDateTime

revision: str = "0008_payments"
down_revision: str | None = "0007_activity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gw_idempotency_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gw_idempotency_keys")),
        sa.UniqueConstraint("owner", "key", name=op.f("uq_gw_idempotency_keys_owner_key")),
    )
    with op.batch_alter_table("gw_idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gw_idempotency_keys_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "gw_processor_events",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("processor", sa.String(length=16), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gw_processor_events")),
    )
    op.create_table(
        "gw_sim_cards",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=19), nullable=False),
        sa.Column("brand", sa.String(length=32), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("exp_month", sa.SmallInteger(), nullable=False),
        sa.Column("exp_year", sa.SmallInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gw_sim_cards")),
    )
    with op.batch_alter_table("gw_sim_cards", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gw_sim_cards_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "gw_sim_intents",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("card_id", sa.String(length=64), nullable=True),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_capturable", sa.BigInteger(), nullable=False),
        sa.Column("amount_received", sa.BigInteger(), nullable=False),
        sa.Column("amount_refunded", sa.BigInteger(), nullable=False),
        sa.Column("decline_code", sa.String(length=64), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gw_sim_intents")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_gw_sim_intents_idempotency_key")),
    )
    op.create_table(
        "gw_payment_accounts",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("processor", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("reservations", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["gw_users.id"],
            name=op.f("fk_gw_payment_accounts_user_id_gw_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_gw_payment_accounts")),
    )
    op.create_table(
        "gw_payment_methods",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("processor", sa.String(length=16), nullable=False),
        sa.Column("processor_method_id", sa.String(length=255), nullable=False),
        sa.Column("brand", sa.String(length=32), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("exp_month", sa.SmallInteger(), nullable=False),
        sa.Column("exp_year", sa.SmallInteger(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("removed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["gw_users.id"],
            name=op.f("fk_gw_payment_methods_user_id_gw_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gw_payment_methods")),
    )
    with op.batch_alter_table("gw_payment_methods", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gw_payment_methods_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "gw_approvals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("grant_id", sa.Uuid(), nullable=True),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("actor_name", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=2048), nullable=False),
        sa.Column("query", sa.String(length=2048), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("principal", sa.JSON(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reference", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.Column("response_status", sa.SmallInteger(), nullable=True),
        sa.Column("response_headers", sa.JSON(), nullable=False),
        sa.Column("response_body", sa.LargeBinary(), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["gw_agents.id"],
            name=op.f("fk_gw_approvals_agent_id_gw_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["gw_grants.id"],
            name=op.f("fk_gw_approvals_grant_id_gw_grants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["gw_users.id"],
            name=op.f("fk_gw_approvals_user_id_gw_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gw_approvals")),
    )
    with op.batch_alter_table("gw_approvals", schema=None) as batch_op:
        batch_op.create_index("ix_gw_approvals_user_status", ["user_id", "status"], unique=False)

    op.create_table(
        "gw_payments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("grant_id", sa.Uuid(), nullable=True),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("actor_name", sa.String(length=255), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("operation_id", sa.String(length=128), nullable=False),
        sa.Column("reference", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("processor", sa.String(length=16), nullable=False),
        sa.Column("method_id", sa.Uuid(), nullable=True),
        sa.Column("intent_id", sa.String(length=255), nullable=True),
        sa.Column("amount_captured", sa.BigInteger(), nullable=False),
        sa.Column("amount_refunded", sa.BigInteger(), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("approval_id", sa.Uuid(), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("captured_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["gw_agents.id"],
            name=op.f("fk_gw_payments_agent_id_gw_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["gw_grants.id"],
            name=op.f("fk_gw_payments_grant_id_gw_grants"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["method_id"],
            ["gw_payment_methods.id"],
            name=op.f("fk_gw_payments_method_id_gw_payment_methods"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["gw_users.id"],
            name=op.f("fk_gw_payments_user_id_gw_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gw_payments")),
        sa.UniqueConstraint(
            "processor", "intent_id", name=op.f("uq_gw_payments_processor_intent_id")
        ),
    )
    with op.batch_alter_table("gw_payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gw_payments_grant_id"), ["grant_id"], unique=False)
        batch_op.create_index(
            "ix_gw_payments_user_created", ["user_id", "created_at"], unique=False
        )

    op.create_table(
        "gw_refunds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("processor_refund_id", sa.String(length=255), nullable=True),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["gw_payments.id"],
            name=op.f("fk_gw_refunds_payment_id_gw_payments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gw_refunds")),
    )
    with op.batch_alter_table("gw_refunds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gw_refunds_payment_id"), ["payment_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("gw_refunds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gw_refunds_payment_id"))

    op.drop_table("gw_refunds")
    with op.batch_alter_table("gw_payments", schema=None) as batch_op:
        batch_op.drop_index("ix_gw_payments_user_created")
        batch_op.drop_index(batch_op.f("ix_gw_payments_grant_id"))

    op.drop_table("gw_payments")
    with op.batch_alter_table("gw_approvals", schema=None) as batch_op:
        batch_op.drop_index("ix_gw_approvals_user_status")

    op.drop_table("gw_approvals")
    with op.batch_alter_table("gw_payment_methods", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gw_payment_methods_user_id"))

    op.drop_table("gw_payment_methods")
    op.drop_table("gw_payment_accounts")
    op.drop_table("gw_sim_intents")
    with op.batch_alter_table("gw_sim_cards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gw_sim_cards_customer_id"))

    op.drop_table("gw_sim_cards")
    op.drop_table("gw_processor_events")
    with op.batch_alter_table("gw_idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gw_idempotency_keys_expires_at"))

    op.drop_table("gw_idempotency_keys")
