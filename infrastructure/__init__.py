"""Adapters to the engines (PostgreSQL, Redis, ClickHouse), embedded engines and settings."""
