"""The estimators behind one interface, one fold of a task, settings chosen on validation."""
