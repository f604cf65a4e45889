"""YOLO-OBB throughput, side by side: the raw ONNX Runtime session (the floor), our detection
stage end to end, Ultralytics' predictor on the same ONNX file and on the .pt, and tract; at
imgsz 320, 384 and 640; plus time to first frame and peak RSS of an ONNX job.

Every path runs as users run it: ours with the job's threads (--threads, default 1: a detection
job's default; on the CPU they are concurrent one-thread runs of the session, and the raw session
is timed the same way), Ultralytics with its defaults (torch on cpu_count - 1 threads, ONNX
Runtime's own thread pool on every core). Because the paths use different numbers of cores, each is
measured twice: frames per second of wall time, and frames per CPU-second (process CPU time, all
threads), which is what a node full of jobs delivers; the ratios are printed for both. --one-core
pins the process to one core, but ONNX Runtime's default thread pool places its threads itself and
still uses every core (seen: 1.98 CPU-seconds per second under a one-core affinity), so
Ultralytics' ONNX path is only held to one core by CPU time. All on the same 100-frame clip cut
from the real fly video.

Goals (issue 3): our onnx_cpu stage ≥ 0.9× the raw session; ≥ 1.0× Ultralytics' ONNX path at 640
and ≥ 1.4× at 320; ≥ 1.8× Ultralytics' .pt on CPU; first frame of an ONNX job ≤ 2 s; peak RSS
independent of video length.

    .venv/bin/python benchmarks/yolo_throughput.py [--frames 100] [--sizes 320 384 640] \
        [--threads 1] [--one-core]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
sys.path.insert(0, str(REPO))

from tests.support.data import SHARED_DATA  # noqa: E402

FIRST_FRAME = r"""
import sys, time
started = time.perf_counter()
sys.path.insert(0, {scripts!r})
from snakeherd import io, runtimes
runtimes.prepare_process("onnx_cpu")
runtimes.check_node("onnx_cpu", "yolo_obb")
from snakeherd.video import VideoReader
from snakeherd.yolo.decode import Filters
from snakeherd.yolo.detect import ObbDetector, YoloRun
with VideoReader({clip!r}, grayscale=False) as reader:
    detector = ObbDetector(YoloRun(model={model!r}, runtime="onnx_cpu", filters=Filters()),
                           (reader.info.height, reader.info.width))
    detector.detect([reader.read(0)])
print(time.perf_counter() - started, "torch" in sys.modules)
"""

PEAK_RSS = r"""
import re, sys
sys.path.insert(0, {scripts!r})
from snakeherd.video import FrameSelection
from snakeherd.yolo.decode import Filters
from snakeherd.yolo.detect import YoloRun, detect_video
table, _ = detect_video({clip!r}, FrameSelection.parse(None),
                        YoloRun(model={model!r}, runtime="onnx_cpu", filters=Filters()))
