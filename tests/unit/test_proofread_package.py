"""The SLEAP side of proofreading, on the real fly clip: tracks.slp carries the suspect frames as
labelling suggestions, and proofread.pkg.slp holds those frames' images with the predictions."""

from __future__ import annotations

import numpy as np
import pytest
import sleap_io

from snakeherd import slp
from snakeherd.proofreading.package import write_package
from snakeherd.proofreading.suspects import SuspectParams, VideoContext, body_length, find
from tests.support.proofreading import FLY_TRACKS, fly_tracks, inject_random_errors

VIDEO = "tracking/centered_pair_low_quality.mp4"


@pytest.fixture(scope="module")
def tracks_slp(shared_data, tmp_path_factory):
    """tracks.slp of the fly tracks with injected errors, suggestions at their suspect frames."""
    clean, detections = fly_tracks(shared_data / FLY_TRACKS)
    tracks, _ = inject_random_errors(clean, seed=0)
    context = VideoContext(np.arange(1100), body_length(detections), 2, (384, 384))
    suspects = find(tracks, context, SuspectParams(), "flies")
    nodes = [c[: -len(".x")] for c in tracks.columns if c.endswith(".x")]
    path = tmp_path_factory.mktemp("proofreading") / "tracks.slp"
    slp.write_tracks(
        tracks,
        str(path),
        video_path=str(shared_data / VIDEO),
        nodes=nodes,
        n_frames=1100,
        suggestions=suspects["frame"].tolist(),
    )
    return path, sorted(set(suspects["frame"])), tracks


def test_tracks_slp_lists_the_suspect_frames_as_suggestions(tracks_slp):
    path, frames, tracks = tracks_slp
    labels = sleap_io.load_slp(str(path), open_videos=False)
    assert [int(s.frame_idx) for s in labels.suggestions] == frames
    assert all(s.video is labels.videos[0] for s in labels.suggestions)
    assert len(labels.labeled_frames) == tracks["frame"].nunique()  # every prediction kept


def test_the_package_opens_with_its_images_predictions_and_suggestions(
    tracks_slp, shared_data, tmp_path
):
    path, frames, tracks = tracks_slp
    package = tmp_path / "proofread.pkg.slp"
    assert write_package(str(path), str(shared_data / VIDEO), str(package)) == len(frames)
    labels = sleap_io.load_slp(str(package))
    (video,) = labels.videos
    assert type(video.backend).__name__ == "HDF5Video" and video.filename == str(package)
    assert sorted(int(s.frame_idx) for s in labels.suggestions) == frames
    assert sorted(int(f.frame_idx) for f in labels.labeled_frames) == frames
    source = sleap_io.Video.from_filename(str(shared_data / VIDEO))
    try:
        for labeled in labels.labeled_frames[:3]:
            image = labeled.image
            assert image.shape[:2] == (384, 384)
            original = source[int(labeled.frame_idx)]
            # PNG is lossless: the embedded image is the decoded frame.
            assert np.array_equal(image[..., 0], original[..., 0])
            rows = tracks[tracks["frame"] == labeled.frame_idx]
            assert len(labeled.instances) == len(rows)
            assert {i.track.name for i in labeled.instances} == {
                f"track_{t}" for t in rows["track_id"]
            }
            assert labeled.instances[0].numpy().shape == (24, 2)
    finally:
        source.close()


def test_without_the_video_the_package_holds_predictions_and_suggestions(tracks_slp, tmp_path):
    path, frames, _ = tracks_slp
    package = tmp_path / "p.pkg.slp"
    assert write_package(str(path), str(tmp_path / "missing.mp4"), str(package)) == 0
    labels = sleap_io.load_slp(str(package), open_videos=False)
    assert sorted(int(s.frame_idx) for s in labels.suggestions) == frames
    assert sorted(int(f.frame_idx) for f in labels.labeled_frames) == frames
    assert labels.videos[0].filename.endswith("centered_pair_low_quality.mp4")
