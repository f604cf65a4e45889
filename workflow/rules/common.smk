import atexit
import os
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "scripts"))

from snakeherd import chunks as chunking
from snakeherd import resources as job_sizing
from snakeherd import sample_sheet
from snakeherd.config import check_config, describe_schema_error, yaml_problem
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


# The default config is the embedded demo; a config given on the command line replaces it
# rather than being merged into it, so demo keys never leak into a user's run. (Snakemake reads
# a --configfile itself, before this file runs; `make check-config` names a broken one's line.)
if not workflow.config_settings.configfiles:
    DEFAULT_CONFIG = f"{workflow.basedir}/config/config.yaml"
    if problem := yaml_problem(DEFAULT_CONFIG):
        reject_config(f"not valid YAML: {problem}")

    configfile: DEFAULT_CONFIG


def schema_problem(data, schema, where):
    """What is wrong with ``data`` against the JSON schema (filling in its defaults), or None."""
    try:
        validate(data, schema=schema)
    except WorkflowError as error:
        cause = error.__context__
        if cause is None or not hasattr(cause, "validator"):
            return str(error)
        # Snakemake names the failing row of a data frame only in its message (0-based).
        row = re.match(r"Error validating row (\d+)", str(error))
        where += f" row {int(row.group(1)) + 1}" if row else ""
        return describe_schema_error(cause, where=where)
    return None


def validate_or_reject(data, schema, where):
    if problem := schema_problem(data, schema, where):
        reject_config(problem)


# experiments.smk loads this workflow once per variant (a Snakemake module) with the variant's
# config and where its results and its shared stages go.
VARIANT_LAYOUT = config.pop("_variant", None)
# Whether the config itself sets chunk_frames (validation fills in the default): a track-only run
# ignores it, and says so.
CHUNK_FRAMES_GIVEN = "chunk_frames" in config or any(
    isinstance(video, dict) and "chunk_frames" in video
    for video in config.get("videos") or []
)
# A variant's config was validated (and its defaults filled in) by experiments.smk already.
if not VARIANT_LAYOUT:
    validate_or_reject(config, "../../config/schemas/config.schema.yaml", "config")
# Every Snakemake process (each cluster job too) parses the config and sizes jobs from the
# videos' headers; the store spares them opening every video again. Absolute, because Snakemake
# returns to the caller's directory before the process exits and the store is written.
PROBE_STORE = Path(".snakemake/snakeherd/video-probes.json").resolve()
# A variant's module shares the store of the workflow that loads it.
if not VARIANT_LAYOUT:
    load_probe_store(PROBE_STORE)
    atexit.register(save_probe_store, PROBE_STORE)
try:
    SAMPLE_SHEET = None
    if config.get("sample_sheet") and not config.get("videos") and not VARIANT_LAYOUT:
        SAMPLE_SHEET = sample_sheet.read(config["sample_sheet"])
        validate_or_reject(
            SAMPLE_SHEET,
            "../../config/schemas/sample_sheet.schema.yaml",
            f"sample_sheet {config['sample_sheet']}",
        )
    if VARIANT_LAYOUT:  # experiments.smk checked this variant and its videos already
        VIDEOS = VARIANT_LAYOUT["videos"]
    else:
        VIDEOS = {entry.id: entry for entry in check_config(config, SAMPLE_SHEET)}
except ConfigError as error:
    reject_config(str(error))

EXPERIMENT = config["experiment"]
EXPERIMENTS = "experiments" in config
RESULTS = f"results/{EXPERIMENT}"
# The stages before tracking (detection, pose) write under UPSTREAM and generated videos under
# SYNTHETIC: the results folder without experiments; in a variant, the folders it shares with
# the variants of the same settings (snakeherd.experiments: the upstream key) or with all.
UPSTREAM = SYNTHETIC = RESULTS
if VARIANT_LAYOUT:
    RESULTS = f"{RESULTS}/{VARIANT_LAYOUT['name']}"
    UPSTREAM = f"results/{EXPERIMENT}/shared/upstream-{VARIANT_LAYOUT['upstream']}"
    SYNTHETIC = f"results/{EXPERIMENT}/shared"
