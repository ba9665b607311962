"""Use cases of the agreements context (ADR 0021)."""
