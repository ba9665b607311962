"""flows: starting an instance and every action on it and its tasks."""
from __future__ import annotations

import logging
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Request, Response

from domain.shared.errors import DomainError, NotFoundError
from interfaces.api.deps import ContainerDep, ExpectedVersion
from interfaces.api.problems import STATUS_BY_ERROR, ApiProblem, Responses
from interfaces.api.routes.flow_instances.common import (
    RESOURCE,
    Admin,
    Handler,
    Starter,
    Viewer,
    _changed_names,
    _sent_data,
    acting_on,
)
from interfaces.api.routes.flow_instances.schemas import (
    DECIDED,
    NOT_FOUND,
    RULE,
    STALE,
    AddSigner,
    Batch,
    BatchResultPublic,
    Copy,
    Decision,
    FormEdit,
    InstanceStart,
    PauseEndedPublic,
    Reason,
    Rejection,
    Remark,
    RemoveSigner,
    Resubmit,
    ReturnTo,
    Transfer,
)
from interfaces.api.schemas import CommandAccepted, accepted

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/flows", tags=["flows"])


@router.post("/instances", status_code=201, response_model=CommandAccepted,
             summary="Start a flow: the form is validated against the pinned version (422 per field).",
             responses={404: {"description": "The flow or fund account does not exist or lies outside your scope."},
                        422: {"description": "The form data breaks the pinned version's rules, per field."}})
def start(body: InstanceStart, request: Request, container: ContainerDep, policy: Starter,
          response: Response) -> CommandAccepted:
    try:  # the aggregate, not the read model: starting right after publishing must work
        line = container.flows.definition(body.definition).business_line
    except NotFoundError:
        raise NotFoundError(f"flow {body.definition!r} does not exist", field="definition") from None
    policy.require_line(f"flow {body.definition!r}", line, field="definition")
    department = policy.principal.department_id
    if body.fund_account:
        # A known customer's account must lie in the starter's data scope (404 like a missing
        # one); an account unknown to the customer lookup (live, else the copy) files under the
        # starter's department.
        customer = container.forms.customer(body.fund_account)
        if customer:
            department = customer.row["department_id"]
            if not policy.sees(business_line=line, department_id=department, investor_account=body.fund_account):
                raise NotFoundError(f"fund account {body.fund_account} does not exist", field="fund_account")
    # Field rules hold at the start as at every later edit: a field a rule makes read-only,
    # masked or hidden for the starter cannot be filled in by them (403 naming it).
    policy.require_editable(RESOURCE, _changed_names({}, body.data))
    ctx = policy.context(request.state.correlation_id, line)
    result = container.flows.start_instance(ctx, body.definition, body.subject, body.data, title=body.title,
                                            fund_account=body.fund_account, department_id=department)
    response.headers["Location"] = f"{router.prefix}/instances/{result.id}"
    return accepted(result, response)




# Answers of the task actions (docs/flows.md "Errors"): an unknown task is `task_not_found` (404);
# a finished flow `instance_not_running` (409); an excluded person `segregation_of_duties` (403).
TASK_ERRORS: Responses = {
    404: {"description": "`not_found`: the instance does not exist or lies outside your data scope; "
                         "`task_not_found`: it has no such task."},
    409: {"description": "`task_already_decided`: another handler decided first; `instance_not_running`: "
                         "the flow is withdrawn, terminated, rejected or completed."},
    403: {"description": "`forbidden`: not a current handler; `segregation_of_duties`: the node must be "
                         "independent of you (you started the flow or acted at a node it reviews)."}}


@router.post("/instances/{instance_id}/tasks/{task_id}/approve", response_model=CommandAccepted,
             summary="Approve a task (all-sign approvals made at once all count).",
             responses={**TASK_ERRORS, 422: {"description": "`required_fields_missing`: the node's required fields "
                                                              "are absent or invalid (each path in `errors`)."}})
def approve(instance_id: UUID, task_id: str, body: Decision, request: Request, container: ContainerDep,
            policy: Handler, response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.approve(ctx, instance_id, task_id, body.comment), response)


@router.post("/instances/{instance_id}/tasks/{task_id}/reject", response_model=CommandAccepted,
             summary="Reject: the flow ends as rejected (a vote only once its threshold is out of reach).",
             responses={**TASK_ERRORS, **RULE})
def reject(instance_id: UUID, task_id: str, body: Rejection, request: Request, container: ContainerDep,
           policy: Handler, response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.reject(ctx, instance_id, task_id, body.comment, body.reason_code), response)