# VmHWM, not ru_maxrss: the latter keeps the forking parent's peak across exec.
peak = re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1)
print(int(peak) / 1024, len(table))
"""


def cut_clip(source: Path, target: Path, start: int, count: int) -> None:
    import cv2

    capture = cv2.VideoCapture(str(source))
    capture.set(cv2.CAP_PROP_POS_FRAMES, start)
    writer = None
    for _ in range(count):
        ok, frame = capture.read()
        if not ok:
            capture.set(cv2.CAP_PROP_POS_FRAMES, start)
            ok, frame = capture.read()
        if writer is None:
            height, width = frame.shape[:2]
            writer = cv2.VideoWriter(
                str(target), cv2.VideoWriter_fourcc(*"mp4v"), 15, (width, height)
            )
        writer.write(frame)
    writer.release()
    capture.release()


def timed(function, frames: int) -> tuple[float, float]:
    """Frames per second of wall time and per CPU-second of this process (every thread)."""
    cpu_started = time.process_time()
    started = time.perf_counter()
    function()
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    return frames / wall, frames / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--sizes", type=int, nargs="+", default=[320, 384, 640])
    parser.add_argument("--one-core", action="store_true", help="pin everything to one core")
    parser.add_argument("--threads", type=int, default=1, help="our stage's and the raw session's")
    args = parser.parse_args()
    if args.one_core:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    from snakeherd.yolo import offline

    work = Path(tempfile.mkdtemp(prefix="snakeherd-bench-"))
    offline.configure(work / "ultralytics")
    import onnxruntime
    import torch
    import tract  # noqa: F401  (fail early when missing)

    from snakeherd.parallel import map_in_order
    from snakeherd.video import FrameSelection
    from snakeherd.yolo.backends import OnnxRuntimeModel, TractModel
    from snakeherd.yolo.decode import Filters
    from snakeherd.yolo.detect import YoloRun, detect_video
    from snakeherd.yolo.export import export_artifact, model_record, write_sidecar
    from snakeherd.yolo.geometry import Letterbox, to_input_tensor

    source = SHARED_DATA / "yolo" / "fly_obb_yolo11n.pt"
    video = SHARED_DATA / "tracking" / "centered_pair_low_quality.mp4"
    clip = work / "clip.mp4"
    cut_clip(video, clip, 900, args.frames)
    long_clip = work / "long_clip.mp4"
    cut_clip(video, long_clip, 0, 10 * args.frames)
    header = (
        f"{'imgsz':>5} {'raw ORT':>8} {'ours ORT':>9} {'ours/raw':>9} {'ultra ONNX':>11} "
        f"{'ours/ultra':>11} {'ultra .pt':>10} {'ours/.pt':>9} {'raw tract':>10} "
        f"{'ours tract':>11}"
    )
    rows = {"wall": [], "cpu": []}
    model = offline.load(source, "obb", "detection.model")
    print(
        f"onnxruntime {onnxruntime.__version__}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), {len(os.sched_getaffinity(0))} core(s), "
        f"{args.frames} frames of {video.name}; ours and the raw session on {args.threads} "
        "thread(s)\n",
        flush=True,
    )
    selection = FrameSelection.parse(None)
    artifacts = {}
    for size in args.sizes:
        folder = work / str(size)
        artifact = str(folder / "fly_obb_yolo11n.onnx")
        export_artifact(model, artifact, size, 1, "cpu")
        write_sidecar(artifact, {"model": model_record(model, "obb", size, 1, str(source))})
        artifacts[size] = artifact
        import cv2

        frame = cv2.VideoCapture(str(clip)).read()[1]
        tensor = to_input_tensor([Letterbox.fit(*frame.shape[:2], size).apply(frame)])
        session = OnnxRuntimeModel(artifact, "onnx_cpu", threads=args.threads)
        tract_model = TractModel(artifact, 1, size, threads=args.threads)
        for warm in (session, tract_model):
            warm.run(tensor)

        def raw(runner, tensor=tensor):
            # The session as the stage uses it: ``workers`` concurrent runs of one thread.
            return lambda: list(map_in_order(runner.run, [tensor] * args.frames, runner.workers))

        def ours(runtime, artifact=artifact):
            run = YoloRun(model=artifact, runtime=runtime, filters=Filters(), threads=args.threads)
            return lambda: detect_video(str(clip), selection, run)

        def ultralytics(weights, frame=frame, size=size):
            from ultralytics import YOLO

            yolo = YOLO(weights, task="obb")
            yolo.predict(frame, imgsz=size, device="cpu", verbose=False)  # warm up, load
            return lambda: [
                None
                for _ in yolo.predict(
                    str(clip), imgsz=size, device="cpu", stream=True, verbose=False
                )
            ]

        measured = {
            "raw": timed(raw(session), args.frames),
            "ours": timed(ours("onnx_cpu"), args.frames),
            "ultra_onnx": timed(ultralytics(artifact), args.frames),
            "ultra_pt": timed(ultralytics(str(source)), args.frames),
            "raw_tract": timed(raw(tract_model), args.frames),
            "ours_tract": timed(ours("tract"), args.frames),
        }
        for index, kind in enumerate(("wall", "cpu")):
            fps = {path: values[index] for path, values in measured.items()}
            rows[kind].append(
                f"{size:>5} {fps['raw']:>8.1f} {fps['ours']:>9.1f} "
                f"{fps['ours'] / fps['raw']:>9.2f} {fps['ultra_onnx']:>11.1f} "
                f"{fps['ours'] / fps['ultra_onnx']:>11.2f} {fps['ultra_pt']:>10.1f} "
                f"{fps['ours'] / fps['ultra_pt']:>9.2f} {fps['raw_tract']:>10.1f} "
                f"{fps['ours_tract']:>11.1f}"
            )
    for kind, title in (("wall", "frames per second (wall)"), ("cpu", "frames per CPU-second")):
        print(title)
        print(header)
        print("\n".join(rows[kind]) + "\n")

    native = 384 if 384 in artifacts else args.sizes[0]
    first = subprocess.run(
        [
            "taskset",
            "-c",
            str(sorted(os.sched_getaffinity(0))[0]),
            sys.executable,
            "-c",
            FIRST_FRAME.format(
                scripts=str(REPO / "workflow" / "scripts"), clip=str(clip), model=artifacts[native]
            ),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    print(
        f"\ntime to first frame of an onnx_cpu job (imgsz {native}, fresh interpreter): "
        f"{float(first[0]):.2f} s (torch imported: {first[1]})"
    )
    for path, frames in ((clip, args.frames), (long_clip, 10 * args.frames)):
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                PEAK_RSS.format(
                    scripts=str(REPO / "workflow" / "scripts"),
                    clip=str(path),
                    model=artifacts[native],
                ),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        print(
            f"peak RSS of the onnx_cpu stage, {frames:>5} frames: {float(out[0]):.0f} MB "
            f"({out[1]} detections)"
        )
    print(json.dumps({"workdir": str(work)}))


if __name__ == "__main__":
    main()
