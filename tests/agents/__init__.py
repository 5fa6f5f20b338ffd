"""Tests of rltrack.agents: IQN's network, loss, learner, n-step returns, replay and policy."""
