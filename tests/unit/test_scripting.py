"""Running rule scripts: the log file, one readable message (exit 1) for problems users fix, a
traceback for bugs, and where each failure happened (rule and wildcards)."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import warnings

import pytest

from snakeherd.errors import ConfigError, InputFileError, SnakeherdError
from snakeherd.scripting import configure_logging, run_command, run_guarded, run_rule
from tests.support.paths import SCRIPTS

logger = logging.getLogger("snakeherd.test")


@pytest.fixture
def root_logging():
    """``configure_logging`` replaces the root logger's handlers (pytest's among them) and sends
    warnings to logging, as a rule script's process wants: afterwards, put back what was there
    and close the files it opened."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


class Wildcards:
    """What a rule's ``snakemake.wildcards`` offers the scripts: ``items()``."""

    def __init__(self, **values):
        self._values = values

    def items(self):
        return self._values.items()


class FakeSnakemake:
    """The parts of the ``snakemake`` object of a ``script:`` rule that run_rule reads."""

    def __init__(self, rule: str, log: list[str], **wildcards):
        self.rule = rule
        self.log = log
        self.wildcards = Wildcards(**wildcards)


def fail_with(error: Exception):
    def main(*_):
        raise error

    return main


def test_configure_logging_writes_the_log_file_afresh_with_warnings(tmp_path, root_logging):
    log = tmp_path / "rule.log"
    log.write_text("left by an earlier attempt\n")
    configure_logging(str(log))
    logger.info("frames decoded: 12")
    logger.debug("not at INFO")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("a library's warning", UserWarning, stacklevel=1)
    text = log.read_text()
    assert "left by an earlier attempt" not in text
    assert "INFO snakeherd.test: frames decoded: 12" in text
    assert "not at INFO" not in text
    assert "UserWarning: a library's warning" in text


def test_configure_logging_without_a_log_file_writes_to_stderr(capsys, root_logging):
    configure_logging(None)
    assert len(logging.getLogger().handlers) == 1
    logger.warning("only on stderr")
    assert "WARNING snakeherd.test: only on stderr" in capsys.readouterr().err


def test_run_guarded_runs_main_and_returns():
    calls = []
    assert run_guarded(lambda: calls.append("ran"), "rule track") is None
    assert calls == ["ran"]


@pytest.mark.parametrize("error_class", [SnakeherdError, ConfigError, InputFileError])
def test_a_problem_users_fix_exits_1_with_its_message_alone(caplog, error_class):
    error = error_class("model file not found: /m.pt", "fix the path in your config.")
    with caplog.at_level(logging.INFO), pytest.raises(SystemExit) as caught:
        run_guarded(fail_with(error), "rule detect_yolo_obb (video=pair)")
    assert caught.value.code == 1
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.name == "snakeherd"
    assert record.getMessage() == (
        "rule detect_yolo_obb (video=pair) failed:\n"
        "model file not found: /m.pt\nFix: fix the path in your config."
    )
    assert record.exc_info is None
    assert "Traceback" not in caplog.text


def test_a_bug_is_logged_with_its_traceback_and_raised(caplog):
    with caplog.at_level(logging.INFO), pytest.raises(ZeroDivisionError):
        run_guarded(lambda: 1 / 0, "rule track")
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.getMessage() == (
        "rule track failed with an unexpected error (a bug: please report it)"
    )
    assert record.exc_info is not None and record.exc_info[0] is ZeroDivisionError
    assert "Traceback" in caplog.text and "ZeroDivisionError" in caplog.text


def test_an_unwritable_folder_is_the_users_problem_not_a_bug(caplog, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)

    def write():
        (locked / "tracks.parquet").write_bytes(b"")

    try:
        with caplog.at_level(logging.INFO), pytest.raises(SystemExit) as caught:
            if os.geteuid() == 0:  # root writes anywhere: the error as the OS raises it
                run_guarded(
                    fail_with(PermissionError(13, "Permission denied", str(locked))), "rule track"
                )
            else:
                run_guarded(write, "rule track")
    finally:
        locked.chmod(0o700)
    assert caught.value.code == 1
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    message = record.getMessage()
    assert message.startswith("rule track failed:\nPermission denied: ")
    assert str(locked) in message and "Fix:" in message and "a bug" not in message
    assert record.exc_info is None


def test_a_missing_package_names_the_package_and_how_to_install_it(caplog):
    def needs_a_package():
        import snakeherd_no_such_package  # noqa: F401

    with caplog.at_level(logging.INFO), pytest.raises(SystemExit):
        run_guarded(needs_a_package, "rule export_yolo_obb")
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "needs the Python package 'snakeherd_no_such_package'" in record.getMessage()
    assert "requirements/test.txt" in record.getMessage() and record.exc_info is None


