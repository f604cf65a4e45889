"""The generated demo scene: seeded, inside the arena, with crossings."""

from __future__ import annotations

import numpy as np

from snakeherd.synthetic import SceneSpec, count_crossings, simulate, write_video


def test_same_seed_same_scene_and_video(tmp_path):
    spec = SceneSpec(n_animals=5, n_frames=40, width=200, height=200, seed=3)
    first, second = simulate(spec), simulate(spec)
    assert first.equals(second)
    write_video(spec, first, str(tmp_path / "a.mp4"))
    write_video(spec, second, str(tmp_path / "b.mp4"))
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()
    other = simulate(SceneSpec(n_animals=5, n_frames=40, width=200, height=200, seed=4))
    assert not np.allclose(first["x"], other["x"])


def test_animals_stay_on_the_floor_and_move():
    spec = SceneSpec(seed=1)
    truth = simulate(spec)
    radius = min(spec.width, spec.height) / 2
    distance = np.hypot(truth["x"] - spec.width / 2, truth["y"] - spec.height / 2)
    assert (distance + truth["length"] / 2 <= radius).all()
    steps = truth.sort_values(["track_id", "frame"]).groupby("track_id")[["x", "y"]].diff()
    speed = np.hypot(steps["x"], steps["y"]).dropna()
    assert 0.5 < speed.mean() < 5 and speed.max() < 10
    assert ((truth["angle"] >= 0) & (truth["angle"] < np.pi)).all()


def test_default_demo_scene_has_crossings():
    for seed in (1, 2):
        assert count_crossings(simulate(SceneSpec(seed=seed))) >= 5
