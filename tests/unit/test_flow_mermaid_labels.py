"""The Mermaid text of a flow graph, pure domain: a node's name stays inside its label."""
from __future__ import annotations

from domain.flows.diagram import to_mermaid
from tests.unit.flow_graphs import edge, graph, node


def test_a_node_name_cannot_break_out_of_its_mermaid_label():
    g = graph([node("start", "start", name='x"]\nclick start call evil()'), node("end", "end")],
              [edge("start", "end")])
    text = to_mermaid(g)
    assert "\nclick" not in text and text.splitlines()[1] == "  n_start((\"x'  click start call evil()\"))"
