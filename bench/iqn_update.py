"""One IQN learner update at the CartPole preset: milliseconds per update, by device and mode.

Times what the learner process does per update, a replay sample plus
:meth:`IQNLearner.learn` (forward passes, quantile Huber loss, backward, clipping, Adam, the
target copy on its interval, and the one sync that reads the update's four numbers), in
alternating blocks so a slow spell of the machine hits every mode alike:

* ``cpu``: eager PyTorch on the CPU (one thread unless ``--torch-threads``);
* ``cuda eager``: the same on the GPU, each update launching its ~200 small kernels from Python;
* ``cuda graph``: the GPU update captured once as a CUDA graph and replayed (the default on
  CUDA; see ``IQNLearner.learn``).

The modes that need CUDA are skipped without it. The replay holds random transitions of
CartPole's shapes: the arithmetic of an update does not depend on the values.

    .venv/bin/python bench/iqn_update.py [--updates 500] [--blocks 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from _machine import machine, write_report
from rltrack.agents.iqn import CARTPOLE_HYPERPARAMS, IQNConfig, IQNLearner, ReplayBuffer

RESULTS = Path(__file__).resolve().parent / "results" / "iqn_update.json"
OBS_DIM, N_ACTIONS = 4, 2


def filled_replay(cfg: IQNConfig, rng: np.random.Generator) -> ReplayBuffer:
    replay = ReplayBuffer((OBS_DIM,), cfg.buffer_size)
    n = cfg.buffer_size
    replay.add_arrays(
        rng.normal(size=(n, OBS_DIM)).astype(np.float32),
        rng.integers(0, N_ACTIONS, size=n),
        rng.random(n).astype(np.float32),
        rng.normal(size=(n, OBS_DIM)).astype(np.float32),
        rng.random(n) < 0.02,
        np.full(n, cfg.gamma**cfg.n_step, dtype=np.float32),
    )
    return replay


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--updates", type=int, default=500, help="updates per timed block")
    ap.add_argument("--blocks", type=int, default=5, help="timed blocks per mode")
    ap.add_argument("--torch-threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    torch.set_num_threads(args.torch_threads)
    console = Console()

    cfg = IQNConfig.from_hyperparams(CARTPOLE_HYPERPARAMS)
    rng = np.random.default_rng(0)
    replay = filled_replay(cfg, rng)
    modes: dict[str, IQNLearner] = {"cpu": IQNLearner(OBS_DIM, N_ACTIONS, cfg, "cpu", seed=0)}
    if torch.cuda.is_available():
        modes["cuda eager"] = IQNLearner(OBS_DIM, N_ACTIONS, cfg, "cuda", seed=0, cuda_graph=False)
        modes["cuda graph"] = IQNLearner(OBS_DIM, N_ACTIONS, cfg, "cuda", seed=0, cuda_graph=True)
    for learner in modes.values():  # warm-up: lazy init, Adam's state, the graph's capture
        for _ in range(20):
            learner.learn(replay.sample(cfg.batch_size, rng))

    ms: dict[str, list[float]] = {name: [] for name in modes}
    for _ in range(args.blocks):
        for name, learner in modes.items():
            t = time.perf_counter()
            for _ in range(args.updates):
                learner.learn(replay.sample(cfg.batch_size, rng))
            ms[name].append(1e3 * (time.perf_counter() - t) / args.updates)

    table = Table(title=f"One IQN update at the CartPole preset ({args.blocks} x {args.updates})")
    for col in ("mode", "median ms/update", "blocks (ms)", "updates/s", "vs cpu"):
        table.add_column(col, justify="left" if col == "mode" else "right")
    rows: list[dict[str, Any]] = []
    cpu_ms = statistics.median(ms["cpu"])
    for name, values in ms.items():
        median = statistics.median(values)
        rows.append(
            {"mode": name, "median_ms": median, "blocks_ms": values,
             "speedup_vs_cpu": cpu_ms / median}
        )  # fmt: skip
        table.add_row(
            name, f"{median:.3f}", ", ".join(f"{v:.2f}" for v in values),
            f"{1e3 / median:,.0f}", f"{cpu_ms / median:.1f}x",
        )  # fmt: skip
    console.print(table)
    write_report(
        args.out,
        "iqn_update",
        {
            "machine": machine(
                torch=torch.__version__,
                torch_threads=args.torch_threads,
                gpu=torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            ),  # fmt: skip
            "params": {
                "hyperparams": cfg.to_dict(),
                "updates": args.updates,
                "blocks": args.blocks,
            },
            "modes": rows,
        },
        console,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
