"""The flow instance's refusals, each with the code the API answers (interfaces/api/problems.py)."""
from __future__ import annotations

from domain.shared.errors import ConflictError, NotFoundError, PermissionDeniedError


class TaskAlreadyDecidedError(ConflictError):
    code = "task_already_decided"


class InstanceNotRunningError(TaskAlreadyDecidedError):
    """The flow is withdrawn, terminated, rejected or completed: nothing on it can be decided."""
    code = "instance_not_running"


class AlreadyActedError(ConflictError):
    """拿回: someone after the task has acted (or the flow moved on): it can no longer be taken back."""
    code = "already_acted"


class AlreadySignedError(ConflictError):
    """减签: the added signer has signed already."""
    code = "already_signed"


class AlreadyClaimedError(ConflictError):
    """认领: someone else of the pool claimed the task first."""
    code = "already_claimed"


class AlreadyReadError(ConflictError):
    """抄送已读: the copy was marked read already (a new copy may be read again)."""
    code = "already_read"


class TaskNotFoundError(NotFoundError):
    code = "task_not_found"


class OverrideNotFoundError(NotFoundError):
    code = "override_not_found"


class OverrideDecidedError(ConflictError):
    """The override request was approved or declined already."""
    code = "override_already_decided"


class SecondAdministratorRequiredError(PermissionDeniedError):
    """四眼原则: an override the flow requires a second administrator for, approved by its requester."""
    code = "second_administrator_required"


class SegregationOfDutiesError(PermissionDeniedError):
    """The node is independent of the initiator or of earlier nodes' handlers, and this is one."""
    code = "segregation_of_duties"
