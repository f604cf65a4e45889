"""Per-video plots: same tables, same bytes; empty tables still give every plot."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from snakeherd import plots, ranks
from snakeherd.synthetic import SceneSpec, simulate

SCENE = SceneSpec(n_animals=3, n_frames=40, width=128, height=96, seed=2, body_length=16)


def tables():
    truth = simulate(SCENE)
    detections = truth.assign(det_id=truth["track_id"], w=10.0, h=4.0, score=0.9)
    tracks = truth.assign(det_id=truth["track_id"], interpolated=truth["frame"] % 7 == 0)
    poses = detections[["frame", "det_id"]].assign(node="head", x=1.0, y=2.0, score=0.5)
    return detections, tracks, poses


def draw_all(folder, detections, tracks, poses, frames):
    background = np.full((SCENE.height, SCENE.width), 128, np.uint8)
    plots.trajectories(tracks, background, (SCENE.width, SCENE.height), folder / "t.png")
    plots.timeline(tracks, frames, folder / "l.png")
    plots.animal_counts(detections, tracks, frames, 3, folder / "c.png")
    plots.score_distributions(detections, poses, folder / "s.png")
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.png"))}


def test_plots_are_byte_identical_across_runs(tmp_path):
    detections, tracks, poses = tables()
    frames = np.r_[0:20, 30:40]  # a gap: frames the run skipped
    keep = np.isin(tracks["frame"], frames)
    first = draw_all(tmp_path / "a", detections[keep], tracks[keep], poses, frames)
    second = draw_all(tmp_path / "b", detections[keep], tracks[keep], poses, frames)
    assert len(first) == 4 and first == second
    for content in first.values():
        assert content.startswith(b"\x89PNG") and b"Software" not in content


def test_a_video_without_detections_still_gets_every_plot(tmp_path):
    detections, tracks, _ = tables()
    frames = np.arange(10)
    drawn = draw_all(tmp_path, detections.iloc[:0], tracks.iloc[:0], None, frames)
    assert len(drawn) == 4


def test_runs_and_paths_split_where_frames_are_missing():
    tracks = pd.DataFrame(
        {"frame": [0, 1, 2, 4, 10, 11], "track_id": 3, "interpolated": [0, 0, 1, 1, 1, 1]}
    )
    firsts, lengths, interpolated = plots._track_runs(lambda: [tracks])[3]
    assert firsts.tolist() == [0, 2, 4, 10] and lengths.tolist() == [2, 1, 1, 2]
    assert interpolated.tolist() == [False, True, True, True]
    x, _ = plots._broken_at_gaps(np.array([3, 4, 10]), np.array([1.0, 2.0, 3.0]), np.zeros(3))
    np.testing.assert_array_equal(np.isnan(x), [False, False, True, False])


def test_tracks_are_drawn_from_their_rows_by_frame_whatever_the_tables_order():
    tracks = pd.DataFrame(
        {"frame": [5, 1, 3, 1, 2], "track_id": [7, 7, 2, 2, 7], "x": [5.0, 1.0, 3.0, 1.5, 2.0]}
    )
    ordered = plots._in_frame_order(tracks)
    drawn = [(track, rows.tolist(), x.tolist()) for part in ordered()
             for track, rows, (x,) in plots._by_track(part, ["x"])]  # fmt: skip
    assert drawn == [(2, [1, 3], [1.5, 3.0]), (7, [1, 2, 5], [1.0, 2.0, 5.0])]
    assert plots._last_rows(ordered, ["x"]) == {2: (3.0,), 7: (5.0,)}
    assert plots._track_runs(lambda: [tracks.iloc[:0].assign(interpolated=0)]) == {}
    counts, rows = plots._per_frame(tracks, pd.Index([1, 2, 4, 5]))
    np.testing.assert_array_equal(counts, [2, 1, 0, 1])  # frame 3 was not processed
    assert rows == 5
    with pytest.raises(ValueError, match="sorted by frame"):
        list(plots._in_frame_order(lambda: [tracks])())


def test_plots_of_tracks_in_parts_are_the_plots_of_the_whole_table(tmp_path):
    """A long video's plots read its tables a batch at a time: the same runs, counts and
    errors, so the same bytes; the paths, drawn a part at a time from where the last part
    ended, differ only where two parts' strokes meet."""
    from matplotlib import image

    from snakeherd.evaluation import frame_errors

    detections, tracks, _ = tables()
    frames = np.r_[0:20, 30:40]
    keep = np.isin(tracks["frame"], frames)
    detections, tracks = detections[keep], tracks[keep].sort_values(["frame", "track_id"])
    cuts = [0, 7, 8, 40, 41, 42, 75, len(tracks)]  # parts of one row, cut inside a frame
    parts = [tracks.iloc[start:stop] for start, stop in itertools.pairwise(cuts)]
    detection_parts = [detections.iloc[:50], detections.iloc[50:]]
    truth = tracks[["frame", "track_id", "x", "y"]]
    background = np.full((SCENE.height, SCENE.width), 128, np.uint8)
    for name, given, detected in (
        ("whole", tracks, detections),
        ("parts", lambda: iter(parts), lambda: iter(detection_parts)),
    ):
        folder = tmp_path / name
        errors = frame_errors(given if name == "whole" else given(), truth, frames, 5)
        n_tracks = plots.trajectories(given, background, (SCENE.width, SCENE.height),
                                      folder / "t.png")  # fmt: skip
        assert n_tracks == 3
        plots.timeline(given, frames, folder / "l.png", errors)
        plots.animal_counts(detected, given, frames, 3, folder / "c.png")
    for name in ("l.png", "c.png"):
        assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "parts" / name).read_bytes()
    whole, in_parts = (image.imread(tmp_path / name / "t.png") for name in ("whole", "parts"))
    assert whole.shape == in_parts.shape
    differ = np.abs(whole - in_parts).max(axis=2) > 0.02
    assert 0 < differ.sum() < 0.001 * differ.size  # drawn (the paths are seen) and the same


