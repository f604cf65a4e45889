"""The batch pages of the Snakemake report: a table of every video, and what each rule cost.

Both are built from whatever files exist, so a batch where some videos failed (``--keep-going``)
still gets its summary, with each missing result named and the log to read. Tables are written as
CSV (for scripts) and as a small self-contained HTML page (the report shows HTML in the page, and
CSV only as a download).
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .io import read_metadata, read_table, write_csv, write_text_atomic

EVALUATION_COLUMNS = {
    "MOTA": "MOTA",
    "IDF1": "IDF1",
    "HOTA": "HOTA",
    "id_switches": "ID switches",
}
# What a video's row needs, and the log that says why it is missing.
REQUIRED = {"detections.parquet": "detect", "tracks.parquet": "track"}

PAGE_STYLE = """
body { font-family: sans-serif; font-size: 14px; margin: 1em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th { background: #f0f0f0; }
td:first-child, th:first-child, td:nth-child(2), th:nth-child(2) { text-align: left; }
td.problem { color: #a00; text-align: left; }
"""


@dataclass(frozen=True)
class VideoFolder:
    video_id: str
    folder: Path
    evaluated: bool = False


def _status_and_missing(video: VideoFolder) -> tuple[str, list[str]]:
    missing = [
        f"{name} (see logs/{video.video_id}/)"
        for name in (*REQUIRED, *(["evaluation.parquet"] if video.evaluated else []))
        if not (video.folder / name).is_file()
    ]
    if not (video.folder / "detections.parquet").is_file():
        return "failed before tracking", missing
    if not (video.folder / "tracks.parquet").is_file():
        return "tracking failed", missing
    return ("ok" if not missing else "incomplete"), missing


def video_row(video: VideoFolder) -> dict:
    """One video's line of the batch table (``None`` where a number cannot be computed)."""
    status, missing = _status_and_missing(video)
    row = {
        "video": video.video_id,
        "status": status,
        "frames": None,
        "detections": None,
        "animals per frame (median)": None,
        "tracks": None,
        "interpolated %": None,
        "mean detection score": None,
    }
    detections_path = video.folder / "detections.parquet"
    if detections_path.is_file():
        detections = read_table(detections_path, "detections", ["frame", "score"])
        stage = read_metadata(detections_path)["stage"]
        frames = stage.get("frames")
        if frames is None:
            frames = detections["frame"].nunique()
        per_frame = detections.groupby("frame").size()
        row.update(
            {
                "frames": int(frames),
                "detections": len(detections),
                # Frames without any detection count as zero animals.
                "animals per frame (median)": float(
                    np.median(
                        np.concatenate([per_frame, np.zeros(max(int(frames) - len(per_frame), 0))])
                    )
                )
                if int(frames)
                else 0.0,
                "mean detection score": round(float(detections["score"].mean()), 3)
                if len(detections)
                else None,
            }
        )
        if not len(detections):
            row["status"] = "no detections" if status == "ok" else status
    tracks_path = video.folder / "tracks.parquet"
    if tracks_path.is_file():
        tracks = read_table(tracks_path, "tracks", ["track_id", "interpolated"])
        row["tracks"] = int(tracks["track_id"].nunique())
        if len(tracks) and "interpolated" in tracks:
            row["interpolated %"] = round(100 * float(tracks["interpolated"].mean()), 1)
    evaluation_path = video.folder / "evaluation.parquet"
    if video.evaluated and evaluation_path.is_file():
        evaluation = read_table(evaluation_path, "evaluation").iloc[0]
        for column, title in EVALUATION_COLUMNS.items():
            if column in evaluation:
                value = evaluation[column]
                row[title] = int(value) if column == "id_switches" else round(float(value), 3)
    row["missing"] = "; ".join(missing)
    return row


def batch_summary(videos: list[VideoFolder]) -> pd.DataFrame:
    """The batch table: one row per video of the config, in config order."""
    rows = [video_row(video) for video in videos]
    table = pd.DataFrame(rows)
    ordered = [c for c in table.columns if c != "missing"] + ["missing"]
    return table[ordered]


def html_page(title: str, table: pd.DataFrame, notes: list[str] = ()) -> str:
    """A self-contained HTML page with ``table`` (no scripts, no external files)."""
    body = table.to_html(index=False, na_rep="", border=0, escape=True, float_format=_number)
    notes_html = "".join(f"<p>{html.escape(note)}</p>" for note in notes)
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}</style></head>"
        f"<body><h2>{html.escape(title)}</h2>{notes_html}{body}</body></html>\n"
    )


def _number(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def write_batch_summary(videos: list[VideoFolder], csv_path, html_path) -> pd.DataFrame:
    table = batch_summary(videos)
    write_csv(table, csv_path)
    problems = table[table["status"] != "ok"]
    notes = [f"{len(table)} videos, {int((table['status'] == 'ok').sum())} complete."]
    notes += [
        f"{row.video}: {row.status}. Missing: {row.missing or 'nothing'}."
        for row in problems.itertuples()
    ]
    write_text_atomic(html_path, html_page("Batch summary", table, notes))
    return table


def benchmark_table(benchmarks: str | os.PathLike) -> pd.DataFrame:
    """Every ``benchmark:`` file under ``benchmarks`` (``<video>/<rule>.tsv`` or ``<rule>.tsv``
    for batch rules) as one row each: rule, video, seconds, peak memory, CPU time."""
    rows = []
    root = Path(benchmarks)
    for path in sorted(root.rglob("*.tsv")):
        try:
            record = pd.read_csv(path, sep="\t").iloc[-1]
        except (OSError, ValueError, IndexError, pd.errors.EmptyDataError):
            continue  # a benchmark being written, or left empty by a killed job
        parent = path.parent.relative_to(root)
        rows.append(
            {
                "rule": path.stem,
                "video": str(parent) if str(parent) != "." else "",
                "seconds": float(record.get("s", np.nan)),
                "peak RSS (MB)": float(record.get("max_rss", np.nan)),
                "CPU seconds": float(record.get("cpu_time", np.nan)),
            }
        )
    columns = ["rule", "video", "seconds", "peak RSS (MB)", "CPU seconds"]
    return pd.DataFrame(rows, columns=columns)


def per_rule(table: pd.DataFrame) -> pd.DataFrame:
    """Jobs, total and longest time, and largest peak memory, per rule."""
    if not len(table):
        return pd.DataFrame(
            columns=["rule", "jobs", "total seconds", "max seconds", "max peak RSS (MB)"]
        )
    grouped = table.groupby("rule", sort=True)
    return pd.DataFrame(
        {
            "jobs": grouped.size(),
            "total seconds": grouped["seconds"].sum().round(2),
            "max seconds": grouped["seconds"].max().round(2),
            "max peak RSS (MB)": grouped["peak RSS (MB)"].max().round(1),
        }
    ).reset_index()


def write_runtimes(benchmarks, csv_path, html_path, png_path) -> pd.DataFrame:
    """The per-job benchmark table (CSV), per-rule totals (HTML) and their plot (PNG)."""
    from .plots import rule_costs

    table = benchmark_table(benchmarks)
    write_csv(table, csv_path)
    rules = per_rule(table)
    notes = [
        "From each job's benchmark: file (wall-clock seconds, peak resident memory); "
        "the per-job rows are in runtimes.csv."
    ]
    write_text_atomic(html_path, html_page("Runtime and memory per rule", rules, notes))
    rule_costs(rules, png_path)
    return rules


def write_batch_pages(videos: list[VideoFolder], benchmarks, folder) -> pd.DataFrame:
    """Every batch page into ``folder``: summary.csv/.html, runtimes.csv/.html/.png."""
    folder = Path(folder)
    table = write_batch_summary(videos, folder / "summary.csv", folder / "summary.html")
    write_runtimes(
        benchmarks, folder / "runtimes.csv", folder / "runtimes.html", folder / "runtimes.png"
    )
    return table


def provenance_tables(record: dict) -> list[tuple[str, pd.DataFrame]]:
    """A video's provenance record (provenance.json) as titled tables: what ran each stage
    (method, runtime, execution providers), the input files with their checksums, the packages."""
    stages = []
    for name, stage in (record.get("runtime", {}).get("stages") or {}).items():
        runtime = stage.get("runtime") or {}
        stages.append(
            {
                "stage": name,
                "method": stage.get("method", ""),
                "runtime": runtime.get("runtime", "") if isinstance(runtime, dict) else runtime,
                "providers": ", ".join(runtime.get("providers") or [])
                if isinstance(runtime, dict)
                else "",
            }
        )
    inputs = [
        {"input": name, "path": file.get("path", ""), "sha256": file.get("sha256", "")}
        for name, file in (record.get("inputs") or {}).items()
        if isinstance(file, dict)
    ]
    packages = [
        {"package": name, "version": version}
        for name, version in sorted((record.get("packages") or {}).items())
    ]
    workflow = record.get("workflow") or {}
    run = [
        {"item": "runtime requested", "value": (record.get("runtime") or {}).get("requested")},
        {"item": "snakeherd", "value": record.get("snakeherd_version")},
        {"item": "workflow commit", "value": workflow.get("commit", "")},
        {"item": "uncommitted changes", "value": workflow.get("dirty", "")},
        {"item": "written (UTC)", "value": record.get("created_utc")},
    ]
    return [
        ("Run", pd.DataFrame(run)),
        ("Stages", pd.DataFrame(stages, columns=["stage", "method", "runtime", "providers"])),
        ("Inputs", pd.DataFrame(inputs, columns=["input", "path", "sha256"])),
        ("Packages", pd.DataFrame(packages, columns=["package", "version"])),
    ]


def write_provenance_page(provenance_json, html_path) -> None:
    """A video's provenance record as an HTML page of tables, for the report."""
    import json

    record = json.loads(Path(provenance_json).read_text())
    sections = "".join(
        f"<h3>{html.escape(title)}</h3>"
        + table.to_html(index=False, na_rep="", border=0, escape=True)
        for title, table in provenance_tables(record)
    )
    title = f"Provenance of {record.get('video_id', '')}"
    page = (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}</style></head>"
        f"<body><h2>{html.escape(title)}</h2>{sections}</body></html>\n"
    )
    write_text_atomic(html_path, page)
