"""Safe loading of sleap-nn checkpoints: a model file must not be able to run code.

Runs inside the SLEAP environment. sleap-nn loads ``best.ckpt`` with ``torch.load(...,
weights_only=False)``, which unpickles whatever the file names, so a crafted checkpoint would run
its code in the job. Before sleap-nn touches a checkpoint, :func:`require_safe` loads it with
torch's restricted unpickler (``weights_only=True``), allowing only what a sleap-nn checkpoint
holds: tensors, plain containers, omegaconf nodes and sleap-nn's own config classes. A file that
names anything else is refused unless the config trusts model files (``trust_model_files``).
Legacy SLEAP ≤ 1.4 folders (``best_model.h5``) hold HDF5 weights, which load no code.
"""

from __future__ import annotations

import functools
import pickle
from pathlib import Path

from ..errors import InputFileError

CHECKPOINT = "best.ckpt"


@functools.cache
def _allowed_globals() -> list:
    """The classes and functions a sleap-nn checkpoint's pickle may name."""
    import collections
    import importlib
    import inspect
    import operator
    import pkgutil
    import typing

    import omegaconf.base
    import omegaconf.dictconfig
    import omegaconf.listconfig
    import omegaconf.nodes
    import sleap_nn.config

    modules = [
        importlib.import_module(f"sleap_nn.config.{info.name}")
        for info in pkgutil.iter_modules(sleap_nn.config.__path__)
    ]
    modules += [omegaconf.base, omegaconf.nodes, omegaconf.dictconfig, omegaconf.listconfig]
    allowed: list = [
        member
        for module in modules
        for _, member in inspect.getmembers(module, inspect.isclass)
        if member.__module__ == module.__name__
    ]
    allowed += [dict, list, bool, float, int, str, collections.defaultdict, operator.getitem]
    allowed += [(getattr(typing, name), f"typing.{name}") for name in ("Any", "Dict", "List")]
    allowed += [(tuple, "typing.Tuple")]
    return allowed


def require_safe(model_paths: list[str], trusted: bool) -> None:
    """Refuse a checkpoint that names code outside a sleap-nn checkpoint's own classes.

    ``trusted``: the config's ``trust_model_files``; then nothing is checked.
    """
    if trusted:
        return
    import torch

    for folder in model_paths:
        checkpoint = Path(folder) / CHECKPOINT
        if not checkpoint.is_file():
            continue  # a legacy folder (best_model.h5) or one the model check rejects
        try:
            with torch.serialization.safe_globals(_allowed_globals()):
                torch.load(checkpoint, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as error:
            refused = str(error).split("Unsupported global: ")[-1].split(" was not")[0]
            raise InputFileError(
                f"pose.models: {checkpoint} names code that a sleap-nn checkpoint does not hold "
                f"({refused.strip()}); loading it could run that code, so it was not loaded.",
                "use a checkpoint written by `sleap-nn train`; if you trust this file and its "
                "source, set `trust_model_files: true` in the config.",
            ) from None