LOGS = f"{RESULTS}/logs"
BENCHMARKS = f"{RESULTS}/benchmarks"
UPSTREAM_LOGS = f"{UPSTREAM}/logs"
UPSTREAM_BENCHMARKS = f"{UPSTREAM}/benchmarks"
SYNTHETIC_LOGS = f"{SYNTHETIC}/logs"
SYNTHETIC_BENCHMARKS = f"{SYNTHETIC}/benchmarks"
TRACKING = config["tracking"]["enabled"]
PROOFREADING = TRACKING and config["proofreading"]["enabled"]
RUNTIME = config["runtime"]
DETECTION = config["detection"]["method"]
POSE = config["pose"]["method"]
POSE_MODE = config["pose"]["mode"]
SLEAP = POSE == "sleap"
# Track-only runs: no detection or pose stage; each video's `predictions` .slp is tracked.
TRACK_ONLY = DETECTION == "none" and POSE == "none"
HAS_POSES = TRACK_ONLY or POSE != "none"
if TRACK_ONLY and (
    CHUNK_FRAMES_GIVEN
    or (SAMPLE_SHEET is not None and "chunk_frames" in SAMPLE_SHEET.columns)
):
    print(
        "snakeherd: note: chunk_frames is ignored in a track-only run (no detection or pose "
        "stage to split; tracking reads each .slp whole).",
        file=sys.stderr,
    )
CORE_ENV = "../../envs/core.yaml"
# `snakemake --report` builds the DAG of the targets and stops on any file flagged for the report
# that does not exist. After a run where some videos failed (--keep-going), the report covers
# what exists: only existing results are targets, and the batch pages name what is missing.
REPORTING = any(
    argument == "--report" or argument.startswith("--report=") for argument in sys.argv
)


# A video id, as config.py checks it (also the base of the chunk rules' constraints below).
VIDEO_ID = r"[A-Za-z0-9][A-Za-z0-9_.-]*"


wildcard_constraints:
    video=VIDEO_ID,


def video_path(video_id):
    """The video of an entry (None for a track-only video given without a path)."""
    entry = VIDEOS[video_id]
    if entry.is_synthetic:
        return f"{SYNTHETIC}/{entry.id}/synthetic/video.mp4"
    return entry.path


def video_file(wildcards):
    """The video as an input (an empty list for a track-only video without a path)."""
    return video_path(wildcards.video) or []


def video_frames(wildcards):
    """The video's frame selection, as its jobs take it (`0-100,200-300`; empty: all)."""
    return str(VIDEOS[wildcards.video].frames)


# Chunks (rules/chunks.smk): a video longer than its chunk_frames runs each model stage as one
# job per chunk of its selected frames, and join_chunks joins the chunk tables. The rules of a
# whole video take only the other videos (WHOLE_VIDEO), so no output has two rules.
VIDEO_CHUNKS = {video_id: chunking.plan(entry) for video_id, entry in VIDEOS.items()}
CHUNKED_VIDEOS = sorted(
    video_id for video_id, plan in VIDEO_CHUNKS.items() if len(plan) > 1
)
# Tables whose stage runs per chunk and join_chunks joins: YOLO and background detection, YOLO
# pose. SLEAP's chunks are joined by sleap_join_chunks (rules/sleap.smk) before sleap_tables.
CHUNKED_TABLES = [
    table
    for table, chunked in (
        (
            "detections",
            DETECTION in ("background", "yolo_obb")
            or (POSE == "yolo_pose" and POSE_MODE == "frames"),
        ),
        ("poses", POSE == "yolo_pose"),
    )
    if chunked
]


def video_id_pattern(video_ids):
    """A wildcard constraint that matches exactly these video ids (nothing when there are none)."""
    return "|".join(re.escape(video_id) for video_id in video_ids) or r"(?!)"


# Every video id but the chunked ones (a short exclusion: most runs chunk few or no videos, and
# Snakemake matches these patterns against every file of the DAG).
CHUNKED_STAGES = bool(CHUNKED_TABLES) or SLEAP
CHUNKED_VIDEO = video_id_pattern(CHUNKED_VIDEOS if CHUNKED_STAGES else [])
WHOLE_VIDEO = (
    rf"(?!(?:{CHUNKED_VIDEO})(?:/|$)){VIDEO_ID}"
    if CHUNKED_VIDEOS and CHUNKED_STAGES
    else VIDEO_ID
)


def chunk_frames(wildcards):
    """The frame selection of one chunk job (`90-99,150-179`)."""
    return str(VIDEO_CHUNKS[wildcards.video][int(wildcards.chunk)])


def chunk_tables(wildcards):
    """The chunk tables join_chunks joins, in frame order."""
    folder = f"{UPSTREAM}/{wildcards.video}/chunks"
    return [
        f"{folder}/{wildcards.table}.{index}.parquet"
        for index in range(len(VIDEO_CHUNKS[wildcards.video]))
    ]


