"""The event store: eventsourcing's PostgreSQL recorder with group commit and a hash chain."""
