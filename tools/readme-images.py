"""The README's pictures of the demo: one frame of an overlay video and the report's batch page,
made from a finished `make demo` (never drawn by hand).

    make demo && .venv/bin/python tools/readme-images.py   # writes docs/images/*.png

Needs headless Chromium (Debian's chromium and chromium-driver packages) for the report.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.browser import ReportPage, missing_browser  # noqa: E402
from tests.support.overlays import read_frames  # noqa: E402

FRAME = 120  # a frame where the arena's animals have trails behind them


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=REPO / "results" / "demo")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    args = parser.parse_args()
    import cv2

    overlay = args.results / "arena_a" / "overlay.mp4"
    report = args.results / "report.html"
    for path in (overlay, report):
        if not path.is_file():
            sys.exit(f"{path} not found: run `make demo` first")
    if reason := missing_browser():
        sys.exit(reason)
    args.out.mkdir(parents=True, exist_ok=True)
    frame = read_frames(overlay, [FRAME])[FRAME]
    cv2.imwrite(str(args.out / "overlay-frame.png"), frame)
    with ReportPage(report) as page:
        page.click_text("Batch")
        page.view("batch table")
        page.shown_table()
        page.screenshot(args.out / "report-batch.png")
        page.click_text("Results")
        page.click_text("Videos")
        page.click_text("arena_a")
        page.view("track timeline")
        page.shown_image_size()
        page.screenshot(args.out / "report-video.png")
    print(f"written: {', '.join(sorted(p.name for p in args.out.glob('*.png')))} in {args.out}")


if __name__ == "__main__":
    main()
