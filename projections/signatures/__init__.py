"""Signatures: the signing requests read model (staff list)."""
