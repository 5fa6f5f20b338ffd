"""Our own RL algorithms (IQN): networks, losses, replay and schedules; no I/O, no processes."""
