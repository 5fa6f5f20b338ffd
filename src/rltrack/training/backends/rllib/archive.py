"""RLlib checkpoints as single files: ``Algorithm.save_to_path`` writes a directory (learner
state, optimizer, env runner connectors, the pickled config); rltrack packs it into one zip file,
so that the checkpoint's record (path, sha256, size) describes one file a user can verify and
copy, and unpacks it into a temporary directory to load it.

The archive holds the directory's files under their relative paths, in sorted order;
:func:`unpacked` refuses members that would land outside the directory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Where save_to_path puts the (single-agent) RLModule of the learner.
MODULE_DIR = Path("learner_group", "learner", "rl_module", "default_policy")


class CheckpointError(ValueError):
    """A file that is not an RLlib checkpoint archive of rltrack's."""


def pack(directory: Path, archive: Path) -> None:
    """Write every file under ``directory`` into the zip file ``archive``."""
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for path in files:
            z.write(path, path.relative_to(directory).as_posix())


@contextmanager
def unpacked(archive: str | os.PathLike[str]) -> Iterator[Path]:
    """The checkpoint directory packed in ``archive``, in a temporary directory removed after."""
    tmp = Path(tempfile.mkdtemp(prefix="rltrack-rllib-"))
    try:
        try:
            with zipfile.ZipFile(archive) as z:
                for name in z.namelist():
                    target = (tmp / name).resolve()
                    if not target.is_relative_to(tmp.resolve()):
                        raise CheckpointError(f"{archive}: member {name!r} lies outside it")
                z.extractall(tmp)
        except zipfile.BadZipFile as exc:
            raise CheckpointError(f"{archive} is not a zip file: {exc}") from None
        if not (tmp / "rllib_checkpoint.json").exists():
            raise CheckpointError(f"{archive} holds no RLlib checkpoint (no rllib_checkpoint.json)")
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def saver(algo: Any) -> Callable[[Path], None]:
    """A save function for :class:`~rltrack.training.checkpoints.CheckpointManager`: the
    algorithm's state saved to a directory beside ``path``, packed into ``path``, removed."""

    def save(path: Path) -> None:
        work = Path(tempfile.mkdtemp(prefix=".rllib-", dir=path.parent))
        try:
            algo.save_to_path(str(work))
            pack(work, path)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    return save


def restore(algo: Any, archive: str | os.PathLike[str]) -> None:
    """Load a checkpoint archive's state into the built algorithm (``--resume``)."""
    with unpacked(archive) as directory:
        algo.restore_from_path(str(directory))


def load_module(archive: str | os.PathLike[str]) -> Any:
    """The learner's RLModule from a checkpoint archive, on the CPU, in evaluation mode."""
    from ray.rllib.core.rl_module.rl_module import RLModule

    from rltrack.training.backends.rllib.cluster import quiet_ray

    quiet_ray()
    with unpacked(archive) as directory:
        module_dir = directory / MODULE_DIR
        if not module_dir.is_dir():
            raise CheckpointError(f"{archive} holds no single-agent RLModule ({MODULE_DIR})")
        module = RLModule.from_checkpoint(str(module_dir))
    module.eval()  # type: ignore[attr-defined]  # a torch module
    return module
