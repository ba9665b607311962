"""Your notification preferences: language, channels per kind, quiet hours — within firm policy."""
from __future__ import annotations

from fastapi import APIRouter, Response

from domain.notifications.kinds import DEFAULT_LANGUAGE, KINDS
from domain.notifications.policy import FirmPolicy
from domain.notifications.preferences import NotificationPreferences
from interfaces.api.deps import Acting, ContainerDep, ExpectedVersion
from interfaces.api.routes.notifications.common import NOT_OPERATOR, Recipient
from interfaces.api.routes.notifications.schemas import PolicyPublic, PreferencesBody, PreferencesPublic, QuietHours
from interfaces.api.schemas import CommandAccepted, accepted

router = APIRouter(prefix="/api/v1/notifications/preferences", tags=["notifications"])


def _public(found: NotificationPreferences | None, policy: FirmPolicy) -> PreferencesPublic:
    channels = found.channels if found else {}
    quiet = found.quiet_hours if found else None
    return PreferencesPublic.model_validate({
        "language": found.language if found else DEFAULT_LANGUAGE, "channels": channels,
        "quiet_hours": QuietHours.model_validate(quiet) if quiet else None, "version": found.version if found else 0,
        "effective": {kind: policy.channels_for(kind, channels) for kind in KINDS},
        "policy": PolicyPublic.model_validate({"enabled_channels": sorted(policy.enabled),
                                               "default_channels": list(policy.defaults),
                                               "required_in_app": sorted(policy.required_in_app)})})


@router.get("", response_model=PreferencesPublic, responses=NOT_OPERATOR,
            summary="Your notification preferences, what they make of each kind, and the firm's policy (ETag).")
def preferences(container: ContainerDep, me: Recipient, response: Response) -> PreferencesPublic:
    found = container.notifications.preferences(me)
    response.headers["ETag"] = f'"{found.version if found else 0}"'
    return _public(found, container.notifications.policy)


@router.put("", response_model=CommandAccepted, responses={
    **NOT_OPERATOR, 409: {"description": "`stale_version`: your preferences changed since you read them (If-Match)."},
    422: {"description": "`invalid_input`: a channel the firm has not enabled, a kind that cannot be muted in-app, "
                         "an unknown time zone, quiet hours that end when they start; `rule_violation`: nothing "
                         "changed."}},
            summary="Replace your notification preferences (send the ETag as If-Match).")
def set_preferences(body: PreferencesBody, container: ContainerDep, me: Recipient, ctx: Acting,
                    expected: ExpectedVersion, response: Response) -> CommandAccepted:
    channels = {str(kind): [str(c) for c in chosen] for kind, chosen in body.channels.items()}
    quiet = body.quiet_hours.model_dump() if body.quiet_hours else None
    result = container.notifications.set_preferences(ctx, me, body.language, channels, quiet, expected)
    return accepted(result, response)
