"""The actor-learner backend (``--backend actor-learner``, the default for ``--algo iqn``).

Processes (``spawn`` start method)::

    main process ─── the only one that talks to the tracker (EventSink)
      │   ▲ ActorReport (episodes, steps), TrainingDone, ActorFinished      one pipe per actor
      │   ▲ LearnerMetrics, LearnerProbe, CheckpointWritten                 one pipe per learner
      │   ▼ SaveCheckpoint, StopLearning, Exit                              one pipe per learner
      │
      ├── learner of agent k ── IQNLearner on --device; its ReplayBuffer; publishes to ──┐
      │        ▲ TransitionBatch (one pipe per actor)                                     │
      └── actors of agent k ── CPU IQNPolicy, pulled from the shared model when its ◄──┘
                                version changed; epsilon read from shared memory

Files: :mod:`.shared` (shared model, epsilon, stop flag), :mod:`.actor`, :mod:`.learner`,
:mod:`.ledger` (episode indices and events), :mod:`.workers` (processes, or the serial mode),
:mod:`.channels` (pipes), :mod:`.messages`, :mod:`.backend` (the main process's loop).

Choices, and why:

* **Replay travels to the learner through pipes, not shared memory.** Each learner owns its
  :class:`~rltrack.agents.iqn.ReplayBuffer` and is its only writer, so the buffer needs no
  lock and a sample can never read a half-written row. Actors send n-step transitions in
  stacked batches of 64 (a few numpy arrays pickle fast). A pipe per actor rather than one
  ``multiprocessing.Queue``: a queue's feeder thread can hang a process at exit and a message
  cut short by a killed writer can block its reader forever; a pipe whose writer died reads
  EOF, which is also how a dead actor is noticed. The pipe's buffer is the backpressure.
* **The shared model** (:class:`.shared.SharedModel`) holds the local and the target network
  in shared memory with a version counter; the learner publishes both under a lock every
  ``publish_interval`` learner steps (and once more when learning stops), actors copy the
  local network under the same lock only when the version changed. Locks are taken with a
  timeout, so a process killed while holding one cannot hang the others.
* **Epsilon** follows :class:`~rltrack.agents.iqn.EpsilonSchedule` of the learner step; the
  learner writes it to shared memory every ``epsilon_decay_freq`` steps and the actors read it
  before every step. Each episode records the epsilon it ended with.
* **Steps and episodes.** ``total_timesteps`` counts the env steps of the whole run; it is
  split evenly between agents and then between each agent's actors, and each actor takes
  exactly its share, so the run's timesteps equal ``total_timesteps``. ``num_envs`` is the
  number of envs *per actor*; actor ``a``'s env ``j`` is the run's env slot
  ``a * num_envs + j``. Episode indices are handed out by the main process in the order the
  starts reach it, from one counter for all actors and agents. The per-step trace is kept
  for every ``trace_every``-th episode *of each actor* (an actor does not know an episode's
  global index while it runs).
* **Stop and drain** work like the other backends: the first Ctrl-C / SIGTERM sets the stop
  flag; learners stop updating, actors stop training and step their episodes in flight to
  their end (``drain_max_steps``, ``drain_timeout``), then report. An actor that does not
  finish its drain in time is killed and its episodes closed as truncated. A second Ctrl-C
  skips the drain. The final checkpoint is written in every case but a failure.
* **A dead child fails the run.** When an actor or a learner dies (its pipe reads EOF or its
  exit code is set without it having finished), the run fails with an error naming it, its
  pid and how it died (e.g. ``actor 1 of agent-0 (pid 4242) was killed by SIGKILL``); every
  episode in flight is closed with status ``error`` and the other children are stopped
  (SIGKILL after a timeout). Restarting was not chosen: a killed actor may die holding the
  model lock or mid-message, and a silent restart would hide a crashing env. An actor that
  sends nothing for 180 s is treated as stuck, the same way. Every wait in the main process has
  a timeout; children exit when the main process is gone.
* **Several agents** (``--agents N``) are independent: each has its shared model, its learner
  (the only writer of that model), its actors (``num_actors`` each) and its checkpoints (in
  ``checkpoints/<agent_id>/``). Agents are named ``{agent_id or 'agent'}-{k}``; their
  episodes carry that ``agent_id``, and their metrics are prefixed with it
  (``agent-1/learner/epsilon``) — every agent's, the first's too, so the same metric of two
  agents sits side by side under names that differ only in the agent. One agent keeps the
  plain names (``learner/epsilon``) and the configured ``agent_id``.
* **Serial mode** (``--num-actors 0``) runs one :class:`.actor.Actor` and the
  :class:`.learner.Learner` of each agent in the main process, stepped in turn by
  :class:`.workers.SerialWorkers` (one learner update per ``env_steps_per_update`` env
  steps), through in-memory channels: the same classes and messages, no processes.
* **Replay ratio.** Actor processes keep to ``env_steps_per_update`` too: each counts its
  training steps in shared memory, the learner its updates, and an actor waits (after the
  first ``learning_starts`` steps, plus until the learner's first update the n - 1 steps each
  env's n-step accumulator holds back) while its agent's actors are further ahead than that,
  having sent the learner what it holds. Unpaced, two actors outran the learner some thirtyfold
  on a 2-core machine and the run ended barely trained.
* **On CUDA** the learner replays each update from a captured CUDA graph after three eager ones
  (``IQNLearner.learn``): ~0.4 ms instead of ~4 ms per update at CartPole's sizes on an H100.
* **Checkpoints** are written by the learner (``IQNLearner.checkpoint()``, with optimizer state
  and training step) when the main process asks, on the schedule of
  ``checkpoint_every_steps`` / ``checkpoint_every_episodes``, keeping the last
  ``keep_checkpoints`` periodic ones, plus ``best`` and ``final``. ``--resume`` continues a
  one-agent run from its checkpoint (weights, optimizer, training step, so epsilon goes on
  where it was); runs of several agents cannot be resumed yet.
* **Held-out evaluation** (``--eval-range``, the trading env): once training ends (not after a
  stop), each agent's ``final`` and ``best`` checkpoints are played greedily on the held-out
  range in the main process, beside buy-and-hold and random, as with the sb3 backend.

Learner metrics (about twice a second, and when learning stops): ``losses/quantile_loss``,
``learner/epsilon``, ``learner/grad_norm`` (before clipping), ``learner/grad_norm_clipped``,
``learner/q_mean`` (means since the previous report), ``learner/weights_version``,
``learner/updates_per_s``, ``learner/actor_lag_versions`` (newest published version minus
the oldest version an actor acts with), ``learner/training_step``, ``learner/replay_size``.
The main process adds ``rollout/ep_rew_mean`` and ``time/fps`` once a second. The pids of
the children are written to ``processes.json`` in the run folder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rltrack.training.backends.actor_learner.backend import (
        ActorLearnerBackend,
        ActorLearnerError,
    )

__all__ = ["ActorLearnerBackend", "ActorLearnerError"]


def __getattr__(name: str) -> Any:
    # Lazily: the child processes import this package too, and need none of the backend's
    # imports (the main process's loop, evaluation helpers, pandas).
    if name in __all__:
        from rltrack.training.backends.actor_learner import backend

        return getattr(backend, name)
    raise AttributeError(name)
