"""Compiling a form schema (JSON Schema 2020-12 + Formily-style UI keys) once per version, and
validating submissions against it.

Reactions (``x-reactions``) are CEL expressions:
* show/hide: ``{"when": "<bool CEL>", "fulfill": {"state": {"visible": true}},
  "otherwise": {"state": {"visible": false}}}``
* computed value: ``{"fulfill": {"value": "<CEL>"}}``
They see the form's top-level fields by name, ``row`` inside a sub-table row, ``initiator``
(attributes of whoever starts the flow) and ``ds`` (data-source values). No eval, no Python.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import cel
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from application.forms.engine.formats import FORMATS, format_checker

# x-component -> (field type, JSON types it may carry)
COMPONENTS: dict[str, tuple[str, set[str]]] = {
    "Input": ("text", {"string"}),
    "Input.TextArea": ("textarea", {"string"}),
    "NumberPicker": ("number", {"number", "integer"}),
    "MoneyInput": ("money", {"string", "number"}),
    "PercentInput": ("percent", {"number", "string"}),
    "DatePicker": ("date", {"string"}),
    "DateTimePicker": ("datetime", {"string"}),
    "Select": ("select", {"string", "integer", "number"}),
    "Select.Multiple": ("multi-select", {"array"}),
    "Radio.Group": ("radio", {"string", "integer", "number", "boolean"}),
    "Checkbox.Group": ("checkbox-group", {"array"}),
    "Checkbox": ("checkbox", {"boolean"}),
    "PhoneInput": ("phone", {"string"}),
    "IdCardInput": ("id-card", {"string"}),
    "Attachment": ("attachment", {"array"}),
    "CustomerLookup": ("customer", {"object"}),
    "ArrayTable": ("sub-table", {"array"}),
    "Section": ("section", {"object"}),
}
REQUIRED_FORMAT = {"money": "money", "percent": "percent", "date": "date", "datetime": "date-time",
                   "phone": "phone-cn", "id-card": "id-card-cn"}
RESERVED = {"row", "initiator", "ds"}
ROW_ID = "id"


@dataclass(frozen=True)
class Problem:
    path: str
    message: str


class FormSchemaError(ValueError):
    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(f"{p.path}: {p.message}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Reaction:
    path: tuple[str, ...]       # field path; "*" marks "each row" of a sub-table
    kind: str                   # "visible" | "value"
    program: Any
    source: str
    otherwise_visible: bool = True
    when_visible: bool = True


@dataclass(frozen=True)
class FieldError:
    path: str                   # Formily-style dotted path: items.2.qty
    pointer: str                # JSON pointer: /items/2/qty
    rule: str                   # the JSON Schema keyword or "expression"
    message: str


@dataclass
class CompiledForm:
    schema: dict[str, Any]
    validator: Draft202012Validator
    reactions: list[Reaction] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)   # dotted path -> field type


def _walk(node: dict[str, Any], path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    for name, child in (node.get("properties") or {}).items():
        if isinstance(child, dict):
            yield path + (name,), child
            yield from _walk(child, path + (name,))
            items = child.get("items")
            if isinstance(items, dict):
                yield from _walk(items, path + (name, "*"))


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(path)


def compile_form(schema: Any) -> CompiledForm:
    """Check a schema completely and compile its expressions; every problem is named."""
    if not isinstance(schema, dict):
        raise FormSchemaError([Problem("$", "a form schema is a JSON object")])
    problems: list[Problem] = []
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = _dotted(tuple(str(p) for p in exc.path)) or "$"
        problems.append(Problem(where, f"invalid JSON Schema: {exc.message}"))
        raise FormSchemaError(problems) from None
    if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
        raise FormSchemaError([Problem("$", 'the root of a form must be {"type": "object", "properties": {...}}')])
    compiled = CompiledForm(schema=schema, validator=Draft202012Validator(schema, format_checker=format_checker()))
    top_level = set(schema["properties"])
    opaque: list[tuple[str, ...]] = []  # attachments hold document references, not fields
    for path, node in _walk(schema, ()):
        where = _dotted(path)
        if any(path[:len(o)] == o for o in opaque):
            continue
        component = node.get("x-component")
        if component == "Attachment":
            opaque.append(path)
        if component is None:
            if path[-1] != "*":
                problems.append(Problem(where, "every field needs an x-component"))
            continue
        if component not in COMPONENTS:
            known = ", ".join(sorted(COMPONENTS))
            problems.append(Problem(where, f"unknown x-component {component!r}; one of {known}"))
            continue
        kind, json_types = COMPONENTS[component]
        compiled.fields[where] = kind
        declared = node.get("type")
        if declared not in json_types:
            allowed = " or ".join(sorted(json_types))
            problems.append(Problem(where, f"{component} needs type {allowed}, not {declared!r}"))
        wanted = REQUIRED_FORMAT.get(kind)
        if wanted and node.get("format") not in (wanted, None) and declared == "string":
            problems.append(Problem(where, f"{component} uses format {wanted!r}"))
        if node.get("format") and node["format"] not in FORMATS and node["format"] not in (
                "date", "date-time", "email", "uri", "time"):
            problems.append(Problem(where, f"unknown format {node['format']!r}"))
        if kind == "sub-table":
            items = node.get("items") or {}
            if items.get("type") != "object" or ROW_ID not in (items.get("properties") or {}) \
                    or ROW_ID not in (items.get("required") or []):
                problems.append(Problem(where, "sub-table rows must be objects with a required 'id' property "
                                               "(rows are matched by id, never by position)"))
        if kind == "section":
            props = node.get("x-component-props") or {}
            if not props.get("title"):
                problems.append(Problem(where, "a Section needs x-component-props.title"))
        for i, reaction in enumerate(node.get("x-reactions") or []):
            problems += _compile_reaction(compiled, path, i, reaction, top_level)
    if problems:
        raise FormSchemaError(problems)
    return compiled


def _compile_reaction(compiled: CompiledForm, path: tuple[str, ...], index: int, reaction: Any,
                      top_level: set[str]) -> list[Problem]:
    where = f"{_dotted(path)}.x-reactions[{index}]"
    if not isinstance(reaction, dict) or not isinstance(reaction.get("fulfill"), dict):
        return [Problem(where, "a reaction is {\"when\"?: CEL, \"fulfill\": {...}}")]
    fulfill = reaction["fulfill"]
    if "value" in fulfill:
        source, kind = fulfill["value"], "value"
    elif isinstance(fulfill.get("state"), dict) and "visible" in fulfill["state"] and "when" in reaction:
        source, kind = reaction["when"], "visible"
    else:
        return [Problem(where, "fulfill must set a value, or state.visible with a when condition")]
    if not isinstance(source, str) or not source.strip():
        return [Problem(where, "the expression must be a non-empty CEL string")]
    try:
        program = cel.compile(source)
    except (ValueError, RuntimeError) as exc:
        return [Problem(where, f"CEL does not compile: {str(exc).splitlines()[0]}")]
    unknown = sorted(v for v in _roots(program) if v not in top_level and v not in RESERVED)
    if unknown:
        return [Problem(where, f"CEL refers to unknown fields: {', '.join(unknown)}")]
    if "row" in _roots(program) and "*" not in path:
        return [Problem(where, "'row' is only defined inside sub-table rows")]
    otherwise = (reaction.get("otherwise") or {}).get("state", {}).get("visible", not fulfill.get("state", {}).get(
        "visible", True)) if kind == "visible" else True
    compiled.reactions.append(Reaction(path, kind, program, source, otherwise_visible=bool(otherwise),
                                       when_visible=bool(fulfill.get("state", {}).get("visible", True))))
    return []


_COMPREHENSION = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,")


def _roots(program: Any) -> set[str]:
    bound = set(_COMPREHENSION.findall(program.source() if callable(program.source) else program.source))
    return {str(n).split(".")[0] for n in program.variables()} - bound


# -- evaluation and validation ---------------------------------------------------------------
def _get(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _targets(data: dict[str, Any], path: tuple[str, ...]) -> Iterator[tuple[dict[str, Any], str, tuple[str, ...], Any]]:
    """(parent object, key, concrete path, row) for every place a field path points at."""
    if "*" not in path:
        parent = _get(data, path[:-1]) if len(path) > 1 else data
        if isinstance(parent, dict):
            yield parent, path[-1], path, None
        return
    star = path.index("*")
    rows = _get(data, path[:star])
    for i, row in enumerate(rows if isinstance(rows, list) else []):
        if isinstance(row, dict):
            rest = path[star + 1:]
            parent = _get(row, rest[:-1]) if len(rest) > 1 else row
            if isinstance(parent, dict):
                yield parent, rest[-1], path[:star] + (str(i),) + rest, row


def _plain(value: Any) -> Any:
    """CEL results as JSON values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass
