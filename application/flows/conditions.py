"""Branch conditions (CEL): checked when a flow is published, evaluated when a gateway is reached.
A condition may read data sources (``ds.<key>``, 分支节点可动态判断走向：SQL取值); the rows it saw
are returned so that the branch decision records them (ADR 0008: replay never asks again)."""
from __future__ import annotations

import re
from typing import Any

import cel

from application.flows.forms_port import Forms
from domain.shared.errors import DomainError

MACRO = re.compile(r"\.\s*(all|exists_one|exists|map|filter)\s*\(")
MAX_MACRO_NESTING, MAX_MACROS = 2, 8
DS_REF = re.compile(r"\bds\.([a-z][a-z0-9_]*)")


def _macro_nesting(source: str) -> tuple[int, int]:
    """(deepest nesting of comprehension macros, how many there are): the CEL library has no AST
    API, so parentheses are followed by hand (string literals skipped)."""
    stack: list[bool] = []
    deepest = count = i = 0
    while i < len(source):
        ch = source[i]
        if ch in "'\"":
            end = source.find(ch, i + 1)
            while end > 0 and source[end - 1] == "\\":
                end = source.find(ch, end + 1)
            i = len(source) if end < 0 else end + 1
            continue
        match = MACRO.match(source, i) if ch == "." else None
        if match:
            stack.append(True)
            count += 1
            deepest = max(deepest, sum(stack))
            i = match.end()
            continue
        if ch == "(":
            stack.append(False)
        elif ch == ")" and stack:
            stack.pop()
        i += 1
    return deepest, count


def compile_condition(source: str) -> str | None:
    deepest, count = _macro_nesting(source)
    if deepest > MAX_MACRO_NESTING or count > MAX_MACROS:
        # Nested comprehensions multiply: 4 levels over 60-element lists took seconds of CPU.
        return (f"at most {MAX_MACRO_NESTING} nested and {MAX_MACROS} comprehensions "
                "(all, exists, exists_one, map, filter) per condition")
    try:
        cel.compile(source)
        return None
    except (ValueError, RuntimeError) as exc:
        return str(exc).splitlines()[0]


def _plain(value: Any) -> Any:
    """Values CEL can take: UUIDs, dates and decimals as strings."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


class Conditions:
    forms: Forms  # the forms context: data sources

    def evaluate(self, condition: str, activation: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        """Evaluate a branch condition. Data sources it names (``ds.<key>``) are queried with the
        parameters of the same names from the activation."""
        used: dict[str, Any] = {}
        for key in dict.fromkeys(DS_REF.findall(condition)):
            params = {k: v for k, v in activation.items() if isinstance(v, (str, int, float, bool))}
            try:
                used[key] = _plain(self.forms.query_data_source(key, params)["rows"])
            except DomainError as exc:
                used[key] = {"error": exc.message}
        try:
            holds = cel.evaluate(condition, {**_plain(activation), "ds": used}) is True
        except Exception as exc:  # ValueError, TypeError, ZeroDivisionError, OverflowError...
            # A condition over missing or mistyped values, or that divides by zero or overflows,
            # does not hold; the branch decision records why.
            holds = False
            used = {**used, "condition_error": f"{type(exc).__name__}: {str(exc)[:200]}"}
        return holds, used
