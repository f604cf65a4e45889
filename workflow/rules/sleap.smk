# The SLEAP pose stage (pose.method: sleap), run by the SLEAP environment's Python: pose.env, or
# under --sdm conda the runtime's envs/sleap-*.yaml. Snakemake's own environment never imports
# sleap-nn: these rules call workflow/scripts/sleap_stage.py with that interpreter, and the
# main-environment rule sleap_tables turns its arrays into the common tables.
from snakemake.settings.types import DeploymentMethod

RUNTIME = config["runtime"]
SLEAP_SCRIPT = f"{workflow.basedir}/workflow/scripts/sleap_stage.py"
SLEAP_CONDA_ENV = "../../" + sleap_env.conda_env_file(RUNTIME)
SLEAP_FAMILY = sleap_models.runtime_family(RUNTIME)
SLEAP_EXPORT_ROOT = (
    SLEAP_PIPELINE.export_root(SLEAP_FAMILY, config["export_dir"]) if SLEAP_FAMILY else None
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
    return sleap_models.export_folder(SLEAP_PIPELINE, RUNTIME, config["export_dir"], *size)


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


def sleap_export_argument(wildcards, input):
    return f"--export {shlex.quote(input.export)}" if "export" in input.keys() else ""


def sleap_crop_arguments(wildcards, input):
    if not SLEAP_PIPELINE.on_crops:
        return ""
    return (
        f"--detections {shlex.quote(input.boxes)} --crop-size {SLEAP_CROP_SIZE} "
        f"--crop-scale {config['pose']['crop_scale']}"
    )


rule sleap_preflight:
    output:
        temp(f"{RESULTS}/sleap/preflight.json"),
    log:
        f"{LOGS}/sleap_preflight.log",
    benchmark:
        f"{BENCHMARKS}/sleap_preflight.tsv"
    conda:
        SLEAP_CONDA_ENV
    threads: 1
    resources:
        mem_mb=4096,
        runtime=15,
    params:
        python=sleap_python(),
        script=SLEAP_SCRIPT,
        runtime=RUNTIME,
    shell:
        "{params.python:q} {params.script:q} preflight --runtime {params.runtime}"
        " --output {output:q} --log {log:q}"


if SLEAP_EXPORT_ROOT:

    rule sleap_export:
        input:
            preflight=ancient(f"{RESULTS}/sleap/preflight.json"),
            models=SLEAP_PIPELINE.files(),
        output:
            directory(f"{SLEAP_EXPORT_ROOT}/{{height}}x{{width}}"),
        log:
            f"{LOGS}/sleap_export_{{height}}x{{width}}.log",
        benchmark:
            f"{BENCHMARKS}/sleap_export_{{height}}x{{width}}.tsv"
        wildcard_constraints:
            height=r"\d+",
            width=r"\d+",
        conda:
            SLEAP_CONDA_ENV
        threads: config["pose"]["threads"]
        resources:
            mem_mb=8192,
            runtime=60,
        params:
            python=sleap_python(),
            script=SLEAP_SCRIPT,
            runtime=RUNTIME,
            kind=SLEAP_PIPELINE.kind,
            models=SLEAP_PIPELINE.paths,
            nodes=SLEAP_NODES,
            crop_size=SLEAP_CROP_SIZE,
            video=sleap_parity_video,
            parity_frames=config["pose"]["export_parity_frames"],
            tolerance=config["pose"]["export_tolerance_px"],
        shell:
            "{params.python:q} {params.script:q} export --runtime {params.runtime}"
            " --kind {params.kind} --models {params.models:q} --nodes {params.nodes}"
            " --crop-size {params.crop_size} --video {params.video:q}"
            " --folder {output:q} --height {wildcards.height} --width {wildcards.width}"
            " --parity-frames {params.parity_frames} --tolerance {params.tolerance}"
            " --threads {threads} --log {log:q}"


if SLEAP_PIPELINE.on_crops:

    rule sleap_crop_boxes:
        input:
            f"{RESULTS}/{{video}}/detections.parquet",
        output:
            temp(f"{RESULTS}/{{video}}/sleap/boxes.npz"),
        log:
            f"{LOGS}/{{video}}/sleap_crop_boxes.log",
        benchmark:
            f"{BENCHMARKS}/{{video}}/sleap_crop_boxes.tsv"
        conda:
            CORE_ENV
        threads: 1
        resources:
            mem_mb=1024,
            runtime=10,
        script:
            "../scripts/sleap_crop_boxes.py"


rule sleap_predict:
    input:
        unpack(sleap_predict_inputs),
    output:
        slp=f"{RESULTS}/{{video}}/poses.slp",
        npz=temp(f"{RESULTS}/{{video}}/sleap/poses.npz"),
    log:
        f"{LOGS}/{{video}}/sleap_predict.log",
    benchmark:
        f"{BENCHMARKS}/{{video}}/sleap_predict.tsv"
    conda:
        SLEAP_CONDA_ENV
    threads: config["pose"]["threads"]
    resources:
        mem_mb=8192,
        runtime=240,
    params:
        python=sleap_python(),
        script=SLEAP_SCRIPT,
        runtime=RUNTIME,
        kind=SLEAP_PIPELINE.kind,
        models=SLEAP_PIPELINE.paths,
        nodes=SLEAP_NODES,
        frames=lambda wildcards: str(VIDEOS[wildcards.video].frames),
        batch_size=config["pose"]["batch_size"],
        export=sleap_export_argument,
        crops=sleap_crop_arguments,
    shell:
        "{params.python:q} {params.script:q} predict --runtime {params.runtime}"
        " --kind {params.kind} --models {params.models:q} --nodes {params.nodes}"
        " --video {input.video:q} --frames {params.frames:q} {params.export} {params.crops}"
        " --batch-size {params.batch_size} --threads {threads}"
        " --slp {output.slp:q} --npz {output.npz:q} --log {log:q}"


rule sleap_tables:
    input:
        npz=f"{RESULTS}/{{video}}/sleap/poses.npz",
    output:
        **(
            {"poses": f"{RESULTS}/{{video}}/poses.parquet"}
            if SLEAP_PIPELINE.on_crops
            else {
                "poses": f"{RESULTS}/{{video}}/poses.parquet",
                "detections": f"{RESULTS}/{{video}}/detections.parquet",
            }
        ),
    log:
        f"{LOGS}/{{video}}/sleap_tables.log",
    benchmark:
        f"{BENCHMARKS}/{{video}}/sleap_tables.tsv"
    conda:
        CORE_ENV
    threads: 1
    resources:
        mem_mb=2048,
        runtime=15,
    script:
        "../scripts/sleap_tables.py"


rule sleap_evaluate:
    input:
        preflight=ancient(f"{RESULTS}/sleap/preflight.json"),
        predictions=f"{RESULTS}/{{video}}/poses.slp",
        ground_truth=ground_truth_file,
    output:
        f"{RESULTS}/{{video}}/pose_evaluation.json",
    log:
        f"{LOGS}/{{video}}/sleap_evaluate.log",
    benchmark:
        f"{BENCHMARKS}/{{video}}/sleap_evaluate.tsv"
    conda:
        SLEAP_CONDA_ENV
    threads: 1
    resources:
        mem_mb=4096,
        runtime=30,
    params:
        python=sleap_python(),
        script=SLEAP_SCRIPT,
        frames=lambda wildcards: str(VIDEOS[wildcards.video].frames),
    shell:
        "{params.python:q} {params.script:q} evaluate --predictions {input.predictions:q}"
        " --ground-truth {input.ground_truth:q} --frames {params.frames:q}"
        " --video-id {wildcards.video} --output {output:q} --log {log:q}"
