# YOLO model exports: a YOLO stage on an exporting runtime (onnx_*, tract, tensorrt) runs
# <stem>.onnx or <stem>.engine, next to the .pt or in export_dir; one export rule per model the
# config's runtime needs exported, checked against the .pt on real frames.

YOLO_EXPORTS = {}
# The environment of the YOLO rules follows the runtime: the lean ONNX path never needs torch.
YOLO_ENV = f"../../{runtime_table.get(RUNTIME).env(runtime_table.YOLO)}"
# The export rules run Ultralytics: its TensorRT build for engines, the plain one for ONNX.
YOLO_EXPORT_ENV = f"../../{runtime_table.get(RUNTIME).env(runtime_table.YOLO_EXPORT)}"


def yolo_model(source, task, key, settings):
    """The model file a YOLO stage runs on this runtime; registers the export it needs."""
    runtime = runtime_table.get(RUNTIME)
    if not runtime.exports:
        return source
    suffix = ".engine" if runtime.family == runtime_table.TENSORRT else ".onnx"
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


for artifact, settings in YOLO_EXPORTS.items():

    rule:
        name:
            f"export_yolo_{settings['task']}"
        input:
            model=settings["source"],
            video=video_path(PARITY_VIDEOS[0]),
        output:
            artifact=artifact,
            parity=f"{artifact}.parity.json",
        log:
            f"{UPSTREAM_LOGS}/export_yolo_{settings['task']}.log",
        benchmark:
            f"{UPSTREAM_BENCHMARKS}/export_yolo_{settings['task']}.tsv"
        conda:
            YOLO_EXPORT_ENV
        threads: 1
        resources:
            # TensorRT engines are built on the GPU they run on.
            **job_sizing.rule_resources(
                "export",
                config,
                VIDEOS,
                gpu=runtime_table.get(RUNTIME).family == runtime_table.TENSORRT,
            ),
        params:
            runtime=RUNTIME,
            trust_model_files=config["trust_model_files"],
            settings=settings,
            videos=[video_path(video_id) for video_id in PARITY_VIDEOS],
            frames=[str(VIDEOS[video_id].frames) for video_id in PARITY_VIDEOS],
            tolerance=config["export"],
        script:
            "../scripts/export_yolo.py"
