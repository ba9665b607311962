"""Anchors of the audit chain: append-only places outside the events table (ADR 0027)."""
