"""What the SLEAP rules' scripts share: their command-line arguments and sleap-nn's log routing.

The SLEAP rules run their scripts with the SLEAP environment's Python, as shell commands, so
their inputs come as arguments rather than a ``snakemake`` object.
"""

from __future__ import annotations

import argparse


def parser(description: str, runtime: bool = True) -> argparse.ArgumentParser:
    """An argument parser with ``--log`` (and ``--runtime``)."""
    arguments = argparse.ArgumentParser(description=description)
    arguments.add_argument("--log")
    if runtime:
        arguments.add_argument("--runtime", required=True)
    return arguments


def add_model_arguments(arguments: argparse.ArgumentParser) -> None:
    """The arguments of the rules that run the models (export, predict)."""
    arguments.add_argument("--kind", required=True)
    arguments.add_argument("--models", nargs="+", required=True)
    arguments.add_argument("--nodes", nargs="+", required=True)
    arguments.add_argument("--video", required=True)
    arguments.add_argument("--crop-size", type=int)
    arguments.add_argument("--threads", type=int, default=1)
    arguments.add_argument("--max-instances", type=int)
    arguments.add_argument(
        "--trust-model-files",
        action="store_true",
        help="load checkpoints as sleap-nn does, without the safe loader's check first",
    )


def route_sleap_nn_logs(log_path: str | None) -> None:
    """sleap-nn logs with loguru; send it to the rule's log instead of the console."""
    try:
        from loguru import logger as loguru_logger
    except ImportError:
        return
    loguru_logger.remove()
    if log_path:
        loguru_logger.add(log_path, level="INFO", format="{time:HH:mm:ss} sleap-nn: {message}")
