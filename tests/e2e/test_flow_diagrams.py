"""Every served Mermaid diagram (a version's, its .mmd, an instance's) parses with Mermaid's own
parser, even when node ids are Mermaid keywords (`end`, `graph`, `class`...).

The parser is Mermaid 11 under node with jsdom (tests/mermaid, dev only: `npm ci --prefix
tests/mermaid`; the test installs it when npm is there and skips that half when it cannot).
The structural check beside it always runs: no Mermaid id is a keyword, every label quoted."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from application.flows.service import parse_graph
from domain.flows.diagram import to_mermaid
from interfaces.demo_flows import FLOWS
from tests.e2e.board_firm import ADMIN, SETUP, get, ok, start

CHECKER = Path(__file__).parent.parent / "mermaid"
KEYWORDS = {"end", "subgraph", "graph", "flowchart", "style", "class", "classdef", "click", "linkstyle",
            "direction", "default", "call", "href", "interpolate", "td", "tb", "bt", "lr", "rl", "accTitle",
            "acc_title", "acc_descr"}
KEYWORD_FLOW = {
    "nodes": [{"id": "start", "type": "start", "name": 'Start "quoted" [x] <b>'},
              *({"id": k, "type": "approval", "name": f"{k} | {{node}}", "mode": "single",
                 "assignees": [{"kind": "role", "value": "ops"}]}
                for k in ("graph", "subgraph", "class", "style", "click", "default", "direction", "flowchart")),
              {"id": "end", "type": "end", "name": "end"}],
    "edges": [{"source": a, "target": b} for a, b in zip(
        ["start", "graph", "subgraph", "class", "style", "click", "default", "direction", "flowchart"],
        ["graph", "subgraph", "class", "style", "click", "default", "direction", "flowchart", "end"], strict=True)],
}

# A call node (父子流程) has a shape of its own (a stadium); its id here is a Mermaid keyword too.
CALL_FLOW = {
    "nodes": [{"id": "start", "type": "start", "name": "start"},
              {"id": "call", "type": "call", "name": "子流程 [keywords] (call)", "call_flow": "keywords"},
              {"id": "end", "type": "end", "name": "end"}],
    "edges": [{"source": "start", "target": "call"}, {"source": "call", "target": "end"}],
}


def mermaid_parse(texts: list[str]) -> list[str | None]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None:
        pytest.skip("node is not installed: only the structural check ran")
    if not (CHECKER / "node_modules" / "mermaid").exists():
        if npm is None:
            pytest.skip("npm is not installed: only the structural check ran")
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--prefix", str(CHECKER)], capture_output=True,
                              timeout=300, check=False)
        if done.returncode != 0:
            pytest.skip(f"could not install Mermaid's parser: {done.stderr.decode()[-300:]}")
    out = subprocess.run([node, str(CHECKER / "parse.mjs")], input=json.dumps(texts).encode(), capture_output=True,
                         timeout=120, check=True)
    return json.loads(out.stdout)


def structural_problems(text: str) -> list[str]:
    """What makes Mermaid misread a flowchart: a keyword as an id, an unquoted label."""
    problems = []
    for line in text.splitlines()[1:]:
        line = line.strip()
        if line.startswith(("classDef ", "class ")):
            ids = line.split()[1].split(",") if line.startswith("class ") else []
        else:
            ids = re.findall(r"(?:^|--> ?(?:\|\"[^\"]*\"\| )?)([A-Za-z0-9_]+)", line)
            labels = re.findall(r"[\[({/\\]+(.*?)[\])}/\\]+$", line)
            if labels and not (labels[0].startswith('"') and labels[0].endswith('"')):
                problems.append(f"unquoted label: {line}")
        problems += [f"keyword id {i!r}: {line}" for i in ids if i.lower() in {k.lower() for k in KEYWORDS}]
        problems += [f"unprefixed id {i!r}: {line}" for i in ids if not i.startswith("n_")]
    return problems


def test_no_mermaid_id_is_a_keyword_and_every_label_is_quoted():
    graphs = [parse_graph(g) for *_, g in FLOWS] + [parse_graph(KEYWORD_FLOW), parse_graph(CALL_FLOW)]
    for graph in graphs:
        ids = {n.id for n in graph.nodes}
        text = to_mermaid(graph, current=set(list(ids)[:1]), visited=ids)
        assert structural_problems(text) == [], text


def test_every_served_diagram_parses_with_mermaid(firm):
    app, client = firm["app"], firm["client"]
    app.forms.create_business_type(SETUP, "keywords", "Keywords", "brokerage", "", ["institution"])
    app.forms.save_draft(SETUP, "keywords", "institution", {"type": "object", "properties": {}}, None)
    app.forms.publish(SETUP, "keywords", None)
    app.flows.create_definition(SETUP, "keywords", "Keywords", "keywords", "brokerage", "")
    app.flows.save_draft(SETUP, "keywords", KEYWORD_FLOW, {"deduplication": "none", "empty_assignee": "block"}, None)
    app.flows.publish(SETUP, "keywords", None)
    started = ok(client.post("/api/v1/flows/instances", headers=ADMIN, json={
        "definition": "keywords", "subject": "institution", "title": "keywords", "data": {}}), 201)
    signing = start(firm, "sam", "甲")
    texts = []
    for key in ("keywords", "tenant_signing"):
        texts.append(ok(client.get(f"/api/v1/flows/definitions/{key}/versions/1", headers=ADMIN))["mermaid"])
        texts.append(client.get(f"/api/v1/flows/definitions/{key}/versions/1/diagram.mmd", headers=ADMIN).text)
    for instance in (started, signing):
        texts.append(get(firm, "admin", f"/api/v1/flows/instances/{instance['id']}", instance["position"])["mermaid"])
    app.flows.create_definition(SETUP, "caller", "Caller", "keywords", "brokerage", "")
    app.flows.save_draft(SETUP, "caller", CALL_FLOW, {"deduplication": "none", "empty_assignee": "block"}, None)
    app.flows.publish(SETUP, "caller", None)
    calling = ok(client.post("/api/v1/flows/instances", headers=ADMIN, json={
        "definition": "caller", "subject": "institution", "title": "caller", "data": {}}), 201)
    texts.append(ok(client.get("/api/v1/flows/definitions/caller/versions/1", headers=ADMIN))["mermaid"])
    texts.append(get(firm, "admin", f"/api/v1/flows/instances/{calling['id']}", calling["position"])["mermaid"])
    assert "n_end" in texts[0] and "class n_graph current" in texts[4]
    assert 'n_call(["' in texts[-1] and "class n_call current" in texts[-1]
    for text in texts:
        assert structural_problems(text) == [], text
    assert mermaid_parse(texts) == [None] * len(texts)
    # and the parser does catch the bug this fixes
    assert mermaid_parse(["flowchart TD\n  start((\"a\"))\n  end((\"b\"))\n  start --> end"])[0]
