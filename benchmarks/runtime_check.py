"""Check runtimes on this node through the real workflow, each against the first one given.

    python benchmarks/runtime_check.py --runtimes cpu cuda onnx_cpu onnx_cuda tensorrt \
        [--sleap-python PATH] [--workdir DIR] [--json FILE]

Meant for a new GPU node or a cluster's GPU partition (and run as is on a CPU-only machine with
CPU runtimes). For each runtime, one Snakemake run of the YOLO chain (OBB detection, pose on
crops, tracking, evaluation) on frames 900-1099 of the real fly clip, which the models did not
train on, and, with ``--sleap-python``, one run of the SLEAP top-down chain on centered_pair_small.
A runtime the node cannot run must stop in its first model job with the message naming what is
missing, never fall back to another backend: the table shows that message. For the runtimes that
run: seconds per model job and frames per second (from the rules' benchmark files, so process
start and model load count), tracking recall/precision/IDF1 against the labels, and the largest and
median differences in box centres and keypoints from the first runtime. Exports (``.onnx``,
``.engine``, SLEAP ``.onnx/`` and ``.tensorrt/`` folders) are made by the workflow's own rules
next to copies of the models in the work directory. Prints tables; asserts nothing.
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

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
sys.path.insert(0, str(REPO))

from snakeherd import io  # noqa: E402
from snakeherd.video import FrameSelection  # noqa: E402
from tests.support import configs  # noqa: E402
from tests.support.data import (  # noqa: E402
    FLY_HELD_OUT_FRAMES,
    SHARED_DATA,
    SLEAP_PAIR,
    copy_sleap_models,
    copy_yolo_models,
)
from tests.support.matching import matched_instances  # noqa: E402
from tests.support.snakemake import snakemake_command  # noqa: E402


def yolo_config(runtime: str, models: Path, frames: str) -> dict:
    return configs.yolo_config(SHARED_DATA, models, runtime, frames, f"yolo_{runtime}")


def sleap_config(runtime: str, models: Path, sleap_python: str, frames: str) -> dict:
    return configs.sleap_config(
        f"sleap_{runtime}",
        runtime,
        SHARED_DATA / "sleap" / "centered_pair_small.mp4",
        frames,
        [models / name for name in SLEAP_PAIR],
        sleap_python,
        tracking={"enabled": True, "max_distance": 60},
    )


def copy_models(workdir: Path) -> Path:
    """Writable copies, so that the export rules write next to them as they would for a user."""
    models = workdir / "models"
    if not models.is_dir():
        copy_yolo_models(SHARED_DATA, models)
        copy_sleap_models(SHARED_DATA, models, SLEAP_PAIR)
    return models


def run_workflow(workdir: Path, config: dict, cores: int) -> tuple[int, float, str]:
    command = snakemake_command(
        workdir,
        config,
        "--cores",
        str(cores),
        "--scheduler",
        "greedy",
        config_name=f"{config['experiment']}.yaml",
    )
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    (workdir / f"{config['experiment']}.snakemake.log").write_text(result.stdout + result.stderr)
    return result.returncode, elapsed, result.stdout + result.stderr


def first_error(results: Path, output: str) -> str:
    """The readable message of the first failed job (what its log says after 'failed:')."""
    for log in sorted((results / "logs").rglob("*.log")) if (results / "logs").is_dir() else []:
        lines = log.read_text(errors="replace").splitlines()
        for index, line in enumerate(lines):
            if line.rstrip().endswith("failed:"):
                return f"{log.name}: " + " ".join(lines[index + 1 : index + 3])
            if "failed with an unexpected error" in line:
                return f"{log.name}: unexpected error: {lines[-1]}"
    tail = [line for line in output.splitlines() if line.strip()][-6:]
    return " | ".join(tail)


def seconds(results: Path, rule: str) -> float | None:
    path = results / "benchmarks" / "pair" / f"{rule}.tsv"
    if not path.is_file():
        return None
    return float(pd.read_csv(path, sep="\t")["s"].iloc[0])


def instance_points(poses: pd.DataFrame) -> dict[int, np.ndarray]:
    """Per frame, an (instances, nodes, 2) array of keypoints, nodes in sorted order."""
    points = {}
    for frame, group in poses.sort_values(["det_id", "node"]).groupby("frame"):
        n_nodes = group["node"].nunique()
        points[frame] = group[["x", "y"]].to_numpy(float).reshape(-1, n_nodes, 2)
    return points


def compare_poses(reference: pd.DataFrame, other: pd.DataFrame) -> dict:
    """Match instances per frame (Hungarian on mean keypoint distance) and compare keypoints."""
    pairs, unmatched = matched_instances(instance_points(reference), instance_points(other))
    differences = np.array([d for _, a, b in pairs for d in np.linalg.norm(a - b, axis=-1)])
    differences = differences[np.isfinite(differences)]
    return {
        "keypoints_compared": int(differences.size),
        "instances_unmatched": unmatched,
        "max_px": float(differences.max()) if differences.size else None,
        "median_px": float(np.median(differences)) if differences.size else None,
    }


def compare_boxes(reference: pd.DataFrame, other: pd.DataFrame) -> dict:
    as_points = [
        table.assign(node="centre")[["frame", "det_id", "node", "x", "y"]]
        for table in (reference, other)
    ]
    return compare_poses(*as_points)


def check(kind: str, runtime: str, workdir: Path, config: dict, cores: int) -> dict:
    results = workdir / "results" / config["experiment"]
    returncode, elapsed, output = run_workflow(workdir, config, cores)
    row = {"chain": kind, "runtime": runtime, "ok": returncode == 0, "wall_s": round(elapsed, 1)}
    if returncode != 0:
        row["error"] = first_error(results, output)
        return row
    folder = results / "pair"
    poses = io.read_table(folder / "poses.parquet", "poses")
    n_frames = len(FrameSelection.parse(config["videos"][0]["frames"]))
    rules = ["detect_yolo_obb", "pose_yolo_crops"] if kind == "yolo" else ["sleap_predict"]
    for rule in rules:
        took = seconds(results, rule)
        row[f"{rule}_s"] = took
        row[f"{rule}_fps"] = round(n_frames / took, 1) if took else None
    stage = io.read_metadata(folder / "poses.parquet")["stage"]
    row["device"] = json.dumps(stage.get("runtime", {}).get("device"))
    summary_path = results / "evaluation_summary.csv"
    if summary_path.is_file():
        summary = pd.read_csv(summary_path).iloc[0]
        for key in ("recall", "precision", "idf1"):
            if key in summary:
                row[key] = round(float(summary[key]), 3)
    row["_poses"] = poses
    if kind == "yolo":
        row["_detections"] = io.read_table(folder / "detections.parquet", "detections")
    return row


def add_comparisons(row: dict, base: dict) -> None:
    row["keypoints_vs_" + base["runtime"]] = compare_poses(base["_poses"], row["_poses"])
    if "_detections" in row:
        row["boxes_vs_" + base["runtime"]] = compare_boxes(base["_detections"], row["_detections"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtimes", nargs="+", default=["cpu", "onnx_cpu"])
    parser.add_argument("--chains", nargs="+", choices=["yolo", "sleap"], default=["yolo", "sleap"])
    parser.add_argument("--sleap-python", help="the SLEAP environment's python (skip if absent)")
    parser.add_argument("--yolo-frames", default=FLY_HELD_OUT_FRAMES)
    parser.add_argument("--sleap-frames", default="0-299")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="snakeherd-runtimes-"))
    workdir.mkdir(parents=True, exist_ok=True)
    models = copy_models(workdir)
    rows, reference = [], {}
    for runtime in args.runtimes:
        chains = []
        if "yolo" in args.chains:
            chains.append(("yolo", yolo_config(runtime, models, args.yolo_frames)))
        if args.sleap_python and "sleap" in args.chains:
            chains.append(
                ("sleap", sleap_config(runtime, models, args.sleap_python, args.sleap_frames))
            )
        for kind, config in chains:
            row = check(kind, runtime, workdir, config, args.cores)
            if row["ok"] and kind in reference:
                add_comparisons(row, reference[kind])
            elif row["ok"]:
                reference[kind] = row
            rows.append(row)
            # One line per run as it ends, so that a run cut short still reports what it did.
            print(json.dumps({k: v for k, v in row.items() if not k.startswith("_")}), flush=True)
    if args.json:
        printable = [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows]
        args.json.write_text(json.dumps(printable, indent=2) + "\n")


if __name__ == "__main__":
    main()
