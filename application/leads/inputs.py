"""Strict boundary models of the leads context: whatever reaches a leads event passed here.

Every free text refuses NUL (PostgreSQL text and jsonb cannot hold it) and lone UTF-16
surrogates (they cannot be encoded, the event would not save); strings are bounded; times are
aware. ``screen`` applies the same check to free-form payloads (intake rows, webhook events)
including their keys, so a bad value is answered 422 / rejected instead of poisoning a read
model that would then retry the event forever."""
from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from domain.leads.lead import OpeningKind
from domain.shared.text import text_problem

MAX_DEPTH = 8


def _clean(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(f"the text {problem}")
    return value


SafeStr = Annotated[str, AfterValidator(_clean)]


def screen(value: Any, path: str = "", depth: int = 0) -> str | None:
    """The first problem in a free-form JSON value (keys and strings, nested), as 'path: why'."""
    if depth > MAX_DEPTH:
        return f"{path or 'value'}: nested too deeply"
    if isinstance(value, str):
        problem = text_problem(value)
        return f"{path or 'value'}: {problem}" if problem else None
    if isinstance(value, dict):
        for key, item in value.items():
            key_text = str(key)
            problem = text_problem(key_text)
            if problem:
                return f"{path or 'value'}: a field name {problem}"
            found = screen(item, f"{path}.{key_text}" if path else key_text, depth + 1)
            if found:
                return found
        return None
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = screen(item, f"{path}[{i}]", depth + 1)
            if found:
                return found
    return None


class ScreenedBody(BaseModel):
    """Base of request bodies: the raw input is screened (NUL, lone surrogates) before the
    fields are validated, so nested domain models and free-form dicts are covered too."""

    @model_validator(mode="before")
    @classmethod
    def _screen(cls, data: Any) -> Any:
        problem = screen(data)
        if problem:
            raise ValueError(problem)
        return data


class BindingRow(BaseModel):
    """One 渠道1.0 binding row."""

    model_config = ConfigDict(extra="ignore")
    phone: Annotated[SafeStr, Field(min_length=1, max_length=32)]
    kind: Literal["account_manager", "ib", "branch"]
    holder: Annotated[SafeStr, Field(min_length=1, max_length=100)]
    department_id: UUID | None = None
    bound_at: AwareDatetime | None = None


class OpeningEvent(BaseModel):
    """One event of the account-opening system (webhook body item or JSON line)."""

    model_config = ConfigDict(extra="ignore")
    business_line: Annotated[SafeStr, Field(min_length=1, max_length=32)]
    phone: Annotated[SafeStr, Field(min_length=1, max_length=32)]
    kind: OpeningKind
    at: AwareDatetime
    node: Annotated[SafeStr, Field(max_length=100)] | None = None
    external_id: Annotated[SafeStr, Field(max_length=100)] | None = None


def first_error(exc: ValidationError) -> str:
    """A pydantic ValidationError as one short message: 'field: why'."""
    e = exc.errors()[0]
    where = ".".join(str(p) for p in e["loc"])
    msg = str(e["msg"]).removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg
