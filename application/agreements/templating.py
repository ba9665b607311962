"""Section bodies are Jinja templates run in Jinja's sandbox: designers write ``{{ basic.tenant_name_cn }}``
with the form's field paths, ``{% if %}`` and ``{% for row in rates.fee_items %}``; the sandbox refuses
attribute tricks (``__class__``), and no globals are offered (no ``range``: loops run over form data
only, which the request size bounds). A variable the form lacks is refused at generation
(StrictUndefined), never printed as an empty string into a contract; ``is defined`` tests stay free
for optional fields."""
from __future__ import annotations

import functools
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from domain.shared.errors import RuleViolationError

# The generator's own values, beside the form's fields: ``{{ agreement.number }}`` and friends.
RESERVED = "agreement"
RESERVED_FIELDS = frozenset({"number", "title", "template", "language"})
MAX_OUTPUT = 50_000


class MissingVariableError(RuleViolationError):
    code = "agreement_variable_missing"


class TemplateRenderError(RuleViolationError):
    code = "agreement_template_error"


MAX_VALUE = 100_000  # characters of a repeated string or list; digits of a power


class BoundedSandbox(SandboxedEnvironment):
    """Jinja's sandbox bounds attribute access, not the size of values: ``{{ 'a' * 10**10 }}`` or
    ``{{ 7 ** 99999999 }}`` would exhaust the process the scheduler renders in. Products and powers
    are checked before they are computed."""
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0 \
                    and right * max(abs(left), 2).bit_length() > MAX_VALUE * 4:
                raise SecurityError("a power too large for an agreement")
            return left ** right
        sized = [v for v in (left, right) if isinstance(v, (str, list, tuple))]
        counts = [v for v in (left, right) if isinstance(v, int) and not isinstance(v, bool)]
        if sized and counts and len(sized[0]) * max(counts[0], 0) > MAX_VALUE:
            raise SecurityError("a repetition too long for an agreement")
        return left * right


def _environment() -> SandboxedEnvironment:
    env = BoundedSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.globals.clear()
    return env


ENV = _environment()


@functools.lru_cache(maxsize=512)
def _parse(body: str) -> nodes.Template:
    return ENV.parse(body)


def syntax_problem(body: str) -> str | None:
    try:
        _parse(body)
    except TemplateSyntaxError as exc:
        return f"line {exc.lineno}: {exc.message}"
    return None


def _path(node: nodes.Node) -> str | None:
    """``basic.tenant_name_cn`` for ``basic.tenant_name_cn`` or ``basic['tenant_name_cn']``; None otherwise."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        inner = _path(node.node)
        return f"{inner}.{node.attr}" if inner else None
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        inner = _path(node.node)
        return f"{inner}.{node.arg.value}" if inner else None
    return None


def referenced_paths(body: str) -> set[str]:
    """The form paths a body reads (local loop and ``set`` names excluded), outermost chains only."""
    tree = _parse(body)
    free = meta.find_undeclared_variables(tree)
    paths: set[str] = set()
    inner: set[int] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        if id(node) in inner:
            continue
        path = _path(node)
        if path is None or path.split(".")[0] not in free:
            continue
        paths.add(path)
        child = getattr(node, "node", None)
        while child is not None:   # the chain's inner links are not paths of their own
            inner.add(id(child))
            child = getattr(child, "node", None)
    return paths


def reserved_problem(path: str) -> str | None:
    parts = path.split(".")
    if parts[0] != RESERVED:
        return None
    if len(parts) == 2 and parts[1] in RESERVED_FIELDS:
        return None
    return f"{path!r}: the generator offers {', '.join(f'{RESERVED}.{f}' for f in sorted(RESERVED_FIELDS))}"


def render(body: str, variables: dict[str, Any], where: str) -> str:
    try:
        text = ENV.from_string(_parse(body)).render(variables)
    except UndefinedError as exc:
        raise MissingVariableError(f"section {where}: the form has no value for a variable the template uses "
                                   f"({exc.message})", field=where) from None
    except SecurityError as exc:
        raise TemplateRenderError(f"section {where}: refused by the template sandbox ({exc})", field=where) from None
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise TemplateRenderError(f"section {where}: {type(exc).__name__}: {exc}", field=where) from None
    if len(text) > MAX_OUTPUT:
        raise TemplateRenderError(f"section {where} renders to more than {MAX_OUTPUT} characters", field=where)
    return text.strip()
