"""Rule sleap_export, run by the SLEAP environment's Python: export the models at one input size
and check the export against its checkpoints.

    python sleap_export.py --runtime R --kind K --models DIR... --nodes N... --video V
        --folder OUT --height H --width W --tolerance PX [--parity-frames 8] --log LOG
"""

from snakeherd import runtimes
from snakeherd.scripting import logger, run_command
from snakeherd.sleap import commands


def main(args):
    from snakeherd.sleap.export import export_and_check

    commands.route_sleap_nn_logs(args.log)
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
        trust_model_files=args.trust_model_files,
    )
    logger.info(
        "exported to %s; keypoints vs checkpoint: median %s px corrected (%s px as sleap-nn "
        "exported it)",
        args.folder,
        report["corrected"]["median_px"],
        report["raw"]["median_px"],
    )


if __name__ == "__main__":
    arguments = commands.parser(__doc__.splitlines()[0])
    commands.add_model_arguments(arguments)
    arguments.add_argument("--folder", required=True)
    arguments.add_argument("--height", type=int, required=True)
    arguments.add_argument("--width", type=int, required=True)
    arguments.add_argument("--parity-frames", type=int, default=8)
    arguments.add_argument("--tolerance", type=float, required=True)
    args = arguments.parse_args()
    runtimes.prepare_process(args.runtime)  # before any framework import
    run_command(main, args, "sleap_export")
