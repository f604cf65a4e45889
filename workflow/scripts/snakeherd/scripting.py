"""Running rule scripts: a log file, readable errors, and no traceback for problems users fix."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from .errors import SnakeherdError

logger = logging.getLogger("snakeherd")


def configure_logging(log_path: str | None) -> None:
    """Log to the rule's log file and to stderr (which Snakemake shows for a failed job)."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logging.captureWarnings(True)


def run_rule(main: Callable[[object], None], snakemake) -> None:
    """Run ``main(snakemake)``; a :class:`SnakeherdError` ends the job with its message alone."""
    configure_logging(snakemake.log[0] if len(snakemake.log) else None)
    wildcards = dict(snakemake.wildcards.items())
    where = f"rule {snakemake.rule}" + (
        " (" + ", ".join(f"{k}={v}" for k, v in wildcards.items()) + ")" if wildcards else ""
    )
    try:
        main(snakemake)
    except SnakeherdError as error:
        logger.error("%s failed:\n%s", where, error)
        sys.exit(1)
    except Exception:
        logger.exception("%s failed with an unexpected error (a bug: please report it)", where)
        raise
