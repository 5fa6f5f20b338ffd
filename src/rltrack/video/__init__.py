"""Milestone videos of a run: its checkpoints played with the training context overlaid.

:mod:`.options` (what is asked), :mod:`.context` (the training context from the run's records),
:mod:`.policy` (checkpoints as policies with their numbers), :mod:`.source` (frames from the
env), :mod:`.panel` and :mod:`.compose` (the overlay), :mod:`.encoder` (H.264 through ffmpeg),
:mod:`.segment` (one milestone), :mod:`.chapters` (sidecar, artifact records), :mod:`.make`
(the whole video). See docs/video.md.
"""
