"""The report's batch pages: every video keeps its row, missing results are named."""

from __future__ import annotations

import pandas as pd

from snakeherd import io
from snakeherd.report import VideoFolder, benchmark_table, per_rule, write_batch_pages


def write_video(folder, detections: int, tracks: bool = True, evaluation: bool = False):
    folder.mkdir(parents=True)
    frame = pd.DataFrame(
        {
            "video_id": "v",
            "frame": range(detections),
            "det_id": 0,
            "x": 1.0,
            "y": 2.0,
            "w": 3.0,
            "h": 1.0,
            "angle": 0.0,
            "score": 0.5,
            "class_id": 0,
        }
    )
    io.write_table(frame, folder / "detections.parquet", "detections", {"frames": 10})
    if tracks:
        rows = frame[["video_id", "frame", "det_id", "x", "y", "angle", "score"]]
        io.write_table(
            rows.assign(track_id=0, interpolated=False), folder / "tracks.parquet", "tracks", {}
        )
    if evaluation:
        metrics = pd.DataFrame(
            {"video_id": ["v"], "MOTA": [0.9], "IDF1": [0.8], "id_switches": [2]}
        )
        io.write_table(metrics, folder / "evaluation.parquet", "evaluation", {})


def test_batch_pages_name_what_is_missing(tmp_path):
    results = tmp_path / "results"
    write_video(results / "good", 10, evaluation=True)
    write_video(results / "empty", 0)
    write_video(results / "untracked", 5, tracks=False)
    benchmarks = results / "benchmarks"
    (benchmarks / "good").mkdir(parents=True)
    (benchmarks / "good" / "track.tsv").write_text(
        "s\th:m:s\tmax_rss\tcpu_time\n1.5\t0\t200\t1.0\n"
    )
    (benchmarks / "batch_summary.tsv").write_text("")  # being written: skipped
    videos = [
        VideoFolder("good", results / "good", evaluated=True),
        VideoFolder("empty", results / "empty"),
        VideoFolder("untracked", results / "untracked"),
        VideoFolder("failed", results / "failed"),
    ]
    table = write_batch_pages(videos, benchmarks, results / "report").set_index("video")
    assert table.loc["good", "status"] == "ok" and table.loc["good", "IDF1"] == 0.8
    assert table.loc["good", "animals per frame (median)"] == 1.0
    assert table.loc["empty", "status"] == "no detections"
    assert table.loc["untracked", "status"] == "tracking failed"
    assert "tracks.parquet" in table.loc["untracked", "missing"]
    assert table.loc["failed", "status"] == "failed before tracking"
    page = (results / "report" / "summary.html").read_text()
    assert "failed: failed before tracking. Missing: detections.parquet" in page
    for name in ("summary.csv", "runtimes.csv", "runtimes.html", "runtimes.png"):
        assert (results / "report" / name).is_file()
    runtimes = benchmark_table(benchmarks)
    assert runtimes.to_dict("records") == [
        {
            "rule": "track",
            "video": "good",
            "seconds": 1.5,
            "peak RSS (MB)": 200.0,
            "CPU seconds": 1.0,
        }
    ]
    assert per_rule(runtimes)["jobs"].tolist() == [1]


def test_provenance_page_shows_stages_inputs_and_packages(tmp_path):
    import json

    from snakeherd.report import write_provenance_page

    record = {
        "video_id": "v",
        "runtime": {
            "requested": "onnx_cpu",
            "stages": {
                "detections": {
                    "method": "yolo_obb",
                    "runtime": {"runtime": "onnx_cpu", "providers": ["CPUExecutionProvider"]},
                },
                "tracks": {"method": "kalman_hungarian"},
            },
        },
        "inputs": {"detection_model": {"path": "m.onnx", "sha256": "abc123"}},
        "packages": {"numpy": "2.4.6"},
        "workflow": {"commit": "deadbeef", "dirty": False},
    }
    (tmp_path / "provenance.json").write_text(json.dumps(record))
    write_provenance_page(tmp_path / "provenance.json", tmp_path / "provenance.html")
    page = (tmp_path / "provenance.html").read_text()
    for text in ("CPUExecutionProvider", "abc123", "numpy", "deadbeef", "kalman_hungarian"):
        assert text in page
