"""Flow diagrams: a graph as Mermaid flowchart text, with an instance's current and visited nodes
styled (the designer's preview and the instance's 流程图)."""
from __future__ import annotations

import re

from domain.flows.graph import Graph

_UNSAFE_LABEL = re.compile(r"[\x00-\x1f\x7f`|<>{}\[\]]")


def _label(text: str) -> str:
    """A label that cannot break out of its quotes or line (newlines, brackets, pipes, tags)."""
    return _UNSAFE_LABEL.sub(" ", text.replace('"', "'")).strip()


def to_mermaid(graph: Graph, *, current: set[str] | None = None, visited: set[str] | None = None) -> str:
    """Mermaid flowchart text; the instance's current nodes and visited path are styled. Every
    Mermaid id is the node id behind ``n_`` (a node called ``end``, ``graph`` or ``class`` is a
    Mermaid keyword); every label is quoted with what could close it removed (``_label``)."""
    def mid(node_id: str) -> str:
        return f"n_{node_id}"

    shapes = {"start": "(({}))", "end": "(({}))", "exclusive": "{{{{{}}}}}", "inclusive": "{{{{{}}}}}",
              "parallel_split": "[/{}/]", "parallel_join": "[\\{}\\]", "inclusive_join": "[\\{}\\]",
              "pause": "[({})]", "system": "[[{}]]", "approval": "[{}]", "call": "([{}])"}
    lines = ["flowchart TD"]
    for n in graph.nodes:
        label = _label(n.name)
        lines.append(f'  {mid(n.id)}{shapes[n.type].format(chr(34) + label + chr(34))}')
    for e in graph.edges:
        edge_label = e.label or ("default" if e.default else e.condition)
        text = f'|"{_label(edge_label)}"|' if edge_label else ""
        lines.append(f"  {mid(e.source)} -->{text} {mid(e.target)}")
    lines.append("  classDef current fill:#fde68a,stroke:#d97706,stroke-width:2px")
    lines.append("  classDef visited fill:#d1fae5,stroke:#059669")
    known = {n.id for n in graph.nodes}
    past = sorted(((visited or set()) - (current or set())) & known)
    if past:
        lines.append(f"  class {','.join(mid(n) for n in past)} visited")
    now = sorted((current or set()) & known)
    if now:
        lines.append(f"  class {','.join(mid(n) for n in now)} current")
    return "\n".join(lines)
