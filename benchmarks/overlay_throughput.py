"""Overlay video throughput and memory next to tracking's: frames/s and peak RSS, short vs long.

The demo's scene (400x400, 8 animals): its ground truth, as detections (the background detector
would only add minutes), is tracked and drawn into an H.264 overlay; each stage runs in a fresh
process so its peak RSS (VmHWM) is its own.
Goal (issue 18): the overlay streams, so its peak RSS does not grow with the video's length.

    .venv/bin/python benchmarks/overlay_throughput.py [--frames 300 3000] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "workflow" / "scripts"
sys.path.insert(0, str(REPO))

from tests.support.stages import run_measured_stage  # noqa: E402

STAGE = r"""
import sys, time
sys.path.insert(0, {scripts!r})
from snakeherd import io
from snakeherd.overlay import OverlayData, OverlayOptions, render_overlay
from snakeherd.tracking import TrackerParams, track
from snakeherd.video import FrameSelection, probe
stage, video, folder, scale = sys.argv[1:5]
started = time.perf_counter()
if stage == "detections":
    truth = io.read_table(folder + "/truth.parquet", "ground_truth")
    detections = truth.assign(
        video_id="bench", det_id=truth.groupby("frame").cumcount(), w=truth["length"],
        h=truth["width"], score=1.0, class_id=0,
    )
    io.write_table(detections, folder + "/detections.parquet", "detections", {{}})
    frames = detections["frame"].nunique()
elif stage == "track":
    detections = io.read_table(folder + "/detections.parquet", "detections")
    tracks = track(detections, None, TrackerParams(max_tracks=8))
    tracks.insert(0, "video_id", "bench")
    io.write_table(tracks, folder + "/tracks.parquet", "tracks", {{}})
    frames = detections["frame"].nunique()
else:
    detections = io.read_table(folder + "/detections.parquet", "detections")
    tracks = io.read_table(folder + "/tracks.parquet", "tracks")
    selection = FrameSelection.parse(None).resolve(probe(video).n_frames)
    summary = render_overlay(video, OverlayData(detections, None, tracks), selection,
                             folder + "/overlay.mp4", OverlayOptions(scale=float(scale)))
    frames = summary.frames
elapsed = time.perf_counter() - started
"""


def run_stage(stage: str, video: Path, folder: Path, scale: float) -> dict:
    return run_measured_stage(STAGE.format(scripts=str(SCRIPTS)), stage, video, folder, scale)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[300, 3000])
    parser.add_argument("--scale", type=float, default=1.0, help="outputs.overlay.scale")
    args = parser.parse_args()
    sys.path.insert(0, str(SCRIPTS))
    from snakeherd import io
    from snakeherd.synthetic import SceneSpec, simulate, write_video

    print(f"{'frames':>7} {'stage':<10} {'seconds':>8} {'frames/s':>9} {'peak RSS MB':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for n_frames in args.frames:
            spec = SceneSpec(n_frames=n_frames, seed=1)
            folder = Path(tmp) / str(n_frames)
            folder.mkdir()
            video = folder / "video.mp4"
            truth = simulate(spec)
            write_video(spec, truth, str(video))
            io.write_table(truth, folder / "truth.parquet", "ground_truth", {})
            for stage in ("detections", "track", "overlay"):
                numbers = run_stage(stage, video, folder, args.scale)
                print(
                    f"{n_frames:>7} {stage:<10} {numbers['seconds']:>8.2f} "
                    f"{numbers['frames'] / numbers['seconds']:>9.0f} "
                    f"{numbers['peak_rss_mb']:>12.0f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
