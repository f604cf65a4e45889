"""Rule join_chunks: a chunked video's chunk tables joined in frame order into the table an
unsplit run writes, checked frame by frame (snakeherd.chunks.join)."""

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
    tables = [io.read_table(path, table_name) for path in paths]
    joined = chunks.join(tables, planned, selection, names=paths)
    summary = chunks.joined_summary(summaries, selection)
    io.write_table(joined, smk.output[0], table_name, summary)
    logger.info("%d %s rows from %d chunks", len(joined), table_name, len(paths))


run_rule(main, snakemake)  # noqa: F821
