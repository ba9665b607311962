"""The access context's Application: departments, operators, the catalogue (roles, business
lines, field rules), authentication and delegations, one flat capability class each (ADR 0013)."""
from __future__ import annotations

from application.access.auth import Auth
from application.access.catalogue import Catalogue
from application.access.delegations import Delegations
from application.access.departments import Departments
from application.access.operators import Operators
from application.shared.base import LedgerApplication


class AccessApplication(Departments, Operators, Catalogue, Auth, Delegations, LedgerApplication):
    name = "access"
