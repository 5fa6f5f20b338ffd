"""The actors and learners of a run, as processes or serially in the main process.

Both kinds answer the same calls, so the backend's loop is one piece of code:
:meth:`poll` returns the messages the children sent (process mode waits up to ``timeout``
for them; serial mode first steps every actor once and every learner as often as the update
ratio says), :meth:`control` sends a learner a request, :meth:`lost` names the children that
died without saying goodbye, :meth:`shutdown` ends them all.

Process mode uses the ``spawn`` start method. Every child holds only its own ends of its
pipes (the main process closes its copies once the children started), so when a child dies
the main process reads EOF on that child's pipe at once; a process's exit code (``-9`` for a
SIGKILL) is then part of the error. Children ignore SIGINT and SIGTERM (the main process owns
shutdown) and end when the main process is gone (their pipes break, and they check
``parent_process().is_alive()`` twice a second); stragglers at shutdown get SIGKILL.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.context import SpawnContext, SpawnProcess
from typing import Any, Protocol

from rltrack.training.backends.actor_learner.actor import (
    Actor,
    ActorLinks,
    ActorSpec,
    run_actor_process,
)
from rltrack.training.backends.actor_learner.channels import (
    Reader,
    Writer,
    drain_reader,
    local_pipe,
    process_pipe,
    ready,
)
from rltrack.training.backends.actor_learner.learner import (
    Learner,
    LearnerLinks,
    LearnerSpec,
    run_learner_process,
)
from rltrack.training.backends.actor_learner.messages import (
    ActorFinished,
    ControlMessage,
    Exit,
    Message,
)
from rltrack.training.backends.actor_learner.shared import HARD_STOP, AgentShared, RunFlags


@dataclass
class Plan:
    """What a run's children are: built by the backend, started by a Workers."""

    actors: list[ActorSpec]
    learners: list[LearnerSpec]
    shared: list[AgentShared]  # per agent
    flags: RunFlags
    agent_ids: list[str | None]