class Evaluation:
    data: dict[str, Any]
    hidden: set[tuple[str, ...]]
    errors: list[FieldError]


def evaluate(compiled: CompiledForm, data: dict[str, Any], context: dict[str, Any] | None = None) -> Evaluation:
    """Apply computed values (in schema order) and show/hide rules server-side."""
    import copy

    data = copy.deepcopy(data)
    context = context or {}
    hidden: set[tuple[str, ...]] = set()
    errors: list[FieldError] = []
    for reaction in compiled.reactions:
        for parent, key, concrete, row in list(_targets(data, reaction.path)):
            activation = {**data, "initiator": context.get("initiator", {}), "ds": context.get("ds", {})}
            if row is not None:
                activation["row"] = row
            try:
                result = reaction.program.execute(activation)
            except (RuntimeError, ValueError, TypeError) as exc:
                if reaction.kind == "visible":
                    continue  # a condition over fields not filled in yet leaves the default
                errors.append(FieldError(".".join(concrete), "/" + "/".join(concrete), "expression",
                                         f"computed value failed: {str(exc).splitlines()[0]}"))
                continue
            if reaction.kind == "value":
                parent[key] = _plain(result)
            else:
                visible = reaction.when_visible if result is True else reaction.otherwise_visible
                if not visible:
                    hidden.add(concrete)
                    parent.pop(key, None)  # hidden fields carry no value
    return Evaluation(data, hidden, errors)


def validate(compiled: CompiledForm, data: Any, context: dict[str, Any] | None = None
             ) -> tuple[dict[str, Any], list[FieldError]]:
    """Validate a submission; returns the data with computed values applied and hidden fields
    removed, and every error with its field path and the rule it broke."""
    if not isinstance(data, dict):
        return {}, [FieldError("", "", "type", "form data must be a JSON object")]
    evaluation = evaluate(compiled, data, context)
    errors = list(evaluation.errors)
    for error in compiled.validator.iter_errors(evaluation.data):
        path = tuple(str(p) for p in error.absolute_path)
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            path = path + (missing,)
            if path in evaluation.hidden:
                continue  # a hidden field is not required
        errors.append(FieldError(".".join(path), "/" + "/".join(path), str(error.validator), error.message))
    errors.sort(key=lambda e: e.pointer)
    return evaluation.data, errors
