"""Small MLPs (SB3's MlpPolicy networks) evaluated with numpy, one observation at a time.

For one observation of a network of 64-unit layers, PyTorch spends far more on dispatching its
dozen operations than on arithmetic (about a millisecond per frame in the video's loop, measured
with bench/video.py); the same float32 matrix products in numpy take a few tens of microseconds.
Only plain chains of ``Flatten`` / ``Linear`` / ``ReLU`` / ``Tanh`` / ``Identity`` are
converted; anything else (CNNs, other activations) returns None and stays on PyTorch.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch import nn

Layer = tuple[str, np.ndarray | None, np.ndarray | None]


def _leaves(module: nn.Module) -> Iterator[nn.Module]:
    if isinstance(module, nn.Sequential) or type(module).__name__ == "FlattenExtractor":
        for child in module.children():
            yield from _leaves(child)
    else:
        yield module


class NumpyMlp:
    """``x -> layers(x)`` for a 1-d float32 ``x``; the weights are copied when it is built."""

    def __init__(self, layers: list[Layer]) -> None:
        self.layers = layers

    @classmethod
    def of(cls, *modules: nn.Module) -> NumpyMlp | None:
        layers: list[Layer] = []
        for module in modules:
            for leaf in _leaves(module):
                if isinstance(leaf, nn.Linear):
                    w = leaf.weight.detach().cpu().numpy().astype(np.float32).T.copy()
                    b = None
                    if leaf.bias is not None:
                        b = leaf.bias.detach().cpu().numpy().astype(np.float32).copy()
                    layers.append(("linear", w, b))
                elif isinstance(leaf, nn.ReLU):
                    layers.append(("relu", None, None))
                elif isinstance(leaf, nn.Tanh):
                    layers.append(("tanh", None, None))
                elif isinstance(leaf, nn.Flatten | nn.Identity):
                    continue
                else:
                    return None
        return cls(layers)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32).reshape(-1)
        if self.layers and self.layers[0][0] != "linear":
            x = x.copy()  # the activations below work in place: never on the caller's array
        for kind, w, b in self.layers:
            if kind == "linear":
                assert w is not None
                x = x @ w
                if b is not None:
                    x += b
            elif kind == "relu":
                np.maximum(x, 0.0, out=x)
            else:
                np.tanh(x, out=x)
        return x
