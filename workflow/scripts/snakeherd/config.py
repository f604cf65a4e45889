"""Checking a config beyond its JSON Schema, and turning it into the list of videos to process.

The Snakefile validates the config against ``config/schemas/config.schema.yaml`` with Snakemake's
``validate()`` (which also fills in defaults); :func:`describe_schema_error` rewrites a schema
violation as one readable message. Then :func:`check_config` judges the runtime first (so a config
is rejected for its runtime before anything else), then the videos, the frame selections and the
models. Every rejection is a :class:`~snakeherd.errors.ConfigError` naming the key, the bad value
and the fix.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import runtimes
from .errors import ConfigError, InputFileError, VideoError
from .proofreading import xanylabeling
from .sample_sheet import SUBJECT_FIELDS
from .synthetic import SceneSpec
from .video import FrameRangeError, FrameSelection, probe

SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class VideoEntry:
    """One video to process, as the rules need it."""

    id: str
    path: str | None
    frames: FrameSelection
    ground_truth: str | None = None
    predictions: str | None = None
    proofread: str | None = None  # a proofread .slp or X-AnyLabeling folder: the tracks of record
    synthetic: dict | None = field(default=None, hash=False)
    source: str = "config"  # where the entry came from, for messages
    chunk_frames: int | None = None  # frames per model-stage job; None: one job per video
    subject: dict = field(default_factory=dict, hash=False)  # NWB subject fields of this video

    @property
    def is_synthetic(self) -> bool:
        return self.synthetic is not None

    def as_dict(self) -> dict:
        """Plain values, for rule params and provenance."""
        return {
            "id": self.id,
            "path": self.path,
            "frames": str(self.frames),
            "ground_truth": self.ground_truth,
            "predictions": self.predictions,
            "proofread": self.proofread,
            "synthetic": self.synthetic,
            "chunk_frames": self.chunk_frames,
            "subject": self.subject,
        }


def yaml_problem(path: str | Path) -> str | None:
    """The YAML syntax error of a config file, naming the file, line and column; None when it
    parses. (Snakemake's own message for such a file names neither.)"""
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
        yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        problem = " ".join(part for part in (error.context, error.problem) if part)
        message = f"{where}: {problem or error}"
        lines = text.splitlines()
        if mark is not None and mark.line < len(lines):
            shown = lines[mark.line].replace("\t", " ")
            message += f"\n    {shown}\n    {' ' * mark.column}^"
        if "\\t" in str(error):  # yaml writes the tab it found as \t
            message += "\nFix: YAML indents with spaces, never tabs."
        else:
            message += (
                "\nFix: check the indentation and quoting there (a value holding ': ', '#' or "
                "starting with '[', '{', '*' or '&' needs quotes)."
            )
        return message
    except yaml.YAMLError as error:
        return f"{path}: {error}"
    except UnicodeDecodeError as error:
        return f"{path}: not UTF-8 text ({error.reason} at byte {error.start})"
    return None


def _key_path(parts) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def describe_schema_error(error, schema: dict | None = None, where: str = "config") -> str:
    """One readable sentence (plus a fix) for a jsonschema ``ValidationError``."""
    key = _key_path(error.absolute_path)
    value = error.instance
    validator = error.validator
    expected = error.validator_value
    if validator == "additionalProperties":
        allowed = sorted((error.schema.get("properties") or {}).keys())
        unknown = sorted(set(value) - set(allowed)) if isinstance(value, dict) else []
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
            hints.append(f"'{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        return (
            f"{where} {key}: unknown key {', '.join(hints)}.\n"
            f"Fix: use only the keys {', '.join(allowed)} (see config/README.md)."
        )
    if validator == "enum":
        close = difflib.get_close_matches(str(value), [str(v) for v in expected], n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return (
            f"{where} {key}: {value!r} is not one of {', '.join(map(str, expected))}.{hint}\n"
            f"Fix: set {key} to one of {', '.join(map(str, expected))}."
        )
    if validator == "required":
        missing = [name for name in expected if name not in (value or {})]
        return (
            f"{where} {key}: missing required key {', '.join(repr(m) for m in missing)}.\n"
            f"Fix: add {', '.join(missing)} (see config/README.md)."
        )
    if validator == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        return (
            f"{where} {key}: {value!r} is a {type(value).__name__}, expected "
            f"{' or '.join(kinds)}.\nFix: give {key} a value of type {' or '.join(kinds)}."
        )
    if validator in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        relation = {
            "minimum": ">=",
            "exclusiveMinimum": ">",
            "maximum": "<=",
            "exclusiveMaximum": "<",
        }[validator]
        return (
            f"{where} {key}: {value!r} is out of range; it must be {relation} {expected}.\n"
            f"Fix: set {key} to a value {relation} {expected}."
        )
    if validator == "pattern":
        return (
            f"{where} {key}: {value!r} has characters that are not allowed (pattern "
            f"{expected}).\nFix: use letters, digits, '_', '.' and '-', starting with a letter "
            "or digit."
        )
    if validator == "minItems":
        return f"{where} {key}: needs at least {expected} item(s).\nFix: add entries to {key}."
    description = (error.schema or {}).get("description")
    return f"{where} {key}: {error.message}." + (f"\nFix: {description}" if description else "")


def _exists(path: str, key: str, what: str, fix: str, folder_ok: bool = False) -> None:
    """``path`` exists, and is a file unless ``folder_ok`` (a SLEAP model folder)."""
    if not Path(path).exists():
        raise ConfigError(f"{key}: {what} not found: {path}", fix)
    if not folder_ok and Path(path).is_dir():
        raise ConfigError(f"{key}: {path} is a folder, and a {what} is a file.", fix)


def check_folders(folders: dict[str, str]) -> None:
    """The folders the run writes to can be made: no file stands where one of them, or a folder
    above it, has to be (``folders`` maps each folder to the config key that places it)."""
    for folder, key in folders.items():
        for place in (Path(folder), *Path(folder).parents):
            if place.exists():
                if not place.is_dir():
                    raise ConfigError(
                        f"{key}: the run writes to {folder}, and {place} is a file.",
                        f"move or rename {place}, or change {key}.",
                    )
                break


def check_numbers(value, key: str = "config") -> None:
    """Every number of the config is finite: NaN passes every schema minimum and maximum (it
    compares false with everything) and infinity every minimum, so both are caught here."""
    if isinstance(value, dict):
        for name, item in value.items():
            check_numbers(item, f"{key}.{name}" if key != "config" else str(name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_numbers(item, f"{key}[{index}]")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(
            f"{key}: {'NaN' if math.isnan(value) else value} is not a number snakeherd can use.",
            f"give {key} a finite number.",
        )


def _entry_from(
    record: dict,
    index: int,
    where: str,
    base: Path | None,
    track_only: bool = False,
    chunk_frames: int | None = None,
) -> VideoEntry:
    key = f"{where}[{index}]" if where == "videos" else f"{where} row {index + 1}"
    video_id = str(record.get("id") or "").strip()
    if not video_id:
        raise ConfigError(f"{key}: the video has no id.", "give every video a unique `id`.")
    if not SAFE_ID.match(video_id) or video_id in (".", ".."):
        raise ConfigError(
            f"{key}.id: {video_id!r} is not a safe folder name (it becomes "
            "results/<experiment>/<id>/).",
            "use letters, digits, '_', '.' and '-' only, starting with a letter or digit.",
        )

    def located(value) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        path = Path(str(value).strip()).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        return str(path)

    path = located(record.get("path"))
    synthetic = record.get("synthetic")
    predictions = located(record.get("predictions"))
    if track_only:
        # A track-only video is its predictions file; the video itself is optional (it is
        # checksummed and named in tracks.slp when given, else the one the .slp names is).
        if predictions is None:
            raise ConfigError(
                f"{key} (id {video_id}): detection.method and pose.method are both 'none' (a "
                "track-only run), so the video needs `predictions:` (an existing .slp to track).",
                "add `predictions:` to every video, or set detection.method (e.g. background).",
            )
        if synthetic is not None:
            raise ConfigError(
                f"{key} (id {video_id}): a synthetic video has no predictions to track.",
                "remove the synthetic video from a track-only run, or set detection.method: "
                "background.",
            )
    elif predictions is not None:
        raise ConfigError(
            f"{key}.predictions (id {video_id}): predictions are tracked only in track-only runs "
            "(detection.method and pose.method both 'none'), and this config runs a detection "
            "or pose stage.",
            "remove `predictions` from this video, or set detection.method and pose.method to "
            "none to track the .slp files as they are.",
        )
    elif (path is None) == (synthetic is None):
        raise ConfigError(
            f"{key} (id {video_id}): give exactly one of `path` (a video file) or `synthetic` "
            "(a generated demo scene).",
            "set `path:` to your video file.",
        )
    if path is not None:
        _exists(
            path,
            f"{key}.path",
            "video file",
            "fix the path (relative paths are resolved against "
            + (
                "the sample sheet's folder"
                if base is not None
                else "the directory you run snakemake in"
            )
            + ") or remove the video.",
        )
    try:
        frames = FrameSelection.parse(record.get("frames"))
    except FrameRangeError as error:
        raise ConfigError(
            f"{key}.frames (id {video_id}): {error}.",
            "write frames as inclusive 0-based ranges, e.g. '0-99,200-299'.",
        ) from None
    if frames.ranges != ((0, None),) and not track_only:
        length = None
        if synthetic is not None:
            length = SceneSpec.from_config(synthetic).n_frames
        else:
            try:
                length = probe(path).n_frames
            except VideoError:
                # The job reports an unreadable video for this video alone, so --keep-going
                # still processes the others.
                length = None
        if length is not None:
            try:
                frames.resolve(length)
            except FrameRangeError as error:
                raise ConfigError(
                    f"{key}.frames (id {video_id}): {error}.",
                    f"keep frames within 0-{length - 1}.",
                ) from None
    ground_truth = located(record.get("ground_truth"))
    if ground_truth is not None:
        _exists(
            ground_truth,
            f"{key}.ground_truth",
            "ground truth file",
            "fix the path or remove ground_truth.",
        )
    if predictions is not None:
        _exists(
            predictions,
            f"{key}.predictions",
            "predictions file",
            "fix the path or remove predictions.",
        )
    proofread = located(record.get("proofread"))
    if proofread is not None:
        _exists(
            proofread,
            f"{key}.proofread",
            "proofread file",
            "fix the path, or remove proofread to use the tracker's tracks.",
            folder_ok=True,
        )
        if Path(proofread).is_dir():
            # An X-AnyLabeling folder: its names are checked here, its contents by the job.
            try:
                xanylabeling.documents(proofread, video_id)
            except InputFileError as error:
                raise ConfigError(
                    f"{key}.proofread (id {video_id}): {error.problem}", error.fix
                ) from None
    return VideoEntry(
        id=video_id,
        path=path,
        frames=frames,
        ground_truth=ground_truth,
        predictions=predictions,
        proofread=proofread,
        synthetic=synthetic,
        source=where,
        # A track-only run has no model stage to split.
        chunk_frames=None if track_only else _chunk_frames(record, key, video_id, chunk_frames),
        subject=_subject(record),
    )


def _subject(record: dict) -> dict:
    """An entry's own NWB subject fields: a list entry's ``subject``, a sample sheet row's
    non-empty ``subject_<field>`` cells."""
    fields = {k: v for k, v in (record.get("subject") or {}).items() if v is not None}
    for name in SUBJECT_FIELDS:
        cell = record.get(f"subject_{name}")
        if isinstance(cell, str) and cell.strip():
            fields[name] = cell.strip()
    return fields


def _chunk_frames(record: dict, key: str, video_id: str, default: int | None) -> int | None:
    """An entry's frames per chunk: its own ``chunk_frames`` (a list entry's integer or null,
    a sample sheet's cell: a number, ``none`` for off, empty for the config's), else ``default``.
    """
    if "chunk_frames" not in record:
        return default
    value = record["chunk_frames"]
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return default
        if text.lower() in ("none", "null", "off"):
            return None
        try:
            value = int(text)
        except ValueError:
            raise ConfigError(
                f"{key}.chunk_frames (id {video_id}): {text!r} is not a number of frames.",
                "give a whole number of frames per chunk (e.g. 18000), `none` to run the video "
                "as one job, or leave the cell empty for the config's chunk_frames.",
            ) from None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"{key}.chunk_frames (id {video_id}): {value!r} frames per chunk; a chunk needs at "
            "least 1 frame.",
            "give a positive number of frames per chunk (e.g. 18000), or null (`none` in a "
            "sample sheet) to run the video as one job.",
        )
    return value


def check_models(config: dict) -> None:
    """Model stages name model files that exist."""
    detection = config.get("detection") or {}
    if detection.get("method") == "yolo_obb":
        model = detection.get("model")
        if not model:
            raise ConfigError(
                "detection.model: detection.method 'yolo_obb' needs a model, and none is set.",
                "set detection.model to your trained YOLO-OBB .pt file.",
            )
        _exists(model, "detection.model", "model file", "fix the path to your .pt file.")
    pose = config.get("pose") or {}
    if pose.get("method") in ("yolo_pose", "sleap"):
        models = pose.get("models") or []
        if not models:
            raise ConfigError(
                f"pose.models: pose.method '{pose['method']}' needs at least one model.",
                "list your model file (YOLO-pose .pt) or SLEAP model folder(s) under pose.models.",
            )
        for index, model in enumerate(models):
            _exists(
                model,
                f"pose.models[{index}]",
                "model",
                "fix the path to the model file or SLEAP model folder.",
                folder_ok=pose["method"] == "sleap",
            )
        if pose["method"] == "sleap":
            # Folders, their types, the pairing and the environment, before any job.
            from .sleap.env import resolve_env
            from .sleap.models import resolve_pipeline

            resolve_pipeline(list(models), detection.get("method", "none"))
            resolve_env(pose.get("env"))


def check_stage_combination(config: dict) -> None:
    """Stages that need each other are enabled together."""
    detection = (config.get("detection") or {}).get("method")
    pose = config.get("pose") or {}
    if pose.get("method") == "yolo_pose":
        if len(pose.get("models") or []) > 1:
            raise ConfigError(
                f"pose.models: pose.method 'yolo_pose' takes one model, got {len(pose['models'])}.",
                "list only your YOLO-pose .pt file.",
            )
        mode = pose.get("mode", "crops")
        if mode == "crops" and detection == "none":
            raise ConfigError(
                "pose.mode: 'crops' runs the pose model on crops around detections, but "
                "detection.method is 'none'.",
                "set detection.method (yolo_obb or background), or pose.mode: frames to let the "
                "pose model find the animals on whole frames.",
            )
        if mode == "frames" and detection != "none":
            raise ConfigError(
                f"pose.mode: 'frames' lets the pose model find the animals, but detection.method "
                f"is '{detection}' too.",
                "set detection.method: none, or pose.mode: crops to run pose on the detections.",
            )


def check_config(config: dict, sample_sheet=None) -> list[VideoEntry]:
    """Check a schema-validated config; return its videos. Raises :class:`ConfigError`.

    ``sample_sheet`` is the sheet already read (and schema-validated) by the caller, when the
    config names one.
    """
    # The runtime comes first: a config is judged on its runtime before anything else.
    stages = runtimes.enabled_model_stages(config)
    runtimes.validate_runtime(config.get("runtime"), stages)
    check_numbers(config)
    results = Path("results") / str(config.get("experiment"))
    check_folders(
        {
            str(results / "logs"): "experiment (results/<experiment>/)",
            str(results / "benchmarks"): "experiment (results/<experiment>/)",
            **({str(config["export_dir"]): "export_dir"} if config.get("export_dir") else {}),
        }
    )

    check_models(config)
    check_stage_combination(config)

    has_list = bool(config.get("videos"))
    has_sheet = bool(config.get("sample_sheet"))
    if has_list == has_sheet:
        raise ConfigError(
            "videos: give the videos either as a `videos:` list or as a `sample_sheet:` TSV, "
            + ("not both." if has_list else "(neither is set)."),
            "keep exactly one of `videos` and `sample_sheet` in your config.",
        )
    detection = config.get("detection") or {}
    track_only = (
        detection.get("method") == "none" and (config.get("pose") or {}).get("method") == "none"
    )
    if has_list:
        records = [dict(record) for record in config["videos"]]
        where, base = "videos", None
    else:
        sheet_path = config["sample_sheet"]
        records = sample_sheet.to_dict("records")
        where, base = f"sample_sheet {sheet_path}", Path(sheet_path).parent
    chunk_frames = config.get("chunk_frames")
    if chunk_frames is not None and (isinstance(chunk_frames, bool) or chunk_frames < 1):
        raise ConfigError(
            f"chunk_frames: {chunk_frames!r} frames per chunk; a chunk needs at least 1 frame.",
            "give a positive number of frames per chunk (e.g. 18000), or null to run every "
            "video as one job.",
        )
    entries = [
        _entry_from(record, index, where, base, track_only, chunk_frames)
        for index, record in enumerate(records)
    ]

    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if entry.id in seen:
            raise ConfigError(
                f"video id '{entry.id}' is used twice (entries {seen[entry.id] + 1} and "
                f"{index + 1} of {entry.source}); ids name the result folders.",
                "give every video a unique id.",
            )
        seen[entry.id] = index
        if entry.proofread is not None:
            _outside_results(entry, results / entry.id)

    return entries


def _outside_results(entry: VideoEntry, folder: Path) -> None:
    """The proofread input is not among what the run writes for the video (its tracks.slp or
    xanylabeling/ folder): the track job that reads it would remake it."""
    proofread, written = Path(entry.proofread).resolve(), folder.resolve()
    if proofread == written or written in proofread.parents:
        raise ConfigError(
            f"{entry.source} (id {entry.id}).proofread: {entry.proofread} is inside "
            f"{folder}/, which this run writes (the track job would remake what it reads).",
            "copy the corrected file or folder out of results/ and name the copy.",
        )
