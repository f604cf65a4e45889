"""Rule sleap_evaluate, run by the SLEAP environment's Python: sleap-nn's pose metrics against
the video's ground truth.

    python sleap_evaluate.py --predictions poses.slp --ground-truth gt.slp --frames SEL
        --video-id ID --output pose_evaluation.json --log LOG
"""

import json
from pathlib import Path

from snakeherd import runtimes
from snakeherd.scripting import logger, run_command
from snakeherd.sleap import commands


def main(args):
    from snakeherd.sleap.evaluation import evaluate_poses

    commands.route_sleap_nn_logs(args.log)
    metrics = evaluate_poses(args.predictions, args.ground_truth, args.frames, args.video_id)
    Path(args.output).write_text(json.dumps(metrics, indent=2) + "\n")
    logger.info("pose evaluation: %s", json.dumps(metrics))


if __name__ == "__main__":
    arguments = commands.parser(__doc__.splitlines()[0], runtime=False)
    arguments.add_argument("--predictions", required=True)
    arguments.add_argument("--ground-truth", required=True)
    arguments.add_argument("--frames", default="")
    arguments.add_argument("--video-id", required=True)
    arguments.add_argument("--output", required=True)
    args = arguments.parse_args()
    # Evaluation runs no model: keep it off any accelerator.
    runtimes.hide_accelerators()
    run_command(main, args, "sleap_evaluate")
