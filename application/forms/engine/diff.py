"""Moved to domain/forms/diff.py (a pure rule). Kept only for the flows files that still import
it from here (application/flows/instances.py, projections/flows/instances.py,
interfaces/api/routes/flow_instances.py, owned by the flow-engine work): delete once they import
``domain.forms.diff``."""
from domain.forms.diff import apply_patch, diff, make_patch, patch_with_old_values

__all__ = ["apply_patch", "diff", "make_patch", "patch_with_old_values"]
