"""The access context's Application: every use case of departments, operators, roles,
business lines, field rules and authentication (one class, split by capability)."""
from __future__ import annotations

from application.access.auth import AuthCommands


class AccessApplication(AuthCommands):
    name = "access"
