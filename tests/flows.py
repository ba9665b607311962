"""The demo's tenant signing as it was before the segregation-of-duties settings: tests of other
concerns (the §7.3 matrix, de-duplication, the todo list) run it with one person per department."""
from __future__ import annotations

from interfaces.demo_flows import TENANT_SIGNING_FLOW, without_settings

PLAIN_SIGNING_FLOW = without_settings(TENANT_SIGNING_FLOW, "independent_of", "required_fields", "sla_seconds",
                                      "sla_warning_seconds")
