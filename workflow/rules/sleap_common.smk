# The SLEAP stage's globals and input functions (its rules are in sleap.smk): the pipeline the
# model folders form, the Python that runs the SLEAP rules, where exports go.
import shlex

from snakemake.settings.types import DeploymentMethod

from snakeherd.sleap import env as sleap_env
from snakeherd.sleap import models as sleap_models
from snakeherd.synthetic import SceneSpec
from snakeherd.video import probe

try:
    SLEAP_PIPELINE = sleap_models.resolve_pipeline(
        config["pose"]["models"], config["detection"]["method"]
    )
    SLEAP_ENV_PYTHON = sleap_env.resolve_env(config["pose"]["env"])
except ConfigError as error:
    reject_config(str(error))

SLEAP_SCRIPTS = f"{workflow.basedir}/workflow/scripts"
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
SLEAP_NODES = list(SLEAP_PIPELINE.node_names)
SLEAP_CROP_SIZE = SLEAP_PIPELINE.models[-1].crop_size or 0
# Checkpoints load through torch's restricted unpickler first unless the config trusts them.
SLEAP_TRUST_ARGUMENT = "--trust-model-files" if config["trust_model_files"] else ""


def sleap_python():
    """pose.env's interpreter; else the conda env's (under --sdm conda) or Snakemake's."""
    if SLEAP_ENV_PYTHON:
        return SLEAP_ENV_PYTHON
    if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method:
        return "python"
    return sys.executable


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


def sleap_export_folder(video_id):
    """The export this video runs on (None on torch runtimes or an unreadable video)."""
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
        "preflight": ancient(f"{UPSTREAM}/sleap/preflight.json"),
        "video": video_file(wildcards),
        "models": SLEAP_PIPELINE.files(),
    }
    folder = sleap_export_folder(wildcards.video)
    if folder:
        inputs["export"] = folder
    if SLEAP_PIPELINE.on_crops:
        chunk = wildcards.get("chunk")
        inputs["boxes"] = (
            f"{UPSTREAM}/{wildcards.video}/sleap/boxes.npz"
            if chunk is None
            # A chunk job reads its own chunk's boxes, not the whole video's.
            else f"{UPSTREAM}/{wildcards.video}/chunks/sleap_boxes.{chunk}.npz"
        )
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