def test_timeline_shows_the_errors_against_the_ground_truth(tmp_path):
    from snakeherd.evaluation import frame_errors

    _, tracks, _ = tables()
    truth = tracks[["frame", "track_id", "x", "y"]]
    swapped = tracks.assign(
        track_id=np.where(tracks["frame"] >= 20, 2 - tracks["track_id"], tracks["track_id"])
    )
    frames = np.arange(SCENE.n_frames)
    errors = frame_errors(swapped.iloc[5:], truth, frames, match_distance=5)
    assert errors["id_switches"].sum() == 2 and errors["misses"].sum() == 5
    assert errors.loc[errors["frame"] == 20, "id_switches"].item() == 2
    plots.timeline(swapped, frames, tmp_path / "timeline.png", errors)
    assert (tmp_path / "timeline.png").stat().st_size > 10_000


def test_timeline_marks_the_suspect_stretches(tmp_path):
    from matplotlib import colors, image

    from snakeherd.proofreading.suspects import SuspectParams, VideoContext, find

    _, tracks, _ = tables()
    frames = np.arange(SCENE.n_frames)
    tracks = tracks.assign(score=0.9)
    lost = tracks[~((tracks["track_id"] == 1) & tracks["frame"].between(10, 25))]
    suspects = find(lost, VideoContext(frames, 16.0, 3), SuspectParams())
    assert len(suspects) and (suspects["reason"] == "count").any()
    plots.timeline(lost, frames, tmp_path / "plain.png")
    plots.timeline(lost, frames, tmp_path / "marked.png", suspects=suspects)
    orange = np.array(colors.to_rgb(plots.SUSPECT_COLOR))

    def orange_pixels(path):
        pixels = image.imread(path)[..., :3]
        # The band is orange at alpha 0.3 over the white background.
        band = 1 - 0.3 * (1 - orange)
        return int((np.abs(pixels - band).max(axis=2) < 0.03).sum())

    assert orange_pixels(tmp_path / "plain.png") == 0
    assert orange_pixels(tmp_path / "marked.png") > 1000


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(0).random(1001),  # an odd count
        np.random.default_rng(1).random(1000),  # an even one: the mean of the middle two
        np.r_[np.full(500, 0.5), np.full(500, 1.0)],  # the middle two far apart, many equal
        np.r_[np.full(300, 0.2), np.random.default_rng(2).random(10), np.full(600, 0.9)],
        np.random.default_rng(3).normal(0, 5, 999),  # scores outside 0..1: bins of their range
        np.r_[np.random.default_rng(4).random(400), [np.nan] * 30],  # missing scores left out
        np.full(7, 3.0),
        np.zeros(0),
    ],
)
def test_a_score_histogram_read_in_parts_is_numpys_histogram_and_median(values, monkeypatch):
    """A long video's keypoint scores are read a batch at a time, several times over: the
    counts, edges and median are those of all the scores at once (the median's search here
    made to narrow its range several times before it holds any values)."""
    monkeypatch.setattr(ranks, "HELD_VALUES", 50)
    monkeypatch.setattr(ranks, "MEDIAN_BINS", 4)
    parts = [values[start : start + 37] for start in range(0, len(values), 37)]
    summary = plots.ScoreHistogram.of(lambda: iter(parts))
    scores = values[np.isfinite(values)]
    inside = len(scores) == 0 or (scores.min() >= 0 and scores.max() <= 1)
    counts, edges = np.histogram(scores, bins=np.linspace(0, 1, 41) if inside else 40)
    np.testing.assert_array_equal(summary.counts, counts)
    np.testing.assert_array_equal(summary.edges, edges)
    assert summary.n == len(scores)
    if len(scores):
        assert summary.median == np.median(scores)
    else:
        assert np.isnan(summary.median)


