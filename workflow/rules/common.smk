import atexit
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "scripts"))

from snakeherd import resources as job_sizing
from snakeherd import sample_sheet
from snakeherd.config import check_config, describe_schema_error
from snakeherd.errors import ConfigError, VideoError
from snakeherd.runtimes import table as runtime_table
from snakeherd.video import load_probe_store, save_probe_store


def reject_config(message):
    """Stop before any job runs with one readable message (no traceback)."""
    sources = (
        ", ".join(map(str, workflow.config_settings.configfiles))
        or "config/config.yaml"
    )
    print(f"snakeherd: invalid configuration ({sources}):\n{message}", file=sys.stderr)
    sys.exit(1)


def validate_or_reject(data, schema, where):
    try:
        validate(data, schema=schema)
    except WorkflowError as error:
        cause = error.__context__
        if cause is None or not hasattr(cause, "validator"):
            reject_config(str(error))
        # Snakemake names the failing row of a data frame only in its message (0-based).
        row = re.match(r"Error validating row (\d+)", str(error))
        where += f" row {int(row.group(1)) + 1}" if row else ""
        reject_config(describe_schema_error(cause, where=where))


validate_or_reject(config, "../../config/schemas/config.schema.yaml", "config")
# Every Snakemake process (each cluster job too) parses the config and sizes jobs from the
# videos' headers; the store spares them opening every video again. Absolute, because Snakemake
# returns to the caller's directory before the process exits and the store is written.
PROBE_STORE = Path(".snakemake/snakeherd/video-probes.json").resolve()
load_probe_store(PROBE_STORE)
atexit.register(save_probe_store, PROBE_STORE)
try:
    SAMPLE_SHEET = None
    if config.get("sample_sheet") and not config.get("videos"):
        SAMPLE_SHEET = sample_sheet.read(config["sample_sheet"])
        validate_or_reject(
            SAMPLE_SHEET,
            "../../config/schemas/sample_sheet.schema.yaml",
            f"sample_sheet {config['sample_sheet']}",
        )
    VIDEOS = {entry.id: entry for entry in check_config(config, SAMPLE_SHEET)}
except ConfigError as error:
    reject_config(str(error))

EXPERIMENT = config["experiment"]
RESULTS = f"results/{EXPERIMENT}"
LOGS = f"{RESULTS}/logs"
BENCHMARKS = f"{RESULTS}/benchmarks"
TRACKING = config["tracking"]["enabled"]
RUNTIME = config["runtime"]
DETECTION = config["detection"]["method"]
POSE = config["pose"]["method"]
POSE_MODE = config["pose"]["mode"]
SLEAP = POSE == "sleap"
# Track-only runs: no detection or pose stage; each video's `predictions` .slp is tracked.
TRACK_ONLY = DETECTION == "none" and POSE == "none"
HAS_POSES = TRACK_ONLY or POSE != "none"
CORE_ENV = "../../envs/core.yaml"


wildcard_constraints:
    video=r"[A-Za-z0-9][A-Za-z0-9_.-]*",


def video_path(video_id):
    """The video of an entry (None for a track-only video given without a path)."""
    entry = VIDEOS[video_id]
    if entry.is_synthetic:
        return f"{RESULTS}/{entry.id}/synthetic/video.mp4"
    return entry.path


def video_file(wildcards):
    """The video as an input (an empty list for a track-only video without a path)."""
    return video_path(wildcards.video) or []


def video_frames(wildcards):
    """The video's frame selection, as its jobs take it (`0-100,200-300`; empty: all)."""
    return str(VIDEOS[wildcards.video].frames)


def predictions_file(wildcards):
    return VIDEOS[wildcards.video].predictions


def ground_truth_file(wildcards):
    entry = VIDEOS[wildcards.video]
    if entry.is_synthetic:
        return f"{RESULTS}/{entry.id}/synthetic/ground_truth.parquet"
    return entry.ground_truth


def has_ground_truth(entry):
    """Tracking is scored against the video's ground truth (pose-only .slp files are not)."""
    if not TRACKING:
        return False
    if entry.is_synthetic:
        return True
    from snakeherd.slp import has_tracks  # sleap-io, only when a .slp is asked about

    return entry.ground_truth is not None and not (
        SLEAP
        and entry.ground_truth.endswith(".slp")
        and not has_tracks(entry.ground_truth)
    )


def evaluated_videos():
    return [entry.id for entry in VIDEOS.values() if has_ground_truth(entry)]


def has_pose_ground_truth(entry):
    return (
        SLEAP and entry.ground_truth is not None and entry.ground_truth.endswith(".slp")
    )


def provenance_sources(wildcards):
    """What a video's provenance record names besides its results: its entry and input files.

    One params function (not one per item) because Snakemake inspects every function of every
    job while it builds the DAG. MODEL_FILES comes from export.smk.
    """
    entry = VIDEOS[wildcards.video]
    return {
        "entry": entry.as_dict(),
        "inputs": {
            "video": video_path(entry.id),
            "predictions": entry.predictions,
            "ground_truth": ground_truth_file(wildcards),
            **MODEL_FILES,
        },
    }


def tracking_inputs():
    """Inputs of tracking: the detections, their keypoints when a pose stage or .slp has them,
    and SLEAP's poses.slp, which the provenance record written with the tracks describes.

    Patterns, not an input function: Snakemake calls input functions for every job.
    """
    folder = f"{RESULTS}/{{video}}"
    inputs = {"detections": f"{folder}/detections.parquet"}
    if HAS_POSES:
        inputs["poses"] = f"{folder}/poses.parquet"
    if SLEAP:
        inputs["poses_slp"] = f"{folder}/poses.slp"
    return inputs


def video_results(wildcards):
    """Every result file of a video without tracking (what its provenance record describes)."""
    entry = VIDEOS[wildcards.video]
    folder = f"{RESULTS}/{entry.id}"
    results = {"detections": f"{folder}/detections.parquet"}
    if HAS_POSES:
        results["poses"] = f"{folder}/poses.parquet"
    if SLEAP:
        results["poses_slp"] = f"{folder}/poses.slp"
    if has_pose_ground_truth(entry):
        results["pose_evaluation"] = f"{folder}/pose_evaluation.json"
    return results


def final_outputs():
    outputs = [f"{RESULTS}/{video_id}/provenance.json" for video_id in VIDEOS]
    outputs += [
        f"{RESULTS}/{entry.id}/pose_evaluation.json"
        for entry in VIDEOS.values()
        if has_pose_ground_truth(entry)
    ]
    if evaluated_videos():
        outputs.append(f"{RESULTS}/evaluation_summary.csv")
    return outputs


def report_success():
    from snakeherd.evaluation import print_run_summary  # pandas: only at the end

    print_run_summary(RESULTS)
