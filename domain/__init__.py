"""Domain layer: aggregates, events and pure rules. Imports nothing but the standard
library, pydantic and eventsourcing.domain (see ../shared/guide/architecture.md)."""
