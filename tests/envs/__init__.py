"""Tests of rltrack.envs: the trading env, its data loading and its metrics."""
