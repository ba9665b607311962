"""Form data on a flow: validated against the pinned form version (integers taken as numbers where
the schema says number; sections a later node owns not demanded yet) and edited within a node's
field permissions (deny by default; domain/flows/fields.py)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from application.flows.forms_port import Forms
from domain.flows.fields import merge_edit
from domain.flows.form_data import deferred_sections, numbers_as_declared
from domain.flows.graph import Graph, Node
from domain.flows.instance import FlowInstance
from domain.forms.diff import patch_with_old_values
from domain.shared.errors import InvalidInputError


class FormEdits:
    forms: Forms
    _graph: Callable[[FlowInstance], Graph]  # from the host: Instances

    def _edit_within(self, instance: FlowInstance, node: Node, data: dict[str, Any], **who: Any) -> None:
        """The one edit-permission check (edits at a task and resubmission at the start node):
        deny by default, hidden fields merged from the stored data (domain/flows/fields.py)."""
        self._edit(instance, node.id, merge_edit(instance.data, data, node.field_permissions, node.name), **who)

    def _edit(self, instance: FlowInstance, node: str, data: dict[str, Any], **who: Any) -> None:
        cleaned = self._validated(instance.business_type, instance.form_version, instance.subject, data,
                                  self._graph(instance))
        patch, old_values = patch_with_old_values(instance.data, cleaned)
        if patch:
            instance.edit_form(node=node, patch=patch, old_values=old_values, data=cleaned, **who)

    def _validated(self, code: str, number: int, subject: str, data: Any, graph: Graph) -> dict[str, Any]:
        """The form's own validation, with integers taken as numbers where the schema says number,
        and without demanding the sections a later node owns (domain/flows/form_data.py)."""
        schema = self.forms.compiled(code, number, subject).schema
        cleaned, errors = self.forms.check_submission(code, number, subject, numbers_as_declared(schema, data), {})
        deferred = deferred_sections(graph, schema)
        errors = [e for e in errors if not (e["rule"] == "required" and e["path"] in deferred)]
        if errors:
            raise InvalidInputError(f"{len(errors)} field(s) need attention", errors, code="invalid_form_data")
        return cleaned
