"""What the flows context uses of the forms context (application/forms/service.py), as a port:
the published form of a business type, its compiled schema and validation, and data sources for
branch conditions. The composition root gives the FormsApplication."""
from __future__ import annotations

from typing import Any, Protocol

from application.forms.engine.schema import CompiledForm
from domain.forms.business_type import BusinessType


class Forms(Protocol):
    def current_business_type(self, code: str) -> BusinessType: ...

    def compiled(self, code: str, number: int, subject: str) -> CompiledForm: ...

    def check_submission(self, code: str, number: int, subject: str, data: Any,
                         context: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[dict[str, str]]]: ...

    def query_data_source(self, key: str, params: dict[str, Any]) -> dict[str, Any]: ...
