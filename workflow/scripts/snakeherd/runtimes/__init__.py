"""Runtimes: one table, the in-job node check, ONNX Runtime sessions.

* :mod:`.table` — every runtime name, its family, accelerator, ONNX Runtime providers and
  environment file per stage, and which model stages support it; the config-time check of
  ``runtime`` against the enabled stages. The only module that lists runtime names.
* :mod:`.node` — inside a job, before and after importing the framework: hide accelerators from
  CPU runtimes, check the node can run the runtime, record what it found.
* :mod:`.onnx_sessions` — ONNX Runtime sessions on exactly a runtime's providers.

The names most callers need are importable from here.
"""

from .node import (
    NodeCapability,
    accelerator_hiding_environment,
    check_node,
    hide_accelerators,
    prepare_process,
)
from .onnx_sessions import open_onnxruntime_session, require_session_providers
from .table import (
    MODEL_STAGES,
    RUNTIMES,
    TABLE,
    ModelStage,
    Runtime,
    enabled_model_stages,
    get,
    needs_gpu,
    valid_runtimes,
    validate_runtime,
)

__all__ = [
    "MODEL_STAGES",
    "RUNTIMES",
    "TABLE",
    "ModelStage",
    "NodeCapability",
    "Runtime",
    "accelerator_hiding_environment",
    "check_node",
    "enabled_model_stages",
    "get",
    "hide_accelerators",
    "needs_gpu",
    "open_onnxruntime_session",
    "prepare_process",
    "require_session_providers",
    "valid_runtimes",
    "validate_runtime",
]
