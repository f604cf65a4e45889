"""Rule pose_yolo_*: YOLO-pose keypoints on detection crops, or on whole frames (then the pose
model's instances are the detections too)."""

import tempfile

from snakeherd import io, runtimes
from snakeherd.scripting import logger, run_rule
from snakeherd.video import FrameSelection


def main(smk):
    runtime = smk.params.runtime
    runtimes.prepare_process(runtime)
    pose = smk.params.pose
    with tempfile.TemporaryDirectory(prefix="snakeherd-ultralytics-") as settings_dir:
        if runtimes.get(runtime).imports_torch:
            from snakeherd.yolo import offline

            offline.configure(settings_dir, smk.params.trust_model_files)
        # After configure: the node check imports Ultralytics, which reads its safe-loading
        # switch once, at import.
        capability = runtimes.check_node(runtime, "yolo_pose")
        from snakeherd.yolo.detect import YoloRun
        from snakeherd.yolo.pose import PoseRun, pose_on_crops, pose_on_frames

        run = PoseRun(
            yolo=YoloRun.from_config(pose["yolo"], smk.input.model, runtime, smk.threads),
            mode=pose["mode"],
            crop_scale=pose["crop_scale"],
            node_names=tuple(pose["node_names"]) if pose["node_names"] else None,
            edges=tuple(tuple(edge) for edge in pose["edges"]),
        )
        if run.mode == "crops":
            detections = io.read_table(smk.input.detections, "detections")
            poses, summary = pose_on_crops(smk.input.video, detections, run)
        else:
            detections, poses, summary = pose_on_frames(
                smk.input.video, FrameSelection.parse(smk.params.frames), run
            )
    summary["runtime"] = {**capability.as_dict(), "providers": summary["providers"]}
    if smk.wildcards.get("chunk") is not None:  # one chunk of a long video (rules/chunks.smk)
        summary["chunk"] = smk.params.frames
    poses.insert(0, "video_id", smk.wildcards.video)
    io.write_table(poses, smk.output.poses, "poses", summary)
    if run.mode == "frames":
        detections.insert(0, "video_id", smk.wildcards.video)
        io.write_table(detections, smk.output.detections, "detections", summary)
    found = poses["x"].notna().mean() if len(poses) else 0.0
    logger.info("%d keypoint rows (%.1f %% located) on %s", len(poses), 100 * found, runtime)


run_rule(main, snakemake)  # noqa: F821
