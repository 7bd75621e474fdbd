"""Every gateway table, imported in one place so ``Base.metadata`` is complete."""

from gateway.db import Base
from gateway.identity.models import LoginFailure, User, WebSession
from gateway.oauth.models import SigningKey

__all__ = ["Base", "LoginFailure", "SigningKey", "User", "WebSession"]
