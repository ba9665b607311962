"""ClickHouse: every decision on a flow task — approvals, rejections and returns (驳回) per node
and handler — for assessment (节点"驳回"计入考核) and flow statistics (hot/slow businesses)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from domain.flows.instance import FlowInstance
from projections.framework import ClickHouseSink, handles


class FlowDecisionsSink(ClickHouseSink):
    name = "analytics.flow_decisions"
    tables = {
        "flow_decisions": (
            "CREATE TABLE IF NOT EXISTS {db}.flow_decisions ("
            " position UInt64, occurred_at DateTime64(6, 'UTC'), instance_id UUID, task_id String,"
            " decision LowCardinality(String), node String, handler String, target_node String,"
            " business_line LowCardinality(String), comment String"
            ") ENGINE = ReplacingMergeTree ORDER BY position"
            " SETTINGS non_replicated_deduplication_window = 1000"
        ),
    }
    columns = {"flow_decisions": ("position", "occurred_at", "instance_id", "task_id", "decision", "node",
                                  "handler", "target_node", "business_line", "comment")}

    @handles(FlowInstance.TaskApproved, FlowInstance.TaskRejected, FlowInstance.Returned)
    def decided(self, e: FlowInstance.TaskApproved | FlowInstance.TaskRejected | FlowInstance.Returned,
                position: int) -> Iterable[tuple[str, Sequence[Any]]]:
        decision = {FlowInstance.TaskApproved: "approved", FlowInstance.TaskRejected: "rejected",
                    FlowInstance.Returned: "returned"}[type(e)]
        yield "flow_decisions", (position, e.timestamp, e.originator_id, e.task, decision, e.node, e.by,
                                 getattr(e, "target", ""), e.business_line or "", e.comment or "")
