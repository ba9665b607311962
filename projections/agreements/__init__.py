"""Read models of the agreements context."""
