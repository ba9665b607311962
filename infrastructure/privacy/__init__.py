"""Privacy adapters: subject keys in PostgreSQL, wrapped under a master key (ADR 0028)."""
