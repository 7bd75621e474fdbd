"""Every gateway table, imported in one place so ``Base.metadata`` is complete."""

from gateway.activity.models import ActivityEntry, ActivityHead
from gateway.db import Base
from gateway.identity.models import Agent, Grant, LoginFailure, Revocation, User, WebSession
from gateway.oauth.client_models import UsedClientAssertion
from gateway.oauth.models import AuthorizationCode, DeviceCode, RefreshToken, SigningKey
from gateway.payments.models import (
    Approval,
    IdempotencyRecord,
    Payment,
    PaymentAccount,
    PaymentMethod,
    ProcessorEventRecord,
    Refund,
    SimulatedCard,
    SimulatedIntent,
)

__all__ = ["ActivityEntry", "ActivityHead", "Agent", "Approval", "AuthorizationCode", "Base",
           "DeviceCode", "Grant", "IdempotencyRecord", "LoginFailure", "Payment", "PaymentAccount",
           "PaymentMethod", "ProcessorEventRecord", "RefreshToken", "Refund", "Revocation",
           "SigningKey", "SimulatedCard", "SimulatedIntent", "UsedClientAssertion", "User",
           "WebSession"]