def sleap_chunk_predictions(wildcards):
    """The chunk predictions sleap_join_chunks joins, in frame order."""
    folder = f"{UPSTREAM}/{wildcards.video}/chunks"
    indices = range(len(VIDEO_CHUNKS[wildcards.video]))
    return {
        "npz": [f"{folder}/sleap_poses.{index}.npz" for index in indices],
        "slp": [f"{folder}/poses.{index}.slp" for index in indices],
    }


def chunk_plan(wildcards):
    """The join's params: every chunk's frames, and the video's whole selection they split."""
    return {
        "chunks": [str(chunk) for chunk in VIDEO_CHUNKS[wildcards.video]],
        "selection": str(chunking.resolved_selection(VIDEOS[wildcards.video])),
    }


def predictions_file(wildcards):
    return VIDEOS[wildcards.video].predictions


def ground_truth_file(wildcards):
    entry = VIDEOS[wildcards.video]
    if entry.is_synthetic:
        return f"{SYNTHETIC}/{entry.id}/synthetic/ground_truth.parquet"
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
            "proofread": entry.proofread,
            **MODEL_FILES,
        },
    }


def tracking_inputs():
    """Inputs of tracking: the detections, their keypoints when a pose stage or .slp has them,
    SLEAP's poses.slp, which the provenance record written with the tracks describes, and for
    proofreading the video and the video's proofread file.

    Patterns, not an input function: Snakemake calls input functions for every job.
    """
    folder = f"{UPSTREAM}/{{video}}"
    inputs = {"detections": f"{folder}/detections.parquet"}
    if HAS_POSES:
        inputs["poses"] = f"{folder}/poses.parquet"
    if SLEAP:
        inputs["poses_slp"] = f"{folder}/poses.slp"
    if any(entry.proofread for entry in VIDEOS.values()):
        inputs["proofread"] = proofread_file
    if PROOFREADING and config["proofreading"]["package"]:
        # The suspect frames' images go into proofread.pkg.slp.
        inputs["video"] = video_file
    return inputs


def proofread_file(wildcards):
    """The video's proofread .slp, whose corrections make its tracks of record (or none); of an
    X-AnyLabeling folder its JSONs (a JSON saved again re-runs the track job, which a folder's
    own time does not show)."""
    proofread = VIDEOS[wildcards.video].proofread
    if proofread and Path(proofread).is_dir():
        return sorted(str(path) for path in Path(proofread).glob("*.json"))
    return proofread or []


def video_results(wildcards):
    """Every result file of a video without tracking (what its provenance record describes)."""
    entry = VIDEOS[wildcards.video]
    folder = f"{UPSTREAM}/{entry.id}"
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
        f"{UPSTREAM}/{entry.id}/pose_evaluation.json"
        for entry in VIDEOS.values()
        if has_pose_ground_truth(entry)
    ]
    if evaluated_videos():
        outputs.append(f"{RESULTS}/evaluation_summary.csv")
    outputs += presentation_outputs()
    outputs += analysis_file_outputs()
    outputs += proofreading_outputs()
    if REPORTING:  # the report covers what exists (report.smk)
        return [path for path in outputs if Path(path).exists()]
    return outputs


def suspect_files():
    """What the track job writes for proofreading: the suspect stretches (also tracks.slp's
    suggestions) and the SLEAP package of their frames (proofreading.package)."""
    if not PROOFREADING:
        return {}
    folder = f"{RESULTS}/{{video}}"
    files = {
        "suspects": f"{folder}/suspects.parquet",
        "suspects_csv": f"{folder}/suspects.csv",
    }
    if config["proofreading"]["package"]:
        files["package"] = f"{folder}/proofread.pkg.slp"
    return files


def proofreading_outputs():
    """Per video: the X-AnyLabeling folder of its suspect frames (proofreading.smk), when asked
    for and the video file is known (its frames are copied)."""
    if not PROOFREADING or not config["proofreading"]["xanylabeling"]:
        return []
    return [
        f"{RESULTS}/{video_id}/xanylabeling"
        for video_id in VIDEOS
        if video_path(video_id) is not None
    ]


def presentation_outputs():
    """Per video: the overlay video (when asked for and the video file is known) and the plots
    (when tracking is on)."""
    outputs = []
    if config["outputs"]["overlay"]["enabled"]:
        outputs += [
            f"{RESULTS}/{video_id}/overlay.mp4"
            for video_id in VIDEOS
            if video_path(video_id) is not None
        ]
    if TRACKING and config["outputs"]["plots"]:
        outputs += [f"{RESULTS}/{video_id}/plots/timeline.png" for video_id in VIDEOS]
    outputs.append(f"{RESULTS}/report/summary.html")  # report.smk: the batch pages
    return outputs


