"""flows: flow definitions (versioned graphs) and flow instances (tasks, transitions, timers)."""
