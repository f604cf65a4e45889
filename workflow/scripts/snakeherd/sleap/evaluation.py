"""Pose accuracy against labelled frames (OKS, PCK, distances) with sleap-nn's own evaluator.

Runs inside the SLEAP environment. The ground truth is a SLEAP ``.slp`` with user-labelled
instances (a ``.pkg.slp`` with embedded frames works); its frames are paired with the predicted
frames of the same index that the workflow processed, whichever file the ground truth's images
came from.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputFileError
from ..video import FrameSelection


def _finite(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def evaluate_poses(predictions: str, ground_truth: str, frames: str, video_id: str) -> dict:
    """Metrics of ``predictions`` (.slp) against ``ground_truth`` (.slp) on shared frames."""
    import sleap_io as sio
    from sleap_nn.evaluation import Evaluator

    truth = sio.load_slp(ground_truth)
    predicted = sio.load_slp(predictions)
    user_frames = [lf for lf in truth.labeled_frames if lf.user_instances]
    if not user_frames:
        raise InputFileError(
            f"ground truth {ground_truth} has no user-labelled instances to score poses against.",
            "give a .slp with labelled frames (labelled in SLEAP).",
        )
    truth_video = user_frames[0].video
    labelled = {lf.frame_idx for lf in user_frames if lf.video is truth_video}
    selection = FrameSelection.parse(frames)
    by_index = {lf.frame_idx: lf for lf in predicted.labeled_frames}
    processed = sorted(
        index for index in labelled if index in by_index or _selected(selection, index)
    )
    if not processed:
        raise InputFileError(
            f"none of the labelled frames of {ground_truth} ({sorted(labelled)[:10]}) was "
            f"processed for video {video_id} (frames: {frames or 'all'}).",
            "include the labelled frames in the video's `frames:` selection.",
        )
    paired = []
    for index in processed:
        source = by_index.get(index)
        instances = list(source.instances) if source is not None else []
        paired.append(sio.LabeledFrame(video=truth_video, frame_idx=index, instances=instances))
    predicted_on_truth = sio.Labels(
        labeled_frames=paired, videos=[truth_video], skeletons=predicted.skeletons
    )
    truth_subset = sio.Labels(
        labeled_frames=[lf for lf in user_frames if lf.frame_idx in processed],
        videos=[truth_video],
        skeletons=truth.skeletons,
    )
    evaluator = Evaluator(truth_subset, predicted_on_truth)
    metrics = evaluator.evaluate()
    voc = metrics.get("voc_metrics", {})
    distances = metrics.get("distance_metrics", {})
    pck = metrics.get("pck_metrics", {})
    summary = {
        "video_id": video_id,
        "ground_truth": ground_truth,
        "frames_scored": len(processed),
        "gt_instances": sum(len(lf.user_instances) for lf in truth_subset.labeled_frames),
        "predicted_instances": sum(len(lf.instances) for lf in paired),
        "mOKS": _finite(metrics.get("mOKS", {}).get("mOKS")),
        "oks_mAP": _finite(voc.get("oks_voc.mAP")),
        "oks_mAR": _finite(voc.get("oks_voc.mAR")),
        "pck_mAP": _finite(voc.get("pck_voc.mAP")),
        "mPCK": _finite(pck.get("mPCK")),
        "distance_mean_px": _finite(distances.get("avg")),
        "distance_p50_px": _finite(distances.get("p50")),
        "distance_p90_px": _finite(distances.get("p90")),
    }
    return summary


def _selected(selection: FrameSelection, index: int) -> bool:
    return any(
        start <= index and (stop is None or index <= stop) for start, stop in selection.ranges
    )