def report_success():
    from snakeherd.evaluation import print_run_summary  # pandas: only at the end

    print_run_summary(RESULTS)


def analysis_file_names():
    """The rule's outputs (patterns), as the config's outputs.nwb and outputs.analysis_h5 ask."""
    folder = f"{RESULTS}/{{video}}"
    names = {}
    if config["outputs"]["nwb"]:
        names["nwb"] = directory(f"{folder}/nwb")
    if config["outputs"]["analysis_h5"]:
        names["analysis_h5"] = f"{folder}/tracks.analysis.h5"
    return names


def analysis_file_outputs():
    """Every video's analysis files (none without tracking: the tracks are what they hold)."""
    if not TRACKING:
        return []
    names = []
    if config["outputs"]["nwb"]:
        names.append("nwb")
    if config["outputs"]["analysis_h5"]:
        names.append("tracks.analysis.h5")
    return [f"{RESULTS}/{video_id}/{name}" for video_id in VIDEOS for name in names]


# Looking at the results: the inputs and report entries of overlay.smk, plots.smk, report.smk.
def overlay_inputs():
    """The video and every table an overlay draws (patterns: no input function per job)."""
    upstream = f"{UPSTREAM}/{{video}}"
    inputs = {"video": video_file, "detections": f"{upstream}/detections.parquet"}
    if HAS_POSES:
        inputs["poses"] = f"{upstream}/poses.parquet"
    if TRACKING:
        inputs["tracks"] = f"{RESULTS}/{{video}}/tracks.parquet"
    return inputs


def plot_inputs():
    """The tables the plots read, and the video for the trajectories' background (patterns: no
    input function per job)."""
    folder = f"{RESULTS}/{{video}}"
    upstream = f"{UPSTREAM}/{{video}}"
    inputs = {
        "video": video_file,
        "detections": f"{upstream}/detections.parquet",
        "tracks": f"{folder}/tracks.parquet",
    }
    if HAS_POSES:
        inputs["poses"] = f"{upstream}/poses.parquet"
    # Without scored videos no job has one: no function for Snakemake to call per job.
    if evaluated_videos():
        inputs["ground_truth"] = evaluated_ground_truth
    inputs["provenance"] = f"{folder}/provenance.json"  # the track job writes it
    if PROOFREADING:
        inputs["suspects"] = f"{folder}/suspects.parquet"  # the track job writes it too
    return inputs


def evaluated_ground_truth(wildcards):
    """The ground truth of a video that is scored (none otherwise), for the errors plot."""
    entry = VIDEOS[wildcards.video]
    return ground_truth_file(wildcards) if has_ground_truth(entry) else []


def video_plot(name, figure):
    """A plot of one video, shown in the report's section of that video."""
    return report(
        f"{RESULTS}/{{video}}/plots/{name}.png",
        caption=f"../report/{name}.rst",
        category="Videos",
        subcategory="{video}",
        labels={"video": "{video}", "figure": figure},
    )


BATCH_PAGES = f"{RESULTS}/report"


def batch_inputs(wildcards):
    """Everything the batch pages describe: every video's results (only those that exist, when
    making the report)."""
    return [path for path in final_outputs() if not path.startswith(f"{BATCH_PAGES}/")]


def write_batch_pages_after_failure():
    """The batch pages of a run that ended with failed jobs (e.g. --keep-going), naming what is
    missing, so that `snakemake --report` still has them."""
    from snakeherd.report import VideoFolder, write_batch_pages

    videos = [
        VideoFolder(video_id, Path(RESULTS) / video_id, has_ground_truth(entry))
        for video_id, entry in VIDEOS.items()
    ]
    try:
        write_batch_pages(videos, BENCHMARKS, BATCH_PAGES)
        # No job wrote these pages, so Snakemake has no record of them: dated to the epoch,
        # they are older than any result and the next run remakes them with its own job.
        for page in Path(BATCH_PAGES).iterdir():
            os.utime(page, (0, 0))
    except Exception as error:
        # Never hide the failure that ended the run behind this one.
        print(f"snakeherd: could not write the batch pages: {error}", file=sys.stderr)
        return
    print(
        f"snakeherd: some jobs failed; {BATCH_PAGES}/summary.html names what is missing. "
        "`snakemake --report report.html` makes a report of what exists.",
        file=sys.stderr,
    )


def batch_page(name, caption, label):
    return report(
        f"{BATCH_PAGES}/{name}",
        caption=f"../report/{caption}.rst",
        category="Batch",
        labels={"page": label},
    )
