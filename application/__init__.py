"""Use cases: one Application class per bounded context; commands in, events saved."""
