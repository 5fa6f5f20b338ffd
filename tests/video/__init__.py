"""Tests of rltrack.video: milestone videos with the training context, and `rltrack video`."""
