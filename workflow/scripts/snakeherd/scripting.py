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


def run_guarded(main: Callable[[], None], where: str) -> None:
    """Run ``main()``; a :class:`SnakeherdError` ends the process with its message alone.

    Anything else is a bug: logged with its traceback and raised.
    """
    try:
        main()
    except SnakeherdError as error:
        logger.error("%s failed:\n%s", where, error)
        sys.exit(1)
    except Exception:
        logger.exception("%s failed with an unexpected error (a bug: please report it)", where)
        raise


def run_rule(main: Callable[[object], None], snakemake) -> None:
    """Run a ``script:`` rule's ``main(snakemake)`` with its log and :func:`run_guarded`."""
    configure_logging(snakemake.log[0] if len(snakemake.log) else None)
    wildcards = dict(snakemake.wildcards.items())
    where = f"rule {snakemake.rule}" + (
        " (" + ", ".join(f"{k}={v}" for k, v in wildcards.items()) + ")" if wildcards else ""
    )
    run_guarded(lambda: main(snakemake), where)


def run_command(main: Callable[[object], None], args, rule: str) -> None:
    """Run a ``shell:`` rule's ``main(args)`` (a script run by another environment's Python,
    which has no ``snakemake`` object) with the log named by ``args.log`` and
    :func:`run_guarded`."""
    configure_logging(args.log)
    run_guarded(lambda: main(args), f"rule {rule}")
