"""sleap-nn's own tracker on an existing .slp — the reference our tracker is compared with.

Runs inside the SLEAP environment (``.venv-sleap/bin/python``), never in the main one:

    .venv-sleap/bin/python tests/support/sleap_retrack.py IN.slp OUT.slp [--max-tracks N]
        [--candidates fixed_window|local_queues] [--window 5]

Tracks already in IN.slp are removed first; the instances are tracked with
``Predictor.retrack`` (sleap-nn's classic tracker: OKS on keypoints, Hungarian matching) and
saved to OUT.slp. Prints one JSON line: the tracking time in seconds and the instance count.
"""

import argparse
import json
import time

import sleap_io as sio
from sleap_nn.inference.predictor import Predictor
from sleap_nn.inference.tracking import TrackerConfig


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("output")
    parser.add_argument("--max-tracks", type=int, default=None)
    parser.add_argument("--candidates", default="fixed_window")
    parser.add_argument("--window", type=int, default=5)
    args = parser.parse_args()

    labels = sio.load_slp(args.source, open_videos=False)
    instances = 0
    for frame in labels.labeled_frames:
        for instance in frame.instances:
            instance.track = None
            instances += 1
    labels.tracks = []
    config = TrackerConfig(
        candidates_method=args.candidates, window_size=args.window, max_tracks=args.max_tracks
    )
    start = time.perf_counter()
    tracked = Predictor.retrack(labels, config)
    seconds = time.perf_counter() - start
    sio.save_slp(tracked, args.output, verbose=False)
    print(json.dumps({"seconds": seconds, "instances": instances}))


if __name__ == "__main__":
    main()