def test_a_long_step_series_is_drawn_from_its_pixel_columns_and_looks_the_same(tmp_path):
    """110,000 frames of animal counts: the figure holds at most four points per column, and
    the picture is the full step line's but for the antialiased edges of a few strokes."""
    from matplotlib import image

    rng = np.random.default_rng(0)
    frames = np.arange(110_000)
    frames = frames[frames % 20_000 < 18_000]  # frames the run skipped
    counts = np.full(len(frames), 2)
    for start in rng.integers(0, len(frames), 300):  # animals lost or doubled a while
        counts[start : start + rng.integers(1, 40)] += rng.choice([-1, 1, -2])
    pixels = {}
    for reduced in (True, False):
        with plots._figure(tmp_path / f"{reduced}.png", 3.2) as (_, axes):
            if reduced:
                plots._step(axes, frames, counts, color="tab:blue")
                (line,) = axes.get_lines()
                assert len(line.get_xdata()) <= plots.STEP_POINTS < len(frames)
            else:
                axes.step(frames, counts, where="mid", color="tab:blue")
        pixels[reduced] = image.imread(tmp_path / f"{reduced}.png")
    differ = np.abs(pixels[True] - pixels[False]).max(axis=2) > 0.3
    assert differ.sum() < 0.005 * differ.size


def whole_step_columns(x, y):
    """Each pixel column's first, lowest, highest and last step vertex, all vertices at once:
    the oracle of the reduction a chunk at a time."""
    middle = (x[1:] + x[:-1]) / 2
    step_x = np.concatenate([[x[0]], np.repeat(middle, 2), [x[-1]]])
    step_y = np.repeat(y, 2)
    column = ((step_x - x[0]) / (x[-1] - x[0]) * plots.STEP_COLUMNS).astype(np.int64)
    column = np.minimum(column, plots.STEP_COLUMNS - 1)
    starts = np.flatnonzero(np.r_[True, column[1:] != column[:-1]])
    stops = np.r_[starts[1:], len(column)] - 1
    lowest = np.lexsort((step_y, column))[starts]
    highest = np.lexsort((-step_y, column))[starts]
    kept = np.unique(np.concatenate([starts, stops, lowest, highest]))
    return step_x[kept], step_y[kept]


@pytest.mark.parametrize("chunk", [7, 1000, 1 << 16])
@pytest.mark.parametrize("seed", range(3))
def test_step_columns_found_a_chunk_at_a_time_are_those_of_all_vertices(seed, chunk, monkeypatch):
    """Columns over chunks, ties within a column (counts), frames skipped, fewer frames than
    columns' vertices and many more."""
    monkeypatch.setattr(plots, "STEP_CHUNK", chunk)
    rng = np.random.default_rng(seed)
    frames = np.sort(rng.choice(50_000, [900, 9_000, 30_000][seed], replace=False)).astype(float)
    counts = rng.integers(0, 4, len(frames)).astype(float)
    got, expected = plots._step_columns(frames, counts), whole_step_columns(frames, counts)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
