import atexit
import re
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.settings.types import DeploymentMethod
from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "scripts"))

from snakeherd import resources as job_sizing
from snakeherd.config import check_config, describe_schema_error, read_sample_sheet
from snakeherd.errors import ConfigError, VideoError
from snakeherd import sleap_env, sleap_models
from snakeherd.synthetic import SceneSpec
from snakeherd.video import load_probe_store, probe, save_probe_store


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
        SAMPLE_SHEET = read_sample_sheet(config["sample_sheet"])
        validate_or_reject(
            SAMPLE_SHEET,
            "../../config/schemas/sample_sheet.schema.yaml",
            f"sample_sheet {config['sample_sheet']}",
        )
    VIDEOS = {entry.id: entry for entry in check_config(config, SAMPLE_SHEET)}
except ConfigError as error:
    reject_config(str(error))

SLEAP = config["pose"]["method"] == "sleap"
try:
    if SLEAP:
        SLEAP_PIPELINE = sleap_models.resolve_pipeline(
            config["pose"]["models"], config["detection"]["method"]
        )
        SLEAP_ENV_PYTHON = sleap_env.resolve_env(config["pose"]["env"])
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
# Track-only runs: no detection or pose stage; each video's `predictions` .slp is tracked.
TRACK_ONLY = DETECTION == "none" and POSE == "none"
HAS_POSES = TRACK_ONLY or POSE != "none"
CORE_ENV = "../../envs/core.yaml"
# The environment of the YOLO rules follows the runtime: the lean ONNX path never needs torch.
YOLO_ENV = {
    "onnx_cpu": "../../envs/onnx.yaml",
    "tract": "../../envs/onnx.yaml",
    "onnx_cuda": "../../envs/onnx-cuda.yaml",
    "onnx_rocm": "../../envs/onnx-rocm.yaml",
    "tensorrt": "../../envs/ultralytics-tensorrt.yaml",
}.get(RUNTIME, "../../envs/ultralytics.yaml")
EXPORT_ENV = (
    "../../envs/ultralytics-tensorrt.yaml"
    if RUNTIME == "tensorrt"
    else "../../envs/ultralytics.yaml"
)
RESOURCE_SCALING = job_sizing.Scaling.from_config(config["resources"])


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


def predictions_file(wildcards):
    return VIDEOS[wildcards.video].predictions


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


def ground_truth_file(wildcards):
    entry = VIDEOS[wildcards.video]
    if entry.is_synthetic:
        return f"{RESULTS}/{entry.id}/synthetic/ground_truth.parquet"
    return entry.ground_truth


YOLO_EXPORTS = {}


def yolo_model(source, task, key, settings):
    """The model file a YOLO stage runs on this runtime; registers the export it needs.

    Native runtimes run the .pt itself; ONNX runtimes and tract run <stem>.onnx, TensorRT
    <stem>.engine, next to the .pt or in export_dir.
    """
    if RUNTIME in ("cpu", "mps", "cuda", "rocm"):
        return source
    suffix = ".engine" if RUNTIME == "tensorrt" else ".onnx"
    folder = Path(config["export_dir"]) if config["export_dir"] else Path(source).parent
    artifact = str(folder / (Path(source).stem + suffix))
    YOLO_EXPORTS[artifact] = {
        "source": source,
        "task": task,
        "key": key,
        "imgsz": settings["imgsz"],
        "batch": settings["batch"],
    }
    return artifact


YOLO_DETECTION_MODEL = (
    yolo_model(
        config["detection"]["model"],
        "obb",
        "detection.model",
        config["detection"]["yolo"],
    )
    if DETECTION == "yolo_obb"
    else None
)
YOLO_POSE_MODEL = (
    yolo_model(
        config["pose"]["models"][0], "pose", "pose.models[0]", config["pose"]["yolo"]
    )
    if POSE == "yolo_pose"
    else None
)
# Exports are checked on real frames of the first videos (the first that decodes).
PARITY_VIDEOS = list(VIDEOS)[:3]
# Model files whose checksums go into every provenance record.
MODEL_FILES = {
    name: path
    for name, path in {
        "detection_model": (
            config["detection"]["model"] if DETECTION == "yolo_obb" else None
        ),
        "detection_model_runtime": YOLO_DETECTION_MODEL,
        "pose_model": config["pose"]["models"][0] if POSE == "yolo_pose" else None,
        "pose_model_runtime": YOLO_POSE_MODEL,
    }.items()
    if path is not None
}


def has_ground_truth(entry):
    """Tracking is scored against the video's ground truth (pose-only .slp files are not)."""
    if not TRACKING:
        return False
    if entry.is_synthetic:
        return True
    return entry.ground_truth is not None and not (
        SLEAP
        and entry.ground_truth.endswith(".slp")
        and not slp_has_tracks(entry.ground_truth)
    )


