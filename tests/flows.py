"""The demo's tenant signing as it was before the segregation-of-duties settings: tests of other
concerns (the §7.3 matrix, de-duplication, the todo list) run it with one person per department."""
from __future__ import annotations

from interfaces.demo_flows import TENANT_SIGNING_FLOW, without_settings

PLAIN_SIGNING_FLOW = without_settings(TENANT_SIGNING_FLOW, "independent_of", "required_fields", "sla_seconds",
                                      "sla_warning_seconds")


def publish_plain_signing(app, ctx) -> int:
    """The tenant-signing business type and PLAIN_SIGNING_FLOW published in ``app`` (brokerage
    line, institution subject); returns the position of the flow's publication."""
    from interfaces.demo_forms import TENANT_SIGNING

    app.forms.create_business_type(ctx, "tenant_signing", "Tenant signing", "brokerage", "", ["institution"])
    app.forms.save_draft(ctx, "tenant_signing", "institution", TENANT_SIGNING, None)
    app.forms.publish(ctx, "tenant_signing", None)
    app.flows.create_definition(ctx, "tenant_signing", "Tenant signing", "tenant_signing", "brokerage", "")
    app.flows.save_draft(ctx, "tenant_signing", PLAIN_SIGNING_FLOW,
                         {"deduplication": "none", "empty_assignee": "block"}, None)
    return app.flows.publish(ctx, "tenant_signing", None)[0].position
