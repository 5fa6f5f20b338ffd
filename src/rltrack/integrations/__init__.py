"""rltrack inside training code of your own: :mod:`.gymnasium` (any env or vector env) and
:mod:`.sb3` (a Stable-Baselines3 callback). Each records into a :class:`rltrack.Run`, whose one
episode bookkeeping gives every episode its index in start order across all of them."""