def slp_has_tracks(path):
    """Whether a ground-truth .slp assigns its instances to tracks (else it scores poses only)."""
    try:
        import sleap_io
    except ImportError:
        return True  # the evaluate rule reports what it needs
    return any(
        instance.track is not None
        for frame in sleap_io.load_slp(path).labeled_frames
        for instance in frame.instances
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
    job while it builds the DAG.
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


def frame_size(video_id):
    """(height, width) of a video's frames, known while the DAG is built."""
    entry = VIDEOS[video_id]
    if entry.is_synthetic:
        spec = SceneSpec.from_config(entry.synthetic)
        return spec.height, spec.width
    try:
        info = probe(entry.path)
    except VideoError:
        # Its own jobs report the unreadable video, so --keep-going processes the others.
        return None
    return info.height, info.width


# ---- the SLEAP pose stage (workflow/rules/sleap.smk) ----

if SLEAP:
    SLEAP_SCRIPT = f"{workflow.basedir}/workflow/scripts/sleap_stage.py"
    # pose.env names the environment itself: --sdm conda then builds none for SLEAP rules.
    SLEAP_CONDA_ENV = (
        None if SLEAP_ENV_PYTHON else f"../../{sleap_env.conda_env_file(RUNTIME)}"
    )
    SLEAP_FAMILY = sleap_models.runtime_family(RUNTIME)
    SLEAP_EXPORT_ROOT = (
        SLEAP_PIPELINE.export_root(SLEAP_FAMILY, config["export_dir"])
        if SLEAP_FAMILY
        else None
    )
    SLEAP_NODES = " ".join(SLEAP_PIPELINE.node_names)
    SLEAP_CROP_SIZE = SLEAP_PIPELINE.models[-1].crop_size or 0


def sleap_python():
    """pose.env's interpreter; else the conda env's (under --sdm conda) or Snakemake's."""
    if SLEAP_ENV_PYTHON:
        return SLEAP_ENV_PYTHON
    if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method:
        return "python"
    return sys.executable


def sleap_export_folder(video_id):
    """The export this video runs on (None on native runtimes or an unreadable video)."""
    if not SLEAP_FAMILY:
        return None
    size = frame_size(video_id)
    if size is None:
        return None
    return sleap_models.export_folder(
        SLEAP_PIPELINE, RUNTIME, config["export_dir"], *size
    )


def sleap_parity_video(wildcards):
    """The first video whose frames the export at this size is checked on."""
    height, width = int(wildcards.height), int(wildcards.width)
    for video_id in VIDEOS:
        size = frame_size(video_id)
        if size is None:
            continue
        if SLEAP_PIPELINE.on_crops or size == (height, width):
            return video_path(video_id)
    raise WorkflowError(f"no video of {height}x{width} to check the SLEAP export on")


def sleap_predict_inputs(wildcards):
    inputs = {
        "preflight": ancient(f"{RESULTS}/sleap/preflight.json"),
        "video": video_file(wildcards),
        "models": SLEAP_PIPELINE.files(),
    }
    folder = sleap_export_folder(wildcards.video)
    if folder:
        inputs["export"] = folder
    if SLEAP_PIPELINE.on_crops:
        inputs["boxes"] = f"{RESULTS}/{wildcards.video}/sleap/boxes.npz"
    return inputs


def sleap_max_instances_argument():
    limit = config["pose"]["max_instances"]
    return f"--max-instances {int(limit)}" if limit else ""


def sleap_export_argument(wildcards, input):
    return f"--export {shlex.quote(input.export)}" if "export" in input.keys() else ""


def sleap_crop_arguments(wildcards, input):
    if not SLEAP_PIPELINE.on_crops:
        return ""
    return (
        f"--detections {shlex.quote(input.boxes)} --crop-size {SLEAP_CROP_SIZE} "
        f"--crop-scale {config['pose']['crop_scale']}"
    )


def video_workload(wildcards):
    """The frames a per-video job processes (a fixed guess for jobs without a video)."""
    video = wildcards.get("video")
    if video is None:
        return job_sizing.UNKNOWN_WORKLOAD
    return job_sizing.workload_of(VIDEOS[video])


def job_resources(rule_name, runtime=None, batch=1):
    """`resources:` of a rule, sized from its video: `resources: **job_resources("track")`.

    mem_mb and runtime (minutes) follow the frames and frame size the job processes
    (snakeherd.resources has each rule's cost model) and grow with each retry after SLURM
    kills a job for memory or time. CPUs are the rule's `threads:` (the SLURM plugin asks
    for --cpus-per-task=threads; a cpus_per_task resource would only add DAG time). Model
    stages pass their stage name (yolo_obb, yolo_pose, sleap): see model_job_resources.
    """
    cost = job_sizing.rule_cost(rule_name, config, runtime=runtime, batch=batch)

    def mem_mb(wildcards, attempt):
        return job_sizing.memory_request_mb(
            cost, video_workload(wildcards), RESOURCE_SCALING, attempt
        )

    def runtime_minutes(wildcards, attempt):
        return job_sizing.runtime_request_minutes(
            cost, video_workload(wildcards), RESOURCE_SCALING, attempt
        )

    return {"mem_mb": mem_mb, "runtime": runtime_minutes}


def model_job_resources(stage, batch=1):
    """`resources:` of a model rule: job_resources plus a GPU when the runtime needs one.

    `resources: **model_job_resources("yolo_obb", batch=...)`. cuda, rocm, onnx_cuda,
    onnx_rocm and tensorrt request `gres=gpu:1` (sbatch --gres); cpu, onnx_cpu, tract and
    mps (Apple only, never a cluster node) request none, so those jobs never wait for or hold
    a GPU node.
    """
    runtime = config["runtime"]
    return {
        **job_resources(stage, runtime=runtime, batch=batch),
        **job_sizing.gpu_request(runtime),
    }


def export_job_resources():
    """`resources:` of a model export rule; TensorRT engines are built on the GPU they run on."""
    runtime = config["runtime"]
    return {
        **job_resources("export", runtime=runtime),
        **(job_sizing.gpu_request(runtime) if runtime == "tensorrt" else {}),
    }


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
    summary = Path(f"{RESULTS}/evaluation_summary.parquet")
    if summary.exists():
        import pandas as pd
        from snakeherd.evaluation import format_summary

        print(
            f"\nTracking evaluation ({summary.with_suffix('.csv')}):", file=sys.stderr
        )
        print(format_summary(pd.read_parquet(summary)), file=sys.stderr)
    print(f"\nsnakeherd: results are in {Path(RESULTS).resolve()}/", file=sys.stderr)