@router.post("/instances/{instance_id}/tasks/{task_id}/return", response_model=CommandAccepted,
             summary="Return to the initiator, the previous node or an allowed earlier node.",
             responses={**TASK_ERRORS, **RULE})
def return_to(instance_id: UUID, task_id: str, body: ReturnTo, request: Request, container: ContainerDep,
              policy: Handler, response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.return_to(ctx, instance_id, task_id, body.target, body.comment,
                                              body.reason_code), response)


@router.post("/instances/{instance_id}/tasks/{task_id}/take-back", response_model=CommandAccepted,
             summary="Take back (拿回) a task you approved while nobody after it has acted.",
             responses={**TASK_ERRORS, 409: {"description": "`already_acted`: someone after the task has acted "
                                                              "(or the flow moved on); `instance_not_running`."},
                        **RULE})
def take_back(instance_id: UUID, task_id: str, body: Decision, request: Request, container: ContainerDep,
              policy: Handler, response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.take_back(ctx, instance_id, task_id, body.comment), response)


@router.post("/instances/{instance_id}/tasks/{task_id}/transfer", response_model=CommandAccepted,
             summary="Hand your part of a task to another operator.",
             responses={**TASK_ERRORS, **RULE})
def transfer(instance_id: UUID, task_id: str, body: Transfer, request: Request, container: ContainerDep,
             policy: Handler, response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.transfer(ctx, instance_id, task_id, body.to, body.comment), response)


@router.put("/instances/{instance_id}/tasks/{task_id}/form", response_model=CommandAccepted,
            summary="Edit the form at your node, within its field permissions (send the ETag as If-Match).",
            responses={**NOT_FOUND, **STALE,
                       403: {"description": "A field a rule makes hidden, masked or read-only for you changed."},
                       422: {"description": "The form data breaks the version's rules, per field."}})
