"""Small flow graphs and instances for domain tests of the flow engine: no engines."""
from __future__ import annotations

from datetime import datetime, timezone

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def graph(nodes, edges):
    from application.flows.service import parse_graph
    return parse_graph({"nodes": nodes, "edges": edges})


def node(node_id, kind, **extra):
    made = {"id": node_id, "type": kind, "name": node_id, **extra}
    if kind == "approval":
        made.setdefault("mode", "single")
        made.setdefault("assignees", [{"kind": "role", "value": "ops"}])
    return made


def edge(source, target, **extra):
    return {"source": source, "target": target, **extra}


def instance():
    from domain.flows.instance import FlowInstance
    return FlowInstance(definition_key="k", definition_version=1, business_type="bt", form_version=1, subject="s",
                        business_line="l", fund_account=None, department_id=None, initiator="operator:init",
                        title="t", data={"amount": 5})


def evaluate(condition, activation):
    import cel
    return cel.evaluate(condition, activation) is True, {}


def one_approval(mode="all"):
    return graph([node("start", "start"), node("a", "approval", mode=mode), node("end", "end")],
                 [edge("start", "a"), edge("a", "end")])
