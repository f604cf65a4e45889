"""Rule sleap_predict, run by the SLEAP environment's Python: the SLEAP stage on one video.

python sleap_predict.py --runtime R --kind K --models DIR... --nodes N... --video V
    [--frames SEL] [--export DIR] [--detections boxes.npz --crop-size C --crop-scale S]
    --slp poses.slp --npz poses.npz --log LOG
"""

import json
from pathlib import Path

from snakeherd import runtimes
from snakeherd.scripting import run_command
from snakeherd.sleap import commands


def main(args):
    from snakeherd.sleap.inference import predict_video

    commands.route_sleap_nn_logs(args.log)
    summary = predict_video(
        runtime=args.runtime,
        kind=args.kind,
        models=args.models,
        nodes=args.nodes,
        video=args.video,
        frame_selection=args.frames,
        export=args.export,
        crop_boxes=args.detections,
        crop_size=args.crop_size,
        crop_scale=args.crop_scale,
        batch_size=args.batch_size,
        threads=args.threads,
        max_instances=args.max_instances,
        trust_model_files=args.trust_model_files,
        slp=args.slp,
        arrays_path=args.npz,
    )
    if args.timing:
        Path(args.timing).write_text(json.dumps(summary) + "\n")


if __name__ == "__main__":
    arguments = commands.parser(__doc__.splitlines()[0])
    commands.add_model_arguments(arguments)
    arguments.add_argument("--frames", default="")
    arguments.add_argument("--export")
    arguments.add_argument("--detections")
    arguments.add_argument("--crop-scale", type=float, default=1.5)
    arguments.add_argument("--batch-size", type=int, default=4)
    arguments.add_argument("--slp", required=True)
    arguments.add_argument("--npz", required=True)
    arguments.add_argument("--timing")
    args = arguments.parse_args()
    runtimes.prepare_process(args.runtime)  # before any framework import
    run_command(main, args, "sleap_predict")
