"""Rule batch_summary: the report's batch pages, a table of every video (frames, animals,
tracks, scores, evaluation) and each rule's runtime and memory from the benchmark files."""

from pathlib import Path

from snakeherd.report import VideoFolder, write_batch_pages
from snakeherd.scripting import logger, run_rule


def main(smk):
    pages = Path(smk.output.summary).parent  # results/<experiment>/report
    videos = [
        VideoFolder(video["video_id"], pages.parent / video["video_id"], video["evaluated"])
        for video in smk.params.videos
    ]
    table = write_batch_pages(videos, smk.params.benchmarks, pages)
    logger.info("batch summary:\n%s", table.to_string(index=False))


run_rule(main, snakemake)  # noqa: F821
