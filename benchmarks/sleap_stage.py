"""Benchmark: our SLEAP stage vs the ``sleap-nn predict`` CLI, and onnx_cpu vs cpu.

    .venv/bin/python benchmarks/sleap_stage.py [--frames 200] [--threads 2]

Side by side in one run on centered_pair_small (top-down pair): each command is a fresh process
(as a Snakemake job is), run on the same frames, runtime and thread count. "End to end" is the
process's wall time for all frames (imports, model load, decoding, inference, writing the .slp);
"first frame" is the wall time of the same command on one frame. The CLI's onnx_cpu row runs
sleap-nn's own export of the pair, its one-graph bundle, as is; ours runs the stage's export (the
two models exported one each, composed as the checkpoint path composes them, refined) in its
own ONNX Runtime sessions. Goals: ours >= 1.0x the CLI on the same runtime; onnx_cpu >= 1.5x cpu.
Needs `make sleap-env`. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.data import SHARED_DATA, SLEAP_PAIR  # noqa: E402
from tests.support.paths import SLEAP_PYTHON  # noqa: E402
from tests.support.sleap_commands import sleap_nn_predict, stage_script  # noqa: E402

MODELS = [SHARED_DATA / "sleap" / "models" / name for name in SLEAP_PAIR]
VIDEO = SHARED_DATA / "sleap" / "centered_pair_small.mp4"


def timed(command: list[str], env: dict) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return elapsed


def cli(frames: str, output: Path, models: list[Path], limit: int) -> list[str]:
    return sleap_nn_predict(SLEAP_PYTHON, VIDEO, frames, models, output, limit)


def ours(
    frames: str, output: Path, runtime: str, export: Path | None, threads: int, limit: int
) -> list[str]:
    command = stage_script(
        SLEAP_PYTHON,
        "sleap_predict.py",
        runtime,
        "topdown",
        MODELS,
        VIDEO,
        "--frames",
        frames,
        "--threads",
        str(threads),
        "--slp",
        str(output),
        "--npz",
        str(output.with_suffix(".npz")),
    )
    if export is not None:
        command += ["--export", str(export)]
    if limit:
        command += ["--max-instances", str(limit)]
    return command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--max-instances",
        type=int,
        default=2,
        help="animals per frame for both pipelines (the clip has 2 flies); 0 = sleap-nn defaults",
    )
    parser.add_argument(
        "--repeats", type=int, default=2, help="runs per command, interleaved; the fastest counts"
    )
    args = parser.parse_args()
    if not SLEAP_PYTHON.exists():
        sys.exit(f"{SLEAP_PYTHON} not found: run `make sleap-env`")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "-1"}
    last = args.frames - 1
    work = Path(tempfile.mkdtemp(prefix="sleap_bench_"))
    export = work / "topdown.onnx"
    started = time.perf_counter()
    timed(
        stage_script(
            SLEAP_PYTHON,
            "sleap_export.py",
            "onnx_cpu",
            "topdown",
            MODELS,
            VIDEO,
            "--folder",
            str(export),
            "--height",
            "384",
            "--width",
            "384",
            "--tolerance",
            "1.5",
            "--threads",
            str(args.threads),
            "--log",
            str(work / "export.log"),
            *(["--max-instances", str(args.max_instances)] if args.max_instances else []),
        ),
        env,
    )
    export_s = time.perf_counter() - started
    parity = json.loads((export / "parity.json").read_text())
    bundle = work / "sleap-nn-bundle"
    timed(
        [
            str(SLEAP_PYTHON.parent / "sleap-nn"),
            "export",
            *map(str, MODELS),
            "--output",
            str(bundle),
            "--format",
            "onnx",
            "--input-height",
            "384",
            "--input-width",
            "384",
            *(["--max-instances", str(args.max_instances)] if args.max_instances else []),
        ],
        env,
    )

    commands = {}
    for runtime in ("cpu", "onnx_cpu"):
        cli_models = MODELS if runtime == "cpu" else [bundle]
        commands[(runtime, "sleap-nn predict")] = lambda frames, out, m=cli_models: cli(
            frames, out, m, args.max_instances
        )
        commands[(runtime, "snakeherd stage")] = lambda frames, out, rt=runtime: ours(
            frames, out, rt, export if rt != "cpu" else None, args.threads, args.max_instances
        )
    # Other work on a shared machine comes and goes: interleave the commands, keep the fastest.
    firsts, totals = {}, {}
    for _ in range(args.repeats):
        for key, make in commands.items():
            first = timed(make("0", work / "first.slp"), env)
            total = timed(make(f"0-{last}", work / "all.slp"), env)
            firsts[key] = min(first, firsts.get(key, first))
            totals[key] = min(total, totals.get(key, total))
    rows = [
        (runtime, who, totals[(runtime, who)], args.frames / totals[(runtime, who)],
         firsts[(runtime, who)])
        for runtime, who in commands
    ]  # fmt: skip

    print(
        f"\nSLEAP top-down on {VIDEO.name}, frames 0-{last} ({args.frames}), "
        f"{args.threads} threads, max {args.max_instances or 'default'} instances, one fresh "
        f"process per command, fastest of {args.repeats}\n"
    )
    print(
        f"{'runtime':<9} {'pipeline':<17} {'end to end s':>12} {'fps':>7} {'first frame s':>14}"
        f" {'vs CLI':>7}"
    )
    cli_fps = {r[0]: r[3] for r in rows if r[1] == "sleap-nn predict"}
    for runtime, who, total, fps, first in rows:
        print(
            f"{runtime:<9} {who:<17} {total:>12.1f} {fps:>7.2f} {first:>14.1f}"
            f" {fps / cli_fps[runtime]:>6.2f}x"
        )
    ours_fps = {r[0]: r[3] for r in rows if r[1] == "snakeherd stage"}
    print(
        f"\nonnx_cpu vs cpu (snakeherd stage): {ours_fps['onnx_cpu'] / ours_fps['cpu']:.2f}x; "
        f"(sleap-nn predict): {cli_fps['onnx_cpu'] / cli_fps['cpu']:.2f}x"
    )
    print(
        f"export + parity check: {export_s:.1f} s; keypoints vs checkpoint on "
        f"{len(parity['parity_frames'])} frames: median {parity['raw']['median_px']} px as "
        f"sleap-nn's exports give it (mean offset {parity['raw']['mean_offset_xy_px']}), "
        f"{parity['corrected']['median_px']} px after the stage's corrections (mean offset "
        f"{parity['corrected']['mean_offset_xy_px']})"
    )


if __name__ == "__main__":
    main()