class Workers(Protocol):
    def poll(self, timeout: float) -> list[Message]: ...

    def control(self, agent: int, message: ControlMessage) -> None: ...

    def lost(self) -> list[str]: ...

    def abandon(self, actor_ids: set[int]) -> None: ...

    def shutdown(self, timeout: float) -> None: ...

    def pids(self) -> dict[str, Any]: ...


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """Children inherit an ignored SIGINT/SIGTERM through exec, so a Ctrl-C that reaches the
    whole process group cannot kill one while it is still importing (before it could ignore
    the signal itself). Only the main thread may change handlers; elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def describe_exit(code: int | None) -> str:
    if code is None:
        return "is still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name} (exit code {code})"
    return f"exited with code {code}"


@dataclass
class _Child:
    role: str  # "actor" or "learner"
    ident: int  # actor id, or agent index
    agent: int
    process: SpawnProcess
    reader: Reader  # what it sends to the main process
    done: bool = False  # it said goodbye (ActorFinished) or was told to exit (Exit)
    eof: bool = False

    def name(self, agent_ids: list[str | None]) -> str:
        agent = agent_ids[self.agent] or f"agent-{self.agent}"
        if self.role == "actor":
            return f"actor {self.ident} of {agent} (pid {self.process.pid})"
        return f"learner of {agent} (pid {self.process.pid})"


class ProcessWorkers:
    def __init__(self, ctx: SpawnContext, plan: Plan) -> None:
        self.plan = plan
        self.children: list[_Child] = []
        self.controls: dict[int, Writer] = {}
        self._abandoned: set[int] = set()
        child_ends: list[Any] = []
        to_learner: dict[int, list[Reader]] = {i: [] for i in range(len(plan.learners))}
        actor_links: list[tuple[ActorSpec, ActorLinks, Reader]] = []
        for spec in plan.actors:
            main_r, actor_w = process_pipe(ctx)
            learner_r, learner_w = process_pipe(ctx)
            shared = plan.shared[spec.agent]
            links = ActorLinks(shared.model, shared.versions, plan.flags, learner_w, actor_w)
            actor_links.append((spec, links, main_r))
            to_learner[spec.agent].append(learner_r)
            child_ends += [actor_w, learner_r, learner_w]
        for lspec in plan.learners:
            main_r, learner_w = process_pipe(ctx)
            control_r, control_w = process_pipe(ctx)
            shared = plan.shared[lspec.agent]
            links_l = LearnerLinks(
                shared.model, shared.versions, to_learner[lspec.agent], control_r, learner_w
            )
            process = ctx.Process(
                target=run_learner_process, args=(lspec, links_l), daemon=True,
                name=f"rltrack-learner-{lspec.agent}",
            )  # fmt: skip
            self.children.append(_Child("learner", lspec.agent, lspec.agent, process, main_r))
            self.controls[lspec.agent] = control_w
            child_ends += [learner_w, control_r]
        for aspec, links, actor_r in actor_links:
            process = ctx.Process(
                target=run_actor_process, args=(aspec, links), daemon=True,
                name=f"rltrack-actor-{aspec.actor_id}",
            )  # fmt: skip
            self.children.append(_Child("actor", aspec.actor_id, aspec.agent, process, actor_r))
        try:
            with _signals_ignored():
                for child in self.children:
                    child.process.start()
        except BaseException:
            for child in self.children:
                if child.process.pid is not None:
                    child.process.kill()
            raise
        finally:
            # Only the children hold their ends now: a child's death closes them.
            for end in child_ends:
                end.close()

    def pids(self) -> dict[str, Any]:
        return {
            "actors": [
                {"actor_id": c.ident, "agent": c.agent, "pid": c.process.pid}
                for c in self.children
                if c.role == "actor"
            ],
            "learners": [
                {"agent": c.agent, "pid": c.process.pid}
                for c in self.children
                if c.role == "learner"
            ],
        }

    def poll(self, timeout: float) -> list[Message]:
        open_children = {id(c.reader): c for c in self.children if not c.eof}
        out: list[Message] = []
        for reader in ready([c.reader for c in open_children.values()], timeout):
            child = open_children[id(reader)]
            messages, closed = drain_reader(reader, 256)
            for message in messages:
                if isinstance(message, ActorFinished):
                    child.done = True
            out.extend(messages)
            if closed:
                child.eof = True
        return out

    def control(self, agent: int, message: ControlMessage) -> None:
        with contextlib.suppress(OSError, ValueError):  # a learner that is gone: see lost()
            self.controls[agent].send(message)
        if isinstance(message, Exit):
            for child in self.children:
                if child.role == "learner" and child.agent == agent:
                    child.done = True

    def lost(self) -> list[str]:
        """The children that ended (or closed their pipe) without being done, with how."""
        out = []
        for child in self.children:
            if child.done or (child.role == "actor" and child.ident in self._abandoned):
                continue
            exited = child.process.exitcode is not None
            if child.eof and not exited:
                child.process.join(1.0)  # its pipe closed: it is exiting; get the code
                exited = child.process.exitcode is not None
            if child.eof or exited:
                how = describe_exit(child.process.exitcode)
                out.append(f"{child.name(self.plan.agent_ids)} {how}")
        return out

    def abandon(self, actor_ids: set[int]) -> None:
        """Kill actors that did not finish in time; their episodes are closed by the caller."""
        self._abandoned |= actor_ids
        for child in self.children:
            if child.role == "actor" and child.ident in actor_ids and child.process.is_alive():
                child.process.kill()

    def shutdown(self, timeout: float) -> None:
        self.plan.flags.set(HARD_STOP)
        for agent in self.controls:
            self.control(agent, Exit())
        deadline = time.monotonic() + timeout
        # Keep reading while they exit, so that none is stuck writing to a full pipe.
        while time.monotonic() < deadline and any(c.process.is_alive() for c in self.children):
            self.poll(0.05)
        for child in self.children:
            if child.process.is_alive():
                child.process.kill()
        for child in self.children:
            child.process.join(2.0)
            child.reader.close()
        for writer in self.controls.values():
            writer.close()


class SerialWorkers:
    """The same Actor and Learner classes, stepped in turn in the main process."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.learners: list[Learner] = []
        self.actors: list[Actor] = []
        self.controls: dict[int, Writer] = {}
        self._main_readers: list[Reader] = []
        self._credit = [0.0] * len(plan.learners)
        to_learner: dict[int, list[Reader]] = {i: [] for i in range(len(plan.learners))}
        actor_parts = []
        for spec in plan.actors:
            main_r, actor_w = local_pipe()
            learner_r, learner_w = local_pipe()
            shared = plan.shared[spec.agent]
            links = ActorLinks(shared.model, shared.versions, plan.flags, learner_w, actor_w)
            actor_parts.append((spec, links))
            to_learner[spec.agent].append(learner_r)
            self._main_readers.append(main_r)
        for lspec in plan.learners:
            main_r, learner_w = local_pipe()
            control_r, control_w = local_pipe()
            shared = plan.shared[lspec.agent]
            links_l = LearnerLinks(
                shared.model, shared.versions, to_learner[lspec.agent], control_r, learner_w
            )
            self.learners.append(Learner(lspec, links_l))
            self.controls[lspec.agent] = control_w
            self._main_readers.append(main_r)
        plan.flags.start()
        for spec, links in actor_parts:
            actor = Actor(spec, links)
            actor.paced = False  # poll() steps the learners as the replay ratio says
            actor.start()
            self.actors.append(actor)

    def pids(self) -> dict[str, Any]:
        return {"actors": [], "learners": [], "serial": True}

    def poll(self, timeout: float) -> list[Message]:
        for actor in self.actors:
            if actor.finished:
                continue
            before = actor.training_steps
            if not actor.step():
                actor.end_training()
                if self.plan.flags.state != HARD_STOP:
                    actor.drain()
                actor.finish()
            self._credit[actor.spec.agent] += (
                actor.training_steps - before
            ) / actor.spec.iqn.env_steps_per_update
        for agent, learner in enumerate(self.learners):
            updates = int(self._credit[agent])
            self._credit[agent] -= updates
            learner.poll(updates)
        out: list[Message] = []
        for reader in self._main_readers:
            messages, _closed = drain_reader(reader, 1 << 30)
            out.extend(messages)
        return out

    def control(self, agent: int, message: ControlMessage) -> None:
        self.controls[agent].send(message)
        if not isinstance(message, Exit):
            self.learners[agent].poll(0)  # answer now: there is no other thread to do it

    def lost(self) -> list[str]:
        return []

    def abandon(self, actor_ids: set[int]) -> None:
        for actor in self.actors:
            if actor.spec.actor_id in actor_ids:
                actor.finished = True

    def shutdown(self, timeout: float) -> None:
        self.plan.flags.set(HARD_STOP)
        for actor in self.actors:
            actor.close()
