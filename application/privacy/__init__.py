"""Privacy: erasure of a data subject's personal data (ADR 0028)."""
