"""The SLEAP rules' entry point, run by the SLEAP environment's Python (not Snakemake's).

    python sleap_stage.py preflight --runtime R --output preflight.json --log LOG
    python sleap_stage.py export    --runtime R --kind K --models DIR... --folder OUT ...
    python sleap_stage.py predict   --runtime R --kind K --models DIR... --video V ...
    python sleap_stage.py evaluate  --predictions poses.slp --ground-truth gt.slp ...

Thin: parses arguments, sets up the log, hides accelerators for CPU runtimes before any framework
is imported, and calls the ``snakeherd`` library; a problem the user can fix ends the job with
one readable message.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from snakeherd import runtimes
from snakeherd.errors import SnakeherdError
from snakeherd.scripting import configure_logging

logger = logging.getLogger("snakeherd")


def _route_sleap_nn_logs(log_path: str | None) -> None:
    """sleap-nn logs with loguru; send it to the rule's log instead of the console."""
    try:
        from loguru import logger as loguru_logger
    except ImportError:
        return
    loguru_logger.remove()
    if log_path:
        loguru_logger.add(log_path, level="INFO", format="{time:HH:mm:ss} sleap-nn: {message}")


def preflight(args) -> None:
    from snakeherd.sleap_preflight import run_preflight

    report = run_preflight(args.runtime)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    logger.info(
        "SLEAP environment %s can run '%s': %s", report["python"], args.runtime, report["versions"]
    )


def export(args) -> None:
    from snakeherd.sleap_export import export_and_check

    _route_sleap_nn_logs(args.log)
    report = export_and_check(
        kind=args.kind,
        model_paths=args.models,
        folder=args.folder,
        runtime=args.runtime,
        height=args.height,
        width=args.width,
        video=args.video,
        parity_frames=args.parity_frames,
        tolerance_px=args.tolerance,
        node_names=args.nodes,
        crop_size=args.crop_size,
        threads=args.threads,
        max_instances=args.max_instances,
    )
    logger.info(
        "exported to %s; keypoints vs checkpoint: median %s px corrected (%s px as sleap-nn "
        "exported it)",
        args.folder,
        report["corrected"]["median_px"],
        report["raw"]["median_px"],
    )


def predict(args) -> None:
    from snakeherd import sleap_inference, sleap_runtime

    _route_sleap_nn_logs(args.log)
    timing = sleap_inference.Timing()
    capability = runtimes.check_node(args.runtime, "sleap")
    frames = sleap_inference.resolve_frames(args.video, args.frames)
    predictor = sleap_runtime.build_predictor(
        args.models,
        args.runtime,
        args.export,
        args.batch_size,
        args.threads,
        max_instances=args.max_instances,
    )
    timing.model_loaded = time.perf_counter()
    if args.kind == "crops":
        detections = sleap_inference.read_detections(args.detections)
        arrays = sleap_inference.predict_crops(
            predictor,
            args.video,
            frames,
            detections,
            args.crop_size,
            args.crop_scale,
            args.batch_size,
            timing,
            args.nodes,
        )
        labels = sleap_inference.arrays_to_labels(arrays, args.video, predictor.skeleton)
    else:
        labels = sleap_inference.predict_whole_frames(predictor, args.video, frames, timing)
        arrays = sleap_inference.labels_to_arrays(labels, args.nodes)
    sleap_inference.save_slp(labels, args.slp)
    stage = {
        "method": "sleap",
        "pipeline": args.kind,
        "models": list(args.models),
        "export": args.export,
        "runtime": capability.as_dict(),
        "frame_selection": args.frames,
        "frames": len(frames),
        "batch_size": args.batch_size,
        "max_instances": args.max_instances,
        "crop_scale": args.crop_scale if args.kind == "crops" else None,
    }
    limit = args.max_instances
    if args.export:
        parity = Path(args.export) / "parity.json"
        if parity.exists():
            report = json.loads(parity.read_text())
            report.pop("export_s", None)  # tables hold nothing time-dependent
            stage["export_parity"] = report
            limit = limit or report.get("max_instances")
    if limit and args.kind != "crops":  # on crops, the detection stage decides how many
        full = sleap_inference.frames_at_limit(arrays, limit)
        stage["frames_at_max_instances"] = full
        if full:
            logger.warning(
                "%d of %d frames have %d animals, the most this run finds per frame: some may "
                "have more. Set pose.max_instances to the most animals a frame can show.",
                full,
                len(frames),
                limit,
            )
    sleap_inference.write_npz(arrays, stage, args.npz)
    summary = timing.summary()
    logger.info(
        "%d instances in %d frames; model load %.2f s, first frame %.2f s, %.2f frames/s",
        len(arrays.frame),
        summary["frames"],
        summary["load_s"] or 0,
        summary["first_frame_s"] or 0,
        summary["fps_after_load"] or 0,
    )
    if args.timing:
        Path(args.timing).write_text(json.dumps(summary) + "\n")


def evaluate(args) -> None:
    from snakeherd.sleap_evaluation import evaluate_poses

    _route_sleap_nn_logs(args.log)
    metrics = evaluate_poses(args.predictions, args.ground_truth, args.frames, args.video_id)
    Path(args.output).write_text(json.dumps(metrics, indent=2) + "\n")
    logger.info("pose evaluation: %s", json.dumps(metrics))


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = main.add_subparsers(dest="command", required=True)

    def command(name, function):
        sub = commands.add_parser(name)
        sub.set_defaults(function=function)
        sub.add_argument("--log")
        return sub

    sub = command("preflight", preflight)
    sub.add_argument("--runtime", required=True)
    sub.add_argument("--output", required=True)

    for name, function in (("export", export), ("predict", predict)):
        sub = command(name, function)
        sub.add_argument("--runtime", required=True)
        sub.add_argument("--kind", required=True)
        sub.add_argument("--models", nargs="+", required=True)
        sub.add_argument("--nodes", nargs="+", required=True)
        sub.add_argument("--video", required=True)
        sub.add_argument("--crop-size", type=int)
        sub.add_argument("--threads", type=int, default=1)
        sub.add_argument("--max-instances", type=int)
    sub = commands.choices["export"]
    sub.add_argument("--folder", required=True)
    sub.add_argument("--height", type=int, required=True)
    sub.add_argument("--width", type=int, required=True)
    sub.add_argument("--parity-frames", type=int, default=8)
    sub.add_argument("--tolerance", type=float, required=True)
    sub = commands.choices["predict"]
    sub.add_argument("--frames", default="")
    sub.add_argument("--export")
    sub.add_argument("--detections")
    sub.add_argument("--crop-scale", type=float, default=1.5)
    sub.add_argument("--batch-size", type=int, default=4)
    sub.add_argument("--slp", required=True)
    sub.add_argument("--npz", required=True)
    sub.add_argument("--timing")

    sub = command("evaluate", evaluate)
    sub.add_argument("--predictions", required=True)
    sub.add_argument("--ground-truth", required=True)
    sub.add_argument("--frames", default="")
    sub.add_argument("--video-id", required=True)
    sub.add_argument("--output", required=True)
    return main


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    configure_logging(args.log)
    runtime = getattr(args, "runtime", "cpu")
    # Before any framework import: CPU runtimes never see an accelerator.
    runtimes.prepare_process(runtime)
    where = f"SLEAP {args.command}"
    try:
        args.function(args)
    except SnakeherdError as error:
        logger.error("%s failed:\n%s", where, error)
        return 1
    except Exception:
        logger.exception("%s failed with an unexpected error (a bug: please report it)", where)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
