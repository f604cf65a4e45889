"""Running rule scripts: a log file, readable errors, and no traceback for problems users fix."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import resource
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


def footprint() -> tuple[float, float]:
    """This process's peak resident memory (MB; a child process's if that is more) and the CPU
    seconds it and its children used. Logged at the end of every job: what to set a cluster
    job's ``mem_mb`` from (a ``benchmark:`` file can miss a job's peak: Snakemake samples memory
    every 30 s once a job has run 15 s)."""
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, else KiB
    # Linux keeps a process's ru_maxrss across exec: a job would report at least the RSS of
    # the Snakemake process that started it. VmHWM is the job's own address space's.
    own_kib = _high_water_kib() or own.ru_maxrss * unit / 1024
    peak_mb = max(own_kib, children.ru_maxrss * unit / 1024) / 1024
    cpu_seconds = sum(usage.ru_utime + usage.ru_stime for usage in (own, children))
    return peak_mb, cpu_seconds


def _high_water_kib() -> float | None:
    """Peak RSS of this process's address space (Linux: /proc/self/status VmHWM), or None."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


# mallopt's parameter: the size from which an allocation gets its own memory map.
M_MMAP_THRESHOLD = -3
LARGE_ALLOCATION = 128 * 1024


def give_back_large_arrays() -> None:
    """From now on arrays of 128 KiB and more get their own memory map, given back to the
    system when freed. glibc's default raises that threshold (up to 32 MiB) each time such an
    array is freed, after which large arrays come from the heap, whose freed memory the
    process keeps: the track job of a long video (400,000 detections) peaked at 349 MB, 318 MB
    with the threshold fixed, for the same CPU time. Other C libraries keep their own policy."""
    with contextlib.suppress(AttributeError, OSError):  # not glibc (macOS): nothing to set
        ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, LARGE_ALLOCATION)


def give_back_freed_memory() -> None:
    """Hand the system the pages of the heap that hold nothing any more. Small arrays and
    objects come from the heap, and a heap only shrinks from its top: after the suspect checks
    of a long video's track job (660,000 rows), ~25 MB the job no longer used stayed with it,
    under the next output's peak."""
    with contextlib.suppress(AttributeError, OSError):  # not glibc (macOS): nothing to do
        ctypes.CDLL(None).malloc_trim(0)


def run_guarded(main: Callable[[], None], where: str) -> None:
    """Run ``main()``; a problem the user can fix ends the process with its message alone.

    A :class:`SnakeherdError` is such a problem, and so are the machine's own errors that
    :func:`environment_problem` recognises. Anything else is a bug: logged with its traceback
    and raised.
    """
    try:
        main()
        peak_mb, cpu_seconds = footprint()
        logger.info("%s done: peak memory %.0f MB, %.1f CPU s", where, peak_mb, cpu_seconds)
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
