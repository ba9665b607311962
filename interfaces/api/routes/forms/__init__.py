"""forms: business types with versioned forms, validation, data sources, customers, records. One
module per resource."""
from __future__ import annotations

from fastapi import APIRouter

from interfaces.api.routes.forms import business_types, customers, data_sources, records

router = APIRouter()
for module in (business_types, data_sources, customers, records):
    router.include_router(module.router)
