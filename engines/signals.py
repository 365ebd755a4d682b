"""Signal receivers: one line each, enqueueing a task on commit (none are connected yet)."""
