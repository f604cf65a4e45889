"""Rule join_chunks: a chunked video's chunk tables joined in frame order into the table an
unsplit run writes, checked frame by frame, one chunk in memory at a time
(snakeherd.chunks.join_files)."""

from snakeherd import chunks, io
from snakeherd.scripting import logger, run_rule
from snakeherd.video import FrameSelection


def main(smk):
    table_name = smk.wildcards.table
    paths = list(smk.input.chunks)
    planned = [FrameSelection.parse(text) for text in smk.params.plan["chunks"]]
    summaries = [io.read_metadata(path)["stage"] for path in paths]
    for path, chunk, summary in zip(paths, planned, summaries, strict=True):
        if summary.get("chunk") != str(chunk):
            raise chunks.ChunkError(
                f"{path} was made for the frames {summary.get('chunk')}, and the chunk is now "
                f"{chunk}: the video or chunk_frames changed since; rerun with "
                "`--rerun-triggers mtime params` or delete the chunks folder"
            )
    selection = FrameSelection.parse(smk.params.plan["selection"])
    summary = chunks.joined_summary(summaries, selection)
    rows = chunks.join_files(paths, planned, selection, table_name, smk.output[0], summary)
    logger.info("%d %s rows from %d chunks", rows, table_name, len(paths))


run_rule(main, snakemake)  # noqa: F821
