"""Who a flow node goes to: operators, roles, departments, the initiator, the initiator's
department head (operators of their department holding the role ``department_head``), the heads
of the flow's own department (``department_head``: where a timeout escalates), or
the operator named in a form field. Only active operators working in the record's line."""
from __future__ import annotations

from typing import Any

from domain.flows.graph import Node


class AssigneeResolver:
    def __init__(self, queries: Any):
        self.queries = queries

    def __call__(self, node: Node, facts: dict[str, Any]) -> list[str]:
        line = facts.get("business_line")
        found: list[str] = []
        for a in node.assignees:
            if a.kind in ("role", "department", "operator"):
                found += self.queries.assignees(a.kind, a.value, line)
            elif a.kind == "initiator":
                found.append(facts["initiator"])
            elif a.kind == "initiator_department_head":
                login = str(facts["initiator"]).removeprefix("operator:")
                found += self.queries.department_heads(login, line)
            elif a.kind == "department_head":  # the flow's department; else the initiator's
                department = facts.get("department_id")
                login = str(facts["initiator"]).removeprefix("operator:")
                found += self.queries.heads_of(department, line) if department is not None \
                    else self.queries.department_heads(login, line)
            elif a.kind == "form_field":
                value = facts.get("data", {})
                for key in (a.value or "").split("."):
                    value = value.get(key) if isinstance(value, dict) else None
                if isinstance(value, str):
                    found += self.queries.assignees("operator", value, line)
        return list(dict.fromkeys(found))  # de-duplicated, in order
