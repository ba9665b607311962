"""The form engine: JSON Schema 2020-12 validation with custom formats, CEL computed fields and
show/hide rules, and diffs between submissions. Pure computation (no I/O)."""
