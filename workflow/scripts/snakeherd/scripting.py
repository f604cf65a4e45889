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


def environment_problem(error: BaseException) -> SnakeherdError | None:
    """The user-fixable problem behind an error of the machine rather than of snakeherd: a file
    or folder that cannot be written or read, a package the environment lacks (None otherwise)."""
    if isinstance(error, ImportError) and error.name:
        package = error.name.split(".")[0]
        return SnakeherdError(
            f"this step needs the Python package '{package}', which its environment "
            f"({sys.executable}) cannot import ({error}).",
            "install it there (`pip install -r requirements/test.txt` installs every package "
            "the workflow uses; `make demo` installs only the demo's), or run with "
            "`--sdm conda`, which builds each rule's environment from envs/.",
        )
    if isinstance(error, OSError) and error.filename is not None:
        return SnakeherdError(
            f"{error.strerror or error}: {error.filename}",
            "check that the folder exists, that you may write to it (results go under the "
            "directory you run snakemake in) and that its disk has space.",
        )
    return None


def run_guarded(main: Callable[[], None], where: str) -> None:
    """Run ``main()``; a problem the user can fix ends the process with its message alone.

    A :class:`SnakeherdError` is such a problem, and so are the machine's own errors that
    :func:`environment_problem` recognises. Anything else is a bug: logged with its traceback
    and raised.
    """
    try:
        main()
    except SnakeherdError as error:
        logger.error("%s failed:\n%s", where, error)
        sys.exit(1)
    except (ImportError, OSError) as error:
        problem = environment_problem(error)
        if problem is None:
            logger.exception("%s failed with an unexpected error (a bug: please report it)", where)
            raise
        logger.error("%s failed:\n%s", where, problem)
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
