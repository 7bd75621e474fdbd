"""Every gateway table, imported in one place so ``Base.metadata`` is complete."""

from gateway.activity.models import ActivityEntry, ActivityHead
from gateway.db import Base
from gateway.identity.models import Agent, Grant, LoginFailure, Revocation, User, WebSession
from gateway.oauth.client_models import UsedClientAssertion
from gateway.oauth.models import AuthorizationCode, DeviceCode, RefreshToken, SigningKey

__all__ = ["ActivityEntry", "ActivityHead", "Agent", "AuthorizationCode", "Base", "DeviceCode",
           "Grant", "LoginFailure", "RefreshToken", "Revocation", "SigningKey",
           "UsedClientAssertion", "User", "WebSession"]
