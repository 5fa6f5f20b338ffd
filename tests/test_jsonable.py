"""Any config value is recorded in a readable form, and import paths come back as classes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rltrack.jsonable import json_default, jsonable, resolve_class_paths, resolve_import_path


def test_values_json_cannot_hold_become_readable() -> None:
    value = {
        "optimizer_class": torch.optim.RMSprop,
        "activation_fn": torch.nn.functional.relu,
        "lr": np.float32(0.5),
        "steps": np.int64(7),
        "flag": np.bool_(True),
        "arch": np.array([64, 64]),
        "path": Path("/tmp/x"),
        "object": object.__new__(type("Thing", (), {"__repr__": lambda self: "<thing>"})),
        3: "int key",
    }
    out = jsonable(value)
    assert out["optimizer_class"] == "torch.optim.rmsprop.RMSprop"
    assert out["activation_fn"] == "torch.nn.functional.relu"
    assert out["lr"] == 0.5 and out["steps"] == 7 and out["flag"] is True
    assert out["arch"] == [64, 64] and out["path"] == "/tmp/x" and out["object"] == "<thing>"
    assert out["3"] == "int key"
    assert json.loads(json.dumps(value, default=json_default, skipkeys=True))["lr"] == 0.5


def test_a_lambda_is_its_repr_not_an_import_path() -> None:
    f = lambda x: x  # noqa: E731
    assert json_default(f).startswith("<function")


def test_import_paths_resolve_back() -> None:
    assert resolve_import_path("torch.optim.rmsprop.RMSprop") is torch.optim.RMSprop
    assert resolve_import_path("torch.optim.Adam") is torch.optim.Adam
    given = {"policy_kwargs": {"optimizer_class": "torch.optim.adam.Adam", "net_arch": [8]}}
    resolved = resolve_class_paths(given)
    assert resolved["policy_kwargs"]["optimizer_class"] is torch.optim.Adam
    assert resolved["policy_kwargs"]["net_arch"] == [8]
    # Text that is no import path stays text, also under a class-like key.
    assert resolve_class_paths({"device_class": "auto"}) == {"device_class": "auto"}


@pytest.mark.parametrize("path", ["torch.optim.Nope", "nosuchpackage.Thing", "torch.not a path"])
def test_a_bad_import_path_names_the_key(path: str) -> None:
    with pytest.raises(ValueError, match=r"hyperparams\.policy_kwargs\.optimizer_class"):
        resolve_class_paths({"policy_kwargs": {"optimizer_class": path}})
