"""Signatures: a tenant e-signs an archived agreement through a one-time link; the firm seals it (PAdES)."""
