"""The compliance context: anti-money-laundering person screening (人员筛查) — versioned screening
lists (sanctions, PEP, the firm's internal blacklist), the matching rule, and the screenings a
flow records with their compliance review (ADR 0020, docs/compliance.md)."""