def test_other_os_errors_without_a_file_are_still_bugs(caplog):
    with caplog.at_level(logging.INFO), pytest.raises(OSError):
        run_guarded(fail_with(OSError("no file involved")), "rule track")
    assert "a bug: please report it" in caplog.text


def test_run_rule_names_the_rule_and_its_wildcards_in_its_log(tmp_path, root_logging):
    log = tmp_path / "track.log"
    snakemake = FakeSnakemake("track", [str(log)], experiment="demo", video="arena_a")
    seen = []
    run_rule(seen.append, snakemake)
    assert seen == [snakemake]  # main gets the snakemake object itself

    with pytest.raises(SystemExit) as caught:
        run_rule(fail_with(InputFileError("tracks are empty")), snakemake)
    assert caught.value.code == 1
    text = log.read_text()
    assert "rule track (experiment=demo, video=arena_a) failed:\ntracks are empty" in text
    assert "Traceback" not in text


def test_run_rule_without_log_or_wildcards_reports_on_stderr(capsys, root_logging):
    snakemake = FakeSnakemake("evaluation_summary", [])
    with pytest.raises(ValueError, match="not a number"):
        run_rule(fail_with(ValueError("not a number")), snakemake)
    err = capsys.readouterr().err
    assert "rule evaluation_summary failed with an unexpected error" in err
    assert "Traceback" in err and "ValueError: not a number" in err


def test_run_command_logs_to_the_file_its_arguments_name(tmp_path, root_logging):
    log = tmp_path / "sleap_predict.log"
    args = argparse.Namespace(log=str(log), video="pair.mp4")
    seen = []
    run_command(seen.append, args, "sleap_predict")
    assert seen == [args]

    with pytest.raises(SystemExit) as caught:
        run_command(fail_with(ConfigError("pose.env: no sleap-nn", "install it.")), args, "x")
    assert caught.value.code == 1
    text = log.read_text()
    assert "rule x failed:\npose.env: no sleap-nn\nFix: install it." in text
    assert "Traceback" not in text


def test_a_job_logs_its_peak_memory_and_cpu_time_at_the_end():
    """Measured by the job itself (getrusage), in a process of its own: what a cluster job's
    mem_mb is set from."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    scripts = Path(__file__).resolve().parents[2] / "workflow" / "scripts"
    program = (
        f"import sys; sys.path.insert(0, {str(scripts)!r})\n"
        "from snakeherd.scripting import configure_logging, run_guarded\n"
        "configure_logging(None)\n"
        "def main():\n"
        "    block = bytearray(300 * 2**20)\n"
        "    block[::4096] = b'x' * len(block[::4096])\n"
        "    sum(range(3_000_000))\n"
        "run_guarded(main, 'rule track')\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    found = re.search(r"rule track done: peak memory (\d+) MB, ([\d.]+) CPU s", done.stderr)
    assert found, done.stderr
    assert 300 <= int(found[1]) < 600 and float(found[2]) > 0


MEMORY_KEPT = r"""
import sys
sys.path.insert(0, {scripts!r})
import numpy as np
from snakeherd.scripting import give_back_large_arrays
if {give_back}:
    give_back_large_arrays()
np.ones(2**21).sum()  # a 16 MiB array freed: glibc then serves smaller ones from its heap
arrays = [np.ones(2**17) for _ in range(200)]  # 200 arrays of 1 MiB
del arrays[:-1]  # freed, but the last one keeps the heap from shrinking
with open("/proc/self/status") as status:
    print(next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) // 1024)
"""


def test_a_job_that_gives_back_large_arrays_keeps_no_memory_it_freed():
    def rss_after_freeing(give_back: bool) -> int:
        code = MEMORY_KEPT.format(scripts=str(SCRIPTS), give_back=give_back)
        return int(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )

    kept, given_back = rss_after_freeing(False), rss_after_freeing(True)
    assert kept - given_back > 150  # MiB: the 199 freed arrays


def test_arrow_allocates_through_malloc_unless_the_user_chose_otherwise():
    code = (
        f"import sys; sys.path.insert(0, {str(SCRIPTS)!r}); import snakeherd.io, pyarrow; "
        "print(pyarrow.default_memory_pool().backend_name)"
    )
    environment = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    for chosen, expected in ((None, "system"), ("mimalloc", "mimalloc")):
        if chosen:
            environment["ARROW_DEFAULT_MEMORY_POOL"] = chosen
        found = subprocess.run(
            [sys.executable, "-c", code],
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        )
        assert found.stdout.strip() == expected
