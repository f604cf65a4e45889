"""Demo throughput and memory: detection and tracking frames/s and peak RSS, short vs long video.

Each stage runs in a fresh process so its peak RSS (VmHWM) is its own. Goal (issue 2): peak RSS
independent of video length (frames are streamed; memory is bounded by one frame).

    .venv/bin/python benchmarks/demo_throughput.py [--frames 300 3000]
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
from snakeherd.detection import BackgroundParams, detect_video
from snakeherd.tracking import TrackerParams, track_detections
from snakeherd.video import FrameSelection
stage, video, table = sys.argv[1:4]
started = time.perf_counter()
if stage == "detect":
    selection, params = FrameSelection.parse(None), BackgroundParams(n_animals=8)
    detections, summary = detect_video(video, selection, params)
    detections.insert(0, "video_id", "bench")
    io.write_table(detections, table, "detections", summary)
    frames = summary["frames"]
else:
    detections = io.read_table(table, "detections")
    tracks = track_detections(detections, TrackerParams())
    frames = detections["frame"].nunique()
elapsed = time.perf_counter() - started
"""


def run_stage(stage: str, video: Path, table: Path) -> dict:
    return run_measured_stage(STAGE.format(scripts=str(SCRIPTS)), stage, video, table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[300, 3000])
    args = parser.parse_args()
    sys.path.insert(0, str(SCRIPTS))
    from snakeherd.synthetic import SceneSpec, simulate, write_video

    print(f"{'frames':>7} {'stage':<8} {'seconds':>8} {'frames/s':>9} {'peak RSS MB':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for n_frames in args.frames:
            spec = SceneSpec(n_frames=n_frames, seed=1)
            video = Path(tmp) / f"demo_{n_frames}.mp4"
            write_video(spec, simulate(spec), str(video))
            table = Path(tmp) / f"detections_{n_frames}.parquet"
            for stage in ("detect", "track"):
                numbers = run_stage(stage, video, table)
                print(
                    f"{n_frames:>7} {stage:<8} {numbers['seconds']:>8.2f} "
                    f"{numbers['frames'] / numbers['seconds']:>9.0f} "
                    f"{numbers['peak_rss_mb']:>12.0f}"
                )


if __name__ == "__main__":
    main()
