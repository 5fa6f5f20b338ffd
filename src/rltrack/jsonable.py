"""Any value as something JSON can hold, and import paths back to what they name.

A run's configuration is whatever the algorithm resolved, and an algorithm is free to put a
class there (SB3's A2C and QR-DQN put ``optimizer_class`` in ``policy_kwargs``). One value
JSON cannot hold must never cost a run its records, so every JSON the tracker writes (the
database's JSON columns, the spool) falls back to :func:`json_default`:

- a class or a function becomes its import path (``torch.optim.rmsprop.RMSprop``), which
  :func:`resolve_import_path` turns back into the class when a run is resumed or repeated;
- a NumPy number becomes the number, a NumPy array a list;
- a path becomes its text;
- anything else becomes its ``repr``.
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Mapping
from typing import Any

import numpy as np


def import_path(obj: Any) -> str:
    """``module.QualName`` of a class or function: what ``import`` finds it by."""
    return f"{obj.__module__}.{obj.__qualname__}"


def _importable(obj: Any) -> bool:
    return (inspect.isclass(obj) or inspect.isroutine(obj)) and bool(
        getattr(obj, "__module__", None) and getattr(obj, "__qualname__", None)
    )


def json_default(obj: Any) -> Any:
    """A JSON-ready stand-in for one value ``json.dumps`` cannot encode (its ``default=``)."""
    if _importable(obj) and "<" not in obj.__qualname__:  # not a lambda or a local class
        return import_path(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, set | frozenset):
        return sorted((jsonable(v) for v in obj), key=repr)
    return repr(obj)


def jsonable(value: Any) -> Any:
    """``value`` with every part JSON cannot hold replaced as :func:`json_default` says, and
    every mapping key made a string (JSON objects have string keys only)."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {
            k if isinstance(k, str) else str(jsonable(k)): jsonable(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return jsonable(json_default(value))


def resolve_import_path(path: str) -> Any:
    """The object an import path names: ``torch.optim.rmsprop.RMSprop`` is the class. Raises
    ``ValueError`` naming the path when nothing importable is there."""
    parts = path.split(".")
    if len(parts) < 2 or not all(p.isidentifier() for p in parts):
        raise ValueError(f"{path!r} is not an import path such as torch.optim.Adam")
    # The longest importable module prefix, then attributes (a nested class has several).
    for split in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for attr in parts[split:]:
                obj = getattr(obj, attr)
        except AttributeError:
            break
        return obj
    raise ValueError(f"cannot import {path!r}: no module or attribute of that name")


# Keyword arguments that take a class or a function, by the naming every SB3 and PyTorch
# constructor follows (optimizer_class, features_extractor_class, activation_fn, ...).
_CLASS_KEY_SUFFIXES = ("_class", "_fn")


def resolve_class_paths(values: Mapping[str, Any], where: str = "hyperparams") -> dict[str, Any]:
    """``values`` with each import path given for a class- or function-valued keyword (a key
    ending in ``_class`` or ``_fn``, at any depth) replaced by what it names; a recorded
    ``optimizer_class: torch.optim.rmsprop.RMSprop`` becomes the class again. Raises
    ``ValueError`` naming the key when a path does not import."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{where}.{key}"
        if isinstance(value, Mapping):
            out[key] = resolve_class_paths(value, name)
        elif isinstance(value, str) and key.endswith(_CLASS_KEY_SUFFIXES) and "." in value:
            try:
                out[key] = resolve_import_path(value)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        else:
            out[key] = value
    return out
