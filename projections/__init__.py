"""Read models (PostgreSQL) and analytics sinks (ClickHouse) built from events."""
