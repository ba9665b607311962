"""Request and response models of the flow-instance routes, and the problems they declare."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, PlainSerializer

from interfaces.api.problems import Responses
from interfaces.api.routes.flow_calls import CallChildPublic, CallParentPublic
from interfaces.api.schemas import FundAccount, Page

Comment = Annotated[str, Field("", max_length=2000)]


class InstanceStart(BaseModel):
    definition: str = Field(max_length=48, examples=["tenant_signing"])
    subject: str = Field(max_length=32, examples=["institution"])
    title: str = Field(min_length=1, max_length=200)
    data: dict[str, Any]
    fund_account: FundAccount | None = None


class Decision(BaseModel):
    comment: Comment


ReasonCode = Annotated[str | None, Field(None, max_length=32, description="A code of the flow's `reason_codes` "
                                                                      "catalogue (422 otherwise)")]


class Rejection(BaseModel):
    comment: Comment
    reason_code: ReasonCode


class ReturnTo(BaseModel):
    target: str = Field(max_length=48, description="A node id, 'start' (the initiator) or 'previous'")
    comment: Comment
    reason_code: ReasonCode


class RemoveSigner(BaseModel):
    signer: str = Field(pattern=r"^operator:[a-z][a-z0-9._\-]{2,31}$")
    comment: Comment


class Transfer(BaseModel):
    to: str = Field(pattern=r"^operator:[a-z][a-z0-9._\-]{2,31}$")
    comment: Comment


class Reason(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class Remark(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


class Resubmit(BaseModel):
    data: dict[str, Any] | None = None


class BatchItem(BaseModel):
    instance_id: UUID
    task_id: str = Field(max_length=32)


class Batch(BaseModel):
    action: Literal["approve", "reject"]
    comment: Comment
    items: list[BatchItem] = Field(min_length=1, max_length=200)




class FormEdit(BaseModel):
    data: dict[str, Any]



class AddSigner(BaseModel):
    signer: str = Field(pattern=r"^operator:[a-z][a-z0-9._\-]{2,31}$")
    position: Literal["before", "after"] = Field(description="before: they sign first, then it comes back to "
                                                             "you; after: they sign before the flow goes on")
    comment: Comment



class Copy(BaseModel):
    to: list[Annotated[str, Field(pattern=r"^operator:[a-z][a-z0-9._\-]{2,31}$")]] = Field(min_length=1,
                                                                                            max_length=50)
    note: Comment



# Read-model rows are rendered with isoformat(), as they were before these models existed.
Instant = Annotated[datetime, PlainSerializer(datetime.isoformat, return_type=str, when_used="json")]
NOT_FOUND: Responses = {404: {"description": "The instance (or task) does not exist or lies outside your data scope."}}
STALE: Responses = {409: {"description": "`conflict`: the instance changed since you read it (If-Match)."}}
DECIDED: Responses = {409: {"description": "`task_already_decided`: the task was decided already (or the instance "
                                           "moved on)."}}
RULE: Responses = {422: {"description": "The flow's rules refuse the action here (e.g. the node does not allow it)."}}


class TaskRowPublic(BaseModel):
    """A task as the todo inbox lists it."""
    instance_id: UUID
    task_id: str
    node: str
    mode: str
    status: str = Field(examples=["open"])
    candidates: list[str]
    decided_by: list[str]
    business_type: str
    business_line: str
    department_id: UUID | None
    fund_account: str | None
    initiator: str
    title: str
    urgent: bool
    opened_at: Instant
    closed_at: Instant | None
    sla_due_at: Instant | None
    sla_warned: bool
    overdue: bool


Summary = Annotated[dict[str, Any], Field(
    description="Up to 5 summary fields (OA 摘要) of the instance: {dotted path: value}, as the version's "
                "`summary_fields` setting names them; field rules apply")]


class TodoItemPublic(TaskRowPublic):
    current_nodes: list[str]
    node_name: str = Field(description="The task node's name in the instance's version")
    summary: Summary


class TodoCountPublic(BaseModel):
    business_type: str
    open: int
    urgent: int


class TodoPage(Page):
    items: list[TodoItemPublic]
    counts: list[TodoCountPublic] = Field(description="Open and urgent tasks per business type, same filters")


class DoneTaskPublic(TaskRowPublic):
    signers_before: list[str]
    signers_after: list[str]
    after_phase: bool
    sla_warn_at: Instant | None


class DonePage(Page):
    items: list[DoneTaskPublic]


class CopiedPublic(BaseModel):
    instance_id: UUID
    recipient: str
    by: str
    note: str | None
    title: str
    business_line: str
    department_id: UUID | None
    fund_account: str | None
    copied_at: Instant
    read_at: Instant | None = Field(None, description="When the recipient marked it read (抄送已读); null: unread")


class CopiedPage(Page):
    items: list[CopiedPublic]


class InstanceSummaryPublic(BaseModel):
    id: UUID
    definition_key: str
    definition_version: int
    business_type: str
    title: str
    status: str = Field(examples=["running"])
    business_line: str
    department_id: UUID | None
    fund_account: str | None
    initiator: str
    current_nodes: list[str]
    started_at: Instant
    updated_at: Instant
    version: int
    summary: Summary = {}


class InitiatedPage(Page):
    items: list[InstanceSummaryPublic]


class InstanceTaskPublic(BaseModel):
    task_id: str
    node: str
    mode: str
    status: str
    candidates: list[str]
    decided_by: list[str]
    opened_at: Instant
    closed_at: Instant | None


class TimelineEntryPublic(BaseModel):
    seq: int
    kind: str = Field(examples=["approved"])
    node: str | None = Field(description="Where it happened: a task's node for every task entry; for "
                                         "`returned` the node returned from (detail names origin and target)")
    task_id: str | None = Field(description="The task, for every task entry and for form edits made at one")
    actor: str
    via: str | None = Field(None, description="The client the actor acted through (`api_token:<id>`: delegated "
                                              "access from an OA or mobile client), else null")
    comment: str | None
    detail: Any = Field(description="Kind-specific facts (free-form JSON); field rules apply to form edits")
    occurred_at: Instant


class SystemTaskPublic(BaseModel):
    """Work a system node handed to a hook (counter write-back, agreement, e-signature, screening)."""
    request_id: str
    node: str
    hook: str
    status: str = Field(description="requested (the hook has not answered), waiting (for the outside: a "
                                    "counter's import result, a signature), done or failed")
    result: dict[str, Any] | None = Field(None, description="What the hook answered (conditions read it as "
                                                             "outputs.<node>)")
    requested_at: Instant
    answered_at: Instant | None


class InstancePublic(InstanceSummaryPublic):
    visited: list[str]
    current_handlers: list[str]
    data: dict[str, Any] = Field(description="Form data; fields the field rules hide from you are absent")
    hidden_fields: list[str] = Field(description="Fields this flow's node permissions hide from you")
    tasks: list[InstanceTaskPublic]
    timeline: list[TimelineEntryPublic]
    mermaid: str
    parent: CallParentPublic | None = Field(None, description="父子流程: the flow that called this one")
    children: list[CallChildPublic] = Field(default_factory=list, description="父子流程: the flows this one called")
    system_tasks: list[SystemTaskPublic] = Field(default_factory=list,
                                                 description="Work its system nodes handed to hooks, in order")


class TimelinePage(Page):
    items: list[TimelineEntryPublic]


class InstanceChangePublic(BaseModel):
    """One added / changed / removed field or sub-table row (rows matched by id) of a form edit."""
    version: int = Field(description="The instance version the edit made")
    seq: int
    kind: str = Field(description="added, changed or removed")
    path: str = Field(examples=["rates.fee_items[id=r1].percent"])
    old_value: Any = None
    new_value: Any = None
    node: str | None
    task_id: str | None
    actor: str
    occurred_at: Instant


class InstanceChangesPage(Page):
    items: list[InstanceChangePublic]


class PauseEndedPublic(BaseModel):
    outcome: Literal["ended"]


class BatchResultPublic(BaseModel):
    instance_id: UUID
    task_id: str
    status: int = Field(description="The HTTP status this item alone would have answered")
    position: int | None = Field(None, description="Present when the item succeeded")
    code: str | None = Field(None, description="Present when the item failed")
    detail: str | None = Field(None, description="Present when the item failed")
