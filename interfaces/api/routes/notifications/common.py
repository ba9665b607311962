"""What the notifications routes share: whose inbox a request reads, and the documented answers."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from domain.notifications.kinds import is_operator
from domain.shared.errors import PermissionDeniedError
from interfaces.api.deps import CurrentPrincipal
from interfaces.api.problems import Responses
from projections.notifications.inbox import NAME

INBOX = NAME
NOT_OPERATOR: Responses = {403: {"description": "`forbidden`: only operators have notifications (not the bootstrap "
                                                "administrator or a token acting for nobody)."}}


def recipient(principal: CurrentPrincipal) -> str:
    """Every operator reads their own notifications (no permission beyond being signed in); an API
    token acts for the operator who issued it."""
    person = principal.person
    if not is_operator(person):
        raise PermissionDeniedError("only operators have notifications")
    return person


Recipient = Annotated[str, Depends(recipient)]
