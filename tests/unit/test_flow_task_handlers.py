"""Who may act on a task, pure domain: reassignment, delegation and added signers."""
from __future__ import annotations

import pytest

from domain.flows.instance import FlowRuntime
from domain.shared.context import CommandContext, acting_as
from domain.shared.errors import PermissionDeniedError
from tests.unit.flow_graphs import NOW, evaluate, instance, one_approval


def two(node):
    return ["operator:a", "operator:b"]


def _open_task(g):
    """An instance at the one approval of g, offered to operator:a and operator:b."""
    i = instance()
    i.advance(FlowRuntime(g, two, evaluate, NOW))
    (task,) = i.tasks
    return i, task


def test_after_a_reassignment_only_the_new_candidates_approvals_count():
    g = one_approval()
    with acting_as(CommandContext("operator:x", "t")):
        i, task = _open_task(g)
        i.approve(task, "operator:a", "", FlowRuntime(g, two, evaluate, NOW))
        i.reassign(task, "admin:x", ["operator:c", "operator:d"], "cover")
        i.approve(task, "operator:c", "", FlowRuntime(g, two, evaluate, NOW))
        assert i.status == "running"  # operator:a's approval no longer counts: d still has to sign
        i.approve(task, "operator:d", "", FlowRuntime(g, two, evaluate, NOW))
        assert i.status == "completed"


def test_a_delegate_answers_by_approving_and_cannot_reject_return_hand_on_or_add_signers():
    g = one_approval()
    with acting_as(CommandContext("operator:x", "t")):
        i, task = _open_task(g)
        i.delegate(task, "operator:a", "operator:d", "")
        for act in (lambda: i.reject(task, "operator:d", ""),
                    lambda: i.transfer(task, "operator:d", "operator:e", ""),
                    lambda: i.add_signer(task, "operator:d", "operator:e", "before", ""),
                    lambda: i.return_to(task, "operator:d", "start", "", FlowRuntime(g, two, evaluate, NOW))):
            with pytest.raises(PermissionDeniedError):
                act()


def _with_a_signer_added_before():
    i, task = _open_task(one_approval())
    i.add_signer(task, "operator:a", "operator:ghost", "before", "")
    return i, task


def test_a_signer_added_before_cannot_hand_the_task_on():
    with acting_as(CommandContext("operator:x", "t")):
        i, task = _with_a_signer_added_before()
        with pytest.raises(PermissionDeniedError):
            i.transfer(task, "operator:ghost", "operator:e", "")


def test_a_reassignment_drops_the_added_signers():
    with acting_as(CommandContext("operator:x", "t")):
        i, task = _with_a_signer_added_before()
        i.reassign(task, "admin:x", ["operator:c"], "ghost signer")
        assert i.current_handlers(i.tasks[task]) == ["operator:c"]
