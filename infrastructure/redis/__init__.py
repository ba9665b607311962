"""Redis holds derived state only: everything here can be rebuilt from the event store."""