def edit_form(instance_id: UUID, task_id: str, body: FormEdit, request: Request, container: ContainerDep,
              policy: Handler, expected: ExpectedVersion, response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    data = _sent_data(container, policy, instance_id, body.data)
    return accepted(container.flows.edit_at_task(ctx, instance_id, task_id, data, expected), response)



@router.post("/instances/{instance_id}/tasks/{task_id}/delegate", response_model=CommandAccepted,
             summary="Delegate (委派): the delegate gives an opinion and the task comes back to you.",
             responses={**TASK_ERRORS, **RULE})
def delegate(instance_id: UUID, task_id: str, body: Transfer, request: Request, container: ContainerDep,
             policy: Handler, response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.delegate(ctx, instance_id, task_id, body.to, body.comment), response)



@router.post("/instances/{instance_id}/tasks/{task_id}/signers", response_model=CommandAccepted,
             summary="Add a signer (加签) before or after yourself.",
             responses={**TASK_ERRORS, **RULE})
def add_signer(instance_id: UUID, task_id: str, body: AddSigner, request: Request, container: ContainerDep,
               policy: Handler, response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.add_signer(ctx, instance_id, task_id, body.signer, body.position,
                                               body.comment), response)


SIGNER_REMOVAL: Responses = {**TASK_ERRORS, 409: {"description": "`already_signed`: the signer has signed; "
                                                    "`task_already_decided`, `instance_not_running`."}, **RULE}


@router.delete("/instances/{instance_id}/tasks/{task_id}/signers/{signer}", response_model=CommandAccepted,
               summary="Remove a signer you added (减签) before they sign.", responses=SIGNER_REMOVAL)
def remove_signer(instance_id: UUID, task_id: str, signer: Annotated[str, Path(
                      pattern=r"^operator:[a-z][a-z0-9._\-]{2,31}$")],
                  request: Request, container: ContainerDep, policy: Handler, response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.remove_signer(ctx, instance_id, task_id, signer, ""), response)


@router.post("/instances/{instance_id}/tasks/{task_id}/signers/remove", response_model=CommandAccepted,
             summary="Remove a signer you added (减签) before they sign, with a comment.", responses=SIGNER_REMOVAL)
def remove_signer_with_comment(instance_id: UUID, task_id: str, body: RemoveSigner, request: Request,
                               container: ContainerDep, policy: Handler, response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.remove_signer(ctx, instance_id, task_id, body.signer, body.comment), response)


@router.post("/instances/{instance_id}/tasks/{task_id}/urge", response_model=CommandAccepted,
             summary="Urge (催办): marks the task urgent in its handlers' todo lists.",
             responses={**NOT_FOUND, **DECIDED, **RULE})
def urge(instance_id: UUID, task_id: str, request: Request, container: ContainerDep, policy: Viewer,
         response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.urge(ctx, instance_id, task_id), response)



@router.post("/instances/{instance_id}/cc", response_model=CommandAccepted, summary="CC (抄送) operators.",
             responses=NOT_FOUND)
def cc(instance_id: UUID, body: Copy, request: Request, container: ContainerDep, policy: Viewer,
       response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.cc(ctx, instance_id, body.to, body.note), response)


@router.post("/instances/{instance_id}/cc/read", response_model=CommandAccepted,
             summary="Mark what was copied to you (抄送) on this flow as read.",
             responses={**NOT_FOUND, 409: {"description": "`already_read`: nothing unread was copied to you."}})
def cc_read(instance_id: UUID, request: Request, container: ContainerDep, policy: Viewer,
            response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.mark_cc_read(ctx, instance_id), response)


@router.post("/instances/{instance_id}/tasks/{task_id}/claim", response_model=CommandAccepted,
             summary="Claim (认领) a task offered to several people: the others no longer see it.",
             responses={**TASK_ERRORS, 409: {"description": "`already_claimed`: another candidate claimed it; "
                                                              "`task_already_decided`, `instance_not_running`."},
                        **RULE})
def claim(instance_id: UUID, task_id: str, request: Request, container: ContainerDep, policy: Handler,
          response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.claim(ctx, instance_id, task_id), response)


@router.post("/instances/{instance_id}/resubmit", response_model=CommandAccepted,
             summary="The initiator resubmits a flow returned to them (optionally with new data).",
             responses={**NOT_FOUND, **RULE})
def resubmit(instance_id: UUID, body: Resubmit, request: Request, container: ContainerDep, policy: Starter,
             response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    data = None if body.data is None else _sent_data(container, policy, instance_id, body.data)
    return accepted(container.flows.resubmit(ctx, instance_id, data), response)


@router.post("/instances/{instance_id}/withdraw", response_model=CommandAccepted,
             summary="The initiator withdraws before anyone has decided.",
             responses={**NOT_FOUND, **RULE})
def withdraw(instance_id: UUID, body: Reason, request: Request, container: ContainerDep, policy: Starter,
             response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.withdraw(ctx, instance_id, body.reason), response)


@router.post("/instances/{instance_id}/remarks", response_model=CommandAccepted, summary="Add a remark (备注).",
             responses=NOT_FOUND)
def remark(instance_id: UUID, body: Remark, request: Request, container: ContainerDep, policy: Viewer,
           response: Response) -> CommandAccepted:
    ctx = acting_on(request, container, policy, instance_id)
    return accepted(container.flows.remark(ctx, instance_id, body.text), response)


@router.post("/instances/{instance_id}/pauses/{token}/end", response_model=PauseEndedPublic,
             summary="Monitoring: end a pause early, with a reason.",
             responses={**NOT_FOUND, 409: {"description": "`pause_not_running`: that pause is not running."}})
def end_pause(instance_id: UUID, token: str, body: Reason, request: Request, container: ContainerDep,
              policy: Admin) -> PauseEndedPublic:
    ctx = acting_on(request, container, policy, instance_id)
    outcome = container.flows.end_pause(ctx, instance_id, token, early=True, reason=body.reason)
    if outcome != "ended":
        raise ApiProblem(409, "pause_not_running", "that pause is not running", field="token")
    return PauseEndedPublic(outcome=outcome)


@router.post("/tasks/batch", response_model=list[BatchResultPublic], response_model_exclude_unset=True,
             summary="Approve or reject many tasks; each item succeeds or fails on its own.")
def batch(body: Batch, request: Request, container: ContainerDep, policy: Handler) -> list[BatchResultPublic]:
    results = []
    for item in body.items:
        try:
            ctx = acting_on(request, container, policy, item.instance_id)
            decide = container.flows.approve if body.action == "approve" else container.flows.reject
            result = decide(ctx, item.instance_id, item.task_id, body.comment)
            results.append({**item.model_dump(mode="json"), "status": 200, "position": result.position})
        except DomainError as exc:
            status = next(s for cls, s in STATUS_BY_ERROR if isinstance(exc, cls))
            results.append({**item.model_dump(mode="json"), "status": status, "code": exc.code,
                            "detail": exc.message})
        except Exception:  # one item's unexpected failure must not lose the others' answers
            log.exception("batch %s of %s/%s failed", body.action, item.instance_id, item.task_id)
            results.append({**item.model_dump(mode="json"), "status": 500, "code": "internal_error",
                            "detail": "this item failed unexpectedly; the others are unaffected"})
    return [BatchResultPublic(**r) for r in results]
